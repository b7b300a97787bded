//! A small multipart/form-data reader for eBOK uploads (a reading with its photo, an
//! application with attachments). The body is read whole up to a limit (the attachment store
//! checks each file's own limit and type), then split at the boundary; text parts become
//! fields, parts with a filename become files.

use crate::error::AppError;
use axum::body::Body;
use axum::http::{header, HeaderMap};

/// The body limit of an upload: a few attachments of the store's limit plus the text fields.
pub const BODY_LIMIT: usize =
    3 * crate::store::attachment::AttachmentStore::DEFAULT_MAX_BYTES + 64 * 1024;

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// The parsed form: text fields in order and files (empty file inputs are left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Multipart {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FilePart>,
}

impl Multipart {
    /// The first value of a text field ("" when absent).
    pub fn text(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Reads a request body; a body that is not multipart reads as an empty form (the handler
    /// then answers with its field messages), one over [`BODY_LIMIT`] is 413.
    pub async fn read(headers: &HeaderMap, body: Body) -> Result<Multipart, AppError> {
        let bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(boundary_of);
        Ok(match boundary {
            Some(b) => parse(&bytes, &b),
            None => Multipart::default(),
        })
    }
}

fn boundary_of(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits the body at `--boundary`; a malformed part is skipped (its field then reads as
/// missing and gets its message), never a panic.
pub fn parse(body: &[u8], boundary: &str) -> Multipart {
    let delim = format!("--{boundary}").into_bytes();
    let mut out = Multipart::default();
    let mut pos = match find(body, &delim, 0) {
        Some(p) => p + delim.len(),
        None => return out,
    };
    while let Some(next) = find(body, &delim, pos) {
        // A part runs from after the delimiter's CRLF to the CRLF before the next delimiter.
        let part = &body[pos..next];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        add_part(&mut out, part);
        pos = next + delim.len();
        if body[pos..].starts_with(b"--") {
            break;
        }
    }
    out
}

fn add_part(out: &mut Multipart, part: &[u8]) {
    let Some(split) = find(part, b"\r\n\r\n", 0) else {
        return;
    };
    let head = String::from_utf8_lossy(&part[..split]);
    let content = &part[split + 4..];
    let mut name = None;
    let mut filename = None;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        for p in v.split(';').skip(1) {
            if let Some((pk, pv)) = p.trim().split_once('=') {
                let pv = pv.trim().trim_matches('"').to_string();
                match pk.trim() {
                    "name" => name = Some(pv),
                    "filename" => filename = Some(pv),
                    _ => {}
                }
            }
        }
    }
    let Some(field) = name else { return };
    match filename {
        Some(filename) if !(filename.is_empty() && content.is_empty()) => {
            out.files.push(FilePart {
                field,
                filename,
                bytes: content.to_vec(),
            })
        }
        Some(_) => {}
        None => out
            .fields
            .push((field, String::from_utf8_lossy(content).into_owned())),
    }
}

/// The message (fluent id) of the attachment store's refusal code.
pub fn file_error(code: &str) -> &'static str {
    match code {
        "too_large" => "upload-err-too-large",
        "type" => "upload-err-type",
        "required" => "upload-err-empty",
        _ => "upload-err-not-yours",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_are_split_at_the_boundary() {
        let body = b"--XY\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\n12,5\r\n--XY\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--XY\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n\r\n--XY--\r\n";
        let m = parse(body, "XY");
        assert_eq!(m.fields, [("value".to_string(), "12,5".to_string())]);
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].filename, "a.png");
        assert_eq!(m.files[0].bytes, b"\x89PNG\r\n");
        assert_eq!(
            boundary_of("multipart/form-data; boundary=\"XY\"").as_deref(),
            Some("XY")
        );
        assert_eq!(boundary_of("application/x-www-form-urlencoded"), None);
    }
}
