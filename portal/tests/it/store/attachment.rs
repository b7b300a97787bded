//! Attachments: type sniffed from the bytes, size limit, files in the data dir under random
//! names with the path and metadata in `attachment`, and reads scoped to the customer.

use super::{refused, two};
use ewoda_portal::store::attachment::{self, AttachmentKind, AttachmentStore};
use sqlx::PgPool;
use std::path::PathBuf;

/// A fresh directory under the system temp dir (removed by the test).
pub async fn scratch_dir(pool: &PgPool) -> PathBuf {
    let name: String = sqlx::query_scalar("select gen_random_uuid()::text")
        .fetch_one(pool)
        .await
        .unwrap();
    std::env::temp_dir().join(format!("ewoda-attachments-{name}"))
}

pub const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0];

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn uploads_are_sniffed_limited_stored_as_files_and_scoped(pool: PgPool) {
    let (a, b, _) = two(&pool).await;
    let dir = scratch_dir(&pool).await;
    let store = AttachmentStore::new(&dir, 64);
    let info = attachment::save(
        &pool,
        &store,
        a,
        AttachmentKind::Photo,
        "../licznik.png",
        JPEG,
    )
    .await
    .unwrap();
    // The client called it .png; the bytes say JPEG.
    assert_eq!(
        (
            info.content_type.as_str(),
            info.filename.as_str(),
            info.size_bytes
        ),
        ("image/jpeg", "licznik.png", 11)
    );
    let (path, data, sha): (String, Option<Vec<u8>>, String) = sqlx::query_as(
        "select storage_path, data, sha256 from attachment where attachment_id = $1",
    )
    .bind(info.attachment_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(data.is_none(), "bytes are not kept in the database");
    assert_eq!(sha.len(), 64);
    assert!(
        !path.contains("licznik"),
        "a random name, not the client's: {path}"
    );
    assert_eq!(std::fs::read(dir.join(&path)).unwrap(), JPEG);

    let mut conn = pool.acquire().await.unwrap();
    let (meta, bytes) = attachment::open(&mut conn, &store, a, info.attachment_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (meta.attachment_id, bytes.as_slice()),
        (info.attachment_id, JPEG)
    );
    assert!(attachment::open(&mut conn, &store, b, info.attachment_id)
        .await
        .unwrap()
        .is_none());
    assert!(attachment::get(&mut conn, b, info.attachment_id)
        .await
        .unwrap()
        .is_none());

    let html = b"<html><script>alert(1)</script></html>";
    assert_eq!(
        refused(
            attachment::save(&pool, &store, a, AttachmentKind::Attachment, "x.pdf", html).await
        ),
        [("file".to_string(), "type")]
    );
    let big = [JPEG, &[0u8; 100][..]].concat();
    assert_eq!(
        refused(attachment::save(&pool, &store, a, AttachmentKind::Photo, "big.jpg", &big).await),
        [("file".to_string(), "too_large")]
    );
    assert_eq!(
        refused(attachment::save(&pool, &store, a, AttachmentKind::Photo, "e.jpg", b"").await),
        [("file".to_string(), "required")]
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from attachment")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let files = walk(&dir);
    assert_eq!(files, 1, "refused uploads leave no file");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                1
            }
        })
        .sum()
}
