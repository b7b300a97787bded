//! Meter AES keys at rest: sealed with AES-256-GCM under the master key from configuration
//! (`EWODA_MASTER_KEY`). A sealed key is nonce (12) ‖ ciphertext (16) ‖ tag (16) = 44 bytes.

use crate::Error;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

/// The master key. Never logged; `Debug` prints nothing of it.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

pub const SEALED_KEY_LEN: usize = 44;

impl MasterKey {
    /// Parses 64 hex digits.
    pub fn from_hex(hex_key: &str) -> Result<Self, Error> {
        let bytes = hex::decode(hex_key.trim()).map_err(|e| Error::Config {
            variable: "EWODA_MASTER_KEY",
            message: format!("must be 64 hex digits: {e}"),
        })?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| Error::Config {
            variable: "EWODA_MASTER_KEY",
            message: format!("must be 32 bytes (64 hex digits), got {}", b.len()),
        })?;
        Ok(MasterKey(Aes256Gcm::new(&key.into())))
    }

    /// Seals a 16-byte meter key; `nonce` must never repeat under one master key (callers
    /// draw it from the OS or, for the deterministic demo seed, from a per-meter counter).
    pub fn seal(&self, meter_key: &[u8; 16], nonce: [u8; 12]) -> Vec<u8> {
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), meter_key.as_slice())
            .expect("AES-GCM encryption of 16 bytes cannot fail");
        let mut out = Vec::with_capacity(SEALED_KEY_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a sealed key; a wrong master key or altered bytes give an error, never a key.
    pub fn open(&self, sealed: &[u8]) -> Result<[u8; 16], Error> {
        if sealed.len() != SEALED_KEY_LEN {
            return Err(Error::Crypto(format!(
                "sealed key is {} bytes, expected {SEALED_KEY_LEN}",
                sealed.len()
            )));
        }
        let (nonce, ct) = sealed.split_at(12);
        let pt = self
            .0
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| Error::Crypto("wrong master key or corrupted key".into()))?;
        pt.try_into()
            .map_err(|_| Error::Crypto("sealed key is not 16 bytes".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_wrong_key() {
        let mk = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let key = *b"0123456789abcdef";
        let sealed = mk.seal(&key, [7; 12]);
        assert_eq!(sealed.len(), SEALED_KEY_LEN);
        assert_eq!(mk.open(&sealed).unwrap(), key);
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(mk.open(&tampered).is_err());
        assert!(MasterKey::from_hex("abcd").is_err());
    }
}
