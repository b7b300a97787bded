//! Keeping secrets out of logs and out of timing: `Debug` output shows [`REDACTED`] instead
//! of keys and passwords, URLs are printed with their password blanked, and signatures, MACs
//! and tokens are compared in constant time (a byte-by-byte `==` stops at the first
//! difference, which tells an attacker how much of a forged signature was right).

use subtle::ConstantTimeEq;

/// What `Debug` prints in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// [`ct_eq`] for hex digests where the sender may have used upper-case digits.
pub fn ct_eq_hex(sent: &str, expected: &str) -> bool {
    ct_eq(
        sent.to_ascii_lowercase().as_bytes(),
        expected.to_ascii_lowercase().as_bytes(),
    )
}

/// `url` with the password of its user info (`scheme://user:password@host`) replaced by
/// [`REDACTED`]; URLs without one come back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:{REDACTED}{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

/// `N` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], crate::Error> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(crate::Error::io("reading /dev/urandom"))?;
    Ok(bytes)
}

/// A generated or configured password: `Debug` prints [`REDACTED`], there is no `Display`,
/// and [`Password::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }

    /// 128 random bits as 32 hex digits (safe in URLs and config files unquoted).
    pub fn generate() -> Result<Self, crate::Error> {
        Ok(Password(hex::encode(random_bytes::<16>()?)))
    }

    /// The password itself, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Password({REDACTED})")
    }
}

/// A `Debug` stand-in for an optional secret: `Some([redacted])` or `None`.
pub fn redacted_opt<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_compares_whole_strings() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq_hex("ABcd", "abcd"));
        assert!(!ct_eq_hex("abce", "abcd"));
    }

    #[test]
    fn urls_lose_their_password_only() {
        assert_eq!(
            redact_url("postgres://ewoda:s3cret@db:5432/ewoda"),
            "postgres://ewoda:[redacted]@db:5432/ewoda"
        );
        assert_eq!(
            redact_url("smtps://mail%40x.pl:p@ss@smtp.x.pl"),
            "smtps://mail%40x.pl:[redacted]@smtp.x.pl"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("mqtt://h:1883/a@b"), "mqtt://h:1883/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
