//! Attachments (PDF, JPEG, PNG) uploaded by customers: the type is sniffed from the magic
//! bytes (the client's content type is ignored), the size is limited, and the file is written
//! outside the web root — in the data dir under a random name — while `attachment` keeps the
//! relative path, size, SHA-256 and original name. A row is only committed after its file is
//! durable; a failed insert removes the file again.

use super::StoreError;
use chrono::{DateTime, Utc};
use ewoda_common::scope::CustomerId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};
use std::path::{Path, PathBuf};

/// Where attachment files live and how large they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentStore {
    dir: PathBuf,
    max_bytes: usize,
}

impl AttachmentStore {
    /// The default limit: 10 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;

    /// Files under `dir` (e.g. `<data dir>/attachments`), at most `max_bytes` each.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: usize) -> Self {
        AttachmentStore {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// What an attachment is for (`attachment.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A file attached to an application.
    Attachment,
    /// A photo (of a meter dial, a failure).
    Photo,
}

impl AttachmentKind {
    fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Attachment => "attachment",
            AttachmentKind::Photo => "photo",
        }
    }
}

/// The content type the bytes really are, from their magic numbers; None for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// The client's file name without directories or control characters, at most 200 characters.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "plik".to_string()
    } else {
        clean
    }
}

/// A stored attachment's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// The attachment.
    pub attachment_id: i64,
    /// `attachment` or `photo`.
    pub kind: String,
    /// The original name (cleaned).
    pub filename: String,
    /// The sniffed type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The application it belongs to, once submitted.
    pub application_id: Option<i64>,
    /// Uploaded at.
    pub created_at: DateTime<Utc>,
}

fn check(store: &AttachmentStore, bytes: &[u8]) -> Result<&'static str, StoreError> {
    if bytes.is_empty() {
        return Err(StoreError::field("file", "required", "the file is empty"));
    }
    if bytes.len() > store.max_bytes {
        return Err(StoreError::field(
            "file",
            "too_large",
            format!(
                "{} bytes; at most {} bytes allowed",
                bytes.len(),
                store.max_bytes
            ),
        ));
    }
    sniff(bytes).ok_or_else(|| {
        StoreError::field("file", "type", "only PDF, JPEG and PNG files are accepted")
    })
}

async fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::File {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(io)?;
    tokio::io::AsyncWriteExt::write_all(&mut f, bytes)
        .await
        .map_err(io)?;
    f.sync_all().await.map_err(io)?;
    Ok(())
}

/// Stores an upload of the customer (not yet linked to an application). Refuses, naming
/// `file`, an empty file, one over the limit, or one that is not PDF, JPEG or PNG.
pub async fn save(
    pool: &PgPool,
    store: &AttachmentStore,
    customer: CustomerId,
    kind: AttachmentKind,
    filename: &str,
    bytes: &[u8],
) -> Result<AttachmentInfo, StoreError> {
    let content_type = check(store, bytes)?;
    let mut tx = pool.begin().await?;
    // A random name the client cannot choose or guess; two levels keep directories small.
    let name: String = sqlx::query_scalar("select replace(gen_random_uuid()::text, '-', '')")
        .fetch_one(&mut *tx)
        .await?;
    let relative = format!("{}/{}", &name[..2], name);
    let path = store.dir.join(&relative);
    write_file(&path, bytes).await?;
    let inserted = insert(
        &mut tx,
        customer,
        kind,
        filename,
        content_type,
        &relative,
        bytes,
    )
    .await;
    let committed = match inserted {
        Ok(info) => tx.commit().await.map(|_| info).map_err(StoreError::from),
        Err(e) => Err(e),
    };
    if committed.is_err() {
        // Nothing half-written: without its row the file must not stay behind.
        let _ = tokio::fs::remove_file(&path).await;
    }
    committed
}

async fn insert(
    conn: &mut PgConnection,
    customer: CustomerId,
    kind: AttachmentKind,
    filename: &str,
    content_type: &str,
    relative: &str,
    bytes: &[u8],
) -> Result<AttachmentInfo, StoreError> {
    let r = sqlx::query(
        "insert into attachment (customer_id, kind, filename, content_type, storage_path, size_bytes, sha256)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning attachment_id, kind, filename, content_type, size_bytes, application_id, created_at",
    )
    .bind(customer.get())
    .bind(kind.as_str())
    .bind(clean_filename(filename))
    .bind(content_type)
    .bind(relative)
    .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
    .bind(hex::encode(Sha256::digest(bytes)))
    .fetch_one(conn)
    .await?;
    info(&r)
}

