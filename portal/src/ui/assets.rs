//! Assets embedded in the binary (CSS, vendored htmx), served with an ETag and a day's cache:
//! a changed asset gets a new ETag, so a browser revalidates at most daily.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// htmx, vendored from npm `htmx.org@2.0.11` (dist/htmx.min.js, 0BSD), pinned by file name.
pub const HTMX: &str = "htmx-2.0.11.min.js";

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ewoda.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ewoda.css"),
    ),
    (
        HTMX,
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx-2.0.11.min.js"),
    ),
    (
        "ewoda.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ewoda.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icon.svg"),
    ),
];

/// The service worker, served from the root (`/sw.js`) so that its scope is the whole site.
pub const SERVICE_WORKER: &[u8] = include_bytes!("../../assets/sw.js");

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = etag(body);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, "public, max-age=86400".to_string()),
            (header::ETAG, etag),
        ],
        *body,
    )
        .into_response()
}

fn etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..8]))
}
