//! The maildir fallback: one file per mail, and reading them back for `/office/mail`.

use super::{Mail, Mailer};
use crate::error::AppError;
use base64::Engine;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

/// Writes each mail into `<dir>/new/` (via `<dir>/tmp/`, so a reader never sees half a file).
pub struct MaildirMailer {
    dir: PathBuf,
}

impl MaildirMailer {
    pub fn new(dir: PathBuf) -> Self {
        MaildirMailer { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Mailer for MaildirMailer {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + Send + 'a>> {
        Box::pin(async move {
            let bytes = mail.message()?.formatted();
            let io =
                |what: &str, e: std::io::Error| AppError::Internal(format!("maildir {what}: {e}"));
            for sub in ["tmp", "new", "cur"] {
                tokio::fs::create_dir_all(self.dir.join(sub))
                    .await
                    .map_err(|e| io("create", e))?;
            }
            // Maildir names: time, a unique part, host; ours sort by time.
            let name = format!(
                "{}.{}.ewoda",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                &crate::auth::random_token()[..12]
            );
            let tmp = self.dir.join("tmp").join(&name);
            tokio::fs::write(&tmp, &bytes)
                .await
                .map_err(|e| io("write", e))?;
            tokio::fs::rename(&tmp, self.dir.join("new").join(&name))
                .await
                .map_err(|e| io("rename", e))?;
            tracing::info!(to = %mail.to, file = %name, "mail written to the maildir (no SMTP_URL)");
            Ok(())
        })
    }
}

/// A mail read back from the maildir.
#[derive(Debug, Clone)]
pub struct StoredMail {
    pub name: String,
    pub date: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The mails in `<dir>/new`, newest first.
pub fn list(dir: &Path) -> Result<Vec<StoredMail>, AppError> {
    let new = dir.join("new");
    let entries = match std::fs::read_dir(&new) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AppError::Internal(format!(
                "reading {}: {e}",
                new.display()
            )))
        }
    };
    let mut mails = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(m) = read(dir, &name)? {
            mails.push(m);
        }
    }
    mails.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(mails)
}

/// One mail by file name; `None` for a name that is not a mail of this maildir.
pub fn read(dir: &Path, name: &str) -> Result<Option<StoredMail>, AppError> {
    // A name is a plain file name of ours: no path, no dot-files.
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        return Ok(None);
    }
    let path = dir.join("new").join(name);
    let raw = match std::fs::read(&path) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AppError::Internal(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    Ok(Some(parse(name, &String::from_utf8_lossy(&raw))))
}

/// Headers (unfolded, RFC 2047 words decoded) and the 8-bit body.
pub fn parse(name: &str, raw: &str) -> StoredMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |key: &str| {
        unfolded
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(key).then(|| decode_words(v.trim()))
            })
            .unwrap_or_default()
    };
    let body = match header("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => String::from_utf8_lossy(&qp_decode(body)).into_owned(),
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_string(),
    };
    StoredMail {
        name: name.to_string(),
        date: header("Date"),
        to: header("To"),
        subject: header("Subject"),
        body,
    }
}

/// Quoted-printable body: `=XX` bytes and `=` soft line breaks.
fn qp_decode(body: &str) -> Vec<u8> {
    let joined = body.replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes `=?utf-8?b?…?=` / `=?utf-8?q?…?=` encoded words (what lettre writes for non-ASCII).
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("=?") {
        let Some(end) = rest[start + 2..].find("?=").map(|e| start + 2 + e) else {
            break;
        };
        let before = &rest[..start];
        if !before.trim().is_empty() || out.is_empty() {
            out.push_str(before);
        }
        let word = &rest[start + 2..end];
        let mut parts = word.splitn(3, '?');
        let (_charset, enc, text) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        let bytes = match enc.map(|e| e.to_ascii_lowercase()) {
            Some(e) if e == "b" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default(),
            Some(e) if e == "q" => q_decode(text),
            _ => word.as_bytes().to_vec(),
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn q_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'_', _) => out.push(b' '),
            (b'=', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    out
}
