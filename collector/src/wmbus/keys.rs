//! Where the decoder gets AES keys: per meter (manufacturer + id) or one key for everything.

use std::collections::HashMap;

/// Looks up the AES-128 key of a meter.
pub trait KeyLookup {
    /// The key for the meter with this manufacturer code ("APA") and printed id ("12345678").
    fn key(&self, manufacturer: &str, id: &str) -> Option<[u8; 16]>;
}

/// Keys by meter id (as printed, lower-case hex digits) — the manufacturer is not needed to
/// tell meters apart in practice, but `"MAN:id"` entries take precedence when present.
impl KeyLookup for HashMap<String, [u8; 16]> {
    fn key(&self, manufacturer: &str, id: &str) -> Option<[u8; 16]> {
        let mut full = String::with_capacity(12);
        full.push_str(manufacturer);
        full.push(':');
        full.push_str(id);
        self.get(&full).or_else(|| self.get(id)).copied()
    }
}

/// One key (or none) used for every meter, as `ewoda decode --key` does.
impl KeyLookup for Option<[u8; 16]> {
    fn key(&self, _manufacturer: &str, _id: &str) -> Option<[u8; 16]> {
        *self
    }
}

/// No keys at all.
pub struct NoKeys;

impl KeyLookup for NoKeys {
    fn key(&self, _manufacturer: &str, _id: &str) -> Option<[u8; 16]> {
        None
    }
}

/// Parses 32 hex digits (an AES-128 key) or 16 hex digits (a DES key for the legacy security
/// mode 2, stored in the first 8 bytes, the rest zero) into a key.
pub fn parse_key(hex_key: &str) -> Option<[u8; 16]> {
    let bytes = hex::decode(hex_key.trim()).ok()?;
    match bytes.len() {
        16 => bytes.try_into().ok(),
        8 => {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&bytes);
            Some(k)
        }
        _ => None,
    }
}
