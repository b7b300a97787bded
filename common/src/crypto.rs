//! Meter AES keys at rest: sealed with AES-256-GCM under the master key from configuration
//! (`EWODA_MASTER_KEY`).
//!
//! A key sealed with [`MasterKey::seal_for`] is bound to its meter: format byte 2 ‖ nonce (12)
//! ‖ ciphertext (16) ‖ tag (16) = 45 bytes, with the meter's radio identity
//! (`manufacturer:radio id`, see [`meter_key_label`]) as AEAD associated data, so a sealed key
//! copied onto another meter's row does not open. The older unbound format (44 bytes, no
//! format byte, [`MasterKey::seal`]) still opens with [`MasterKey::open`] so the collector can
//! re-seal such keys when it loads them (SQL cannot: it has no master key).

use crate::Error;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// The master key. Never logged; `Debug` prints nothing of it.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Length of an unbound (old-format) sealed key.
pub const SEALED_KEY_LEN: usize = 44;
/// Length of a key sealed for its meter.
pub const BOUND_KEY_LEN: usize = 45;
/// First byte of a key sealed for its meter.
const BOUND_FORMAT: u8 = 2;

/// What a meter key is bound to: the radio identity the decoder looks keys up by, known
/// before the meter's row exists (upper-case hex id, as stored).
pub fn meter_key_label(manufacturer: &str, radio_id: &str) -> String {
    format!(
        "{}:{}",
        manufacturer.trim(),
        radio_id.trim().to_ascii_uppercase()
    )
}

fn associated_data(label: &str) -> Vec<u8> {
    let mut aad = b"ewoda meter key\0".to_vec();
    aad.extend_from_slice(label.as_bytes());
    aad
}

/// 12 random bytes from the OS, for [`MasterKey::seal_for`].
pub fn random_nonce() -> Result<[u8; 12], Error> {
    crate::secret::random_bytes::<12>()
}

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

    /// Seals a 16-byte meter key for the meter `label` ([`meter_key_label`]); `nonce` must
    /// never repeat under one master key.
    pub fn seal_for(&self, label: &str, meter_key: &[u8; 16], nonce: [u8; 12]) -> Vec<u8> {
        let aad = associated_data(label);
        let payload = Payload {
            msg: meter_key.as_slice(),
            aad: &aad,
        };
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption of 16 bytes cannot fail");
        let mut out = Vec::with_capacity(BOUND_KEY_LEN);
        out.push(BOUND_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a key sealed for the meter `label`; a key sealed for another meter, a wrong
    /// master key, altered bytes or the old unbound format give an error, never a key.
    pub fn open_for(&self, label: &str, sealed: &[u8]) -> Result<[u8; 16], Error> {
        if sealed.len() != BOUND_KEY_LEN || sealed[0] != BOUND_FORMAT {
            return Err(Error::Crypto(format!(
                "sealed key is not bound to its meter ({} bytes, expected {BOUND_KEY_LEN} starting with {BOUND_FORMAT})",
                sealed.len()
            )));
        }
        let (nonce, ct) = sealed[1..].split_at(12);
        let aad = associated_data(label);
        let pt = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| {
                Error::Crypto(format!(
                    "wrong master key, corrupted key, or a key sealed for another meter than {label}"
                ))
            })?;
        pt.try_into()
            .map_err(|_| Error::Crypto("sealed key is not 16 bytes".into()))
    }

    /// Whether `sealed` is in the old unbound format (to be re-sealed with [`Self::seal_for`]).
    pub fn is_unbound(sealed: &[u8]) -> bool {
        sealed.len() == SEALED_KEY_LEN
    }

    /// Opens an old-format (unbound) sealed key; a wrong master key or altered bytes give an
    /// error, never a key.
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

    #[test]
    fn a_key_sealed_for_one_meter_does_not_open_as_another() {
        let mk = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let key = *b"0123456789abcdef";
        let a = meter_key_label("KAM", "0012ab34");
        assert_eq!(a, "KAM:0012AB34");
        let sealed = mk.seal_for(&a, &key, [9; 12]);
        assert_eq!(sealed.len(), BOUND_KEY_LEN);
        assert!(!MasterKey::is_unbound(&sealed));
        assert_eq!(mk.open_for(&a, &sealed).unwrap(), key);
        let b = meter_key_label("KAM", "0012AB35");
        let err = mk.open_for(&b, &sealed).unwrap_err().to_string();
        assert!(
            err.contains("another meter") && err.contains("KAM:0012AB35"),
            "{err}"
        );
        assert!(
            mk.open(&sealed).is_err(),
            "a bound key is not an unbound one"
        );
        // An old unbound key is recognised as such and not accepted as bound.
        let old = mk.seal(&key, [8; 12]);
        assert!(MasterKey::is_unbound(&old));
        assert!(mk.open_for(&a, &old).is_err());
    }
}
