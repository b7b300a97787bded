//! ewoda-portal: the axum web application (eBOK, office, console, API).

pub mod web;
