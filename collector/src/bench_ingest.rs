//! `ewoda bench ingest`: end-to-end ingest rate against the raw COPY rate of the same rows.