fn info(r: &sqlx::postgres::PgRow) -> Result<AttachmentInfo, StoreError> {
    Ok(AttachmentInfo {
        attachment_id: r.try_get("attachment_id")?,
        kind: r.try_get("kind")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r
            .try_get::<Option<i64>, _>("size_bytes")?
            .unwrap_or_default(),
        application_id: r.try_get("application_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Deletes an upload of the customer that nothing uses yet (no application, no submitted
/// reading) with its file: the photo of a reading that was then refused. False when there
/// was no such unused upload of theirs.
pub async fn discard(
    pool: &PgPool,
    store: &AttachmentStore,
    customer: CustomerId,
    attachment_id: i64,
) -> Result<bool, StoreError> {
    let path: Option<Option<String>> = sqlx::query_scalar(
        "delete from attachment a
         where a.attachment_id = $1 and a.customer_id = $2 and a.application_id is null
           and not exists (select 1 from submitted_reading s where s.attachment_id = a.attachment_id)
         returning a.storage_path",
    )
    .bind(attachment_id)
    .bind(customer.get())
    .fetch_optional(pool)
    .await?;
    let Some(path) = path else {
        return Ok(false);
    };
    if let Some(rel) = path {
        let file = store.dir.join(rel);
        if let Err(source) = tokio::fs::remove_file(&file).await {
            if source.kind() != std::io::ErrorKind::NotFound {
                return Err(StoreError::File {
                    path: file.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(true)
}

/// Metadata of one of the customer's attachments; None when it is not theirs.
pub async fn get(
    conn: &mut PgConnection,
    customer: CustomerId,
    attachment_id: i64,
) -> Result<Option<AttachmentInfo>, StoreError> {
    let r = sqlx::query(
        "select attachment_id, kind, filename, content_type, size_bytes, application_id, created_at
         from attachment where attachment_id = $1 and customer_id = $2",
    )
    .bind(attachment_id)
    .bind(customer.get())
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(info).transpose()
}

/// The metadata and bytes of one of the customer's attachments; None when it is not theirs.
pub async fn open(
    conn: &mut PgConnection,
    store: &AttachmentStore,
    customer: CustomerId,
    attachment_id: i64,
) -> Result<Option<(AttachmentInfo, Vec<u8>)>, StoreError> {
    let Some(r) = sqlx::query(
        "select attachment_id, kind, filename, content_type, size_bytes, application_id, created_at,
                storage_path, data
         from attachment where attachment_id = $1 and customer_id = $2",
    )
    .bind(attachment_id)
    .bind(customer.get())
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let meta = info(&r)?;
    let bytes = match r.try_get::<Option<String>, _>("storage_path")? {
        Some(rel) => {
            let path = store.dir.join(rel);
            tokio::fs::read(&path)
                .await
                .map_err(|source| StoreError::File {
                    path: path.display().to_string(),
                    source,
                })?
        }
        // Rows from before files moved out of the database keep their bytes inline.
        None => r.try_get::<Option<Vec<u8>>, _>("data")?.unwrap_or_default(),
    };
    Ok(Some((meta, bytes)))
}

/// The customer's attachments of one application, oldest first.
pub async fn of_application(
    conn: &mut PgConnection,
    customer: CustomerId,
    application_id: i64,
) -> Result<Vec<AttachmentInfo>, StoreError> {
    let rows = sqlx::query(
        "select attachment_id, kind, filename, content_type, size_bytes, application_id, created_at
         from attachment where application_id = $1 and customer_id = $2
         order by attachment_id",
    )
    .bind(application_id)
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter().map(info).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes_and_cleans_names() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(
            clean_filename("C:\\Users\\x\\zdjęcie licznika.jpg"),
            "zdjęcie licznika.jpg"
        );
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename(".htaccess"), "htaccess");
        assert_eq!(clean_filename(""), "plik");
    }
}
