//! RFC 8291 message encryption for Web Push, in the RFC 8188 `aes128gcm` content coding: an
//! ephemeral P-256 key agreed with the browser's key (`p256dh`), both keys and the browser's
//! `auth` secret through HKDF-SHA256 into a content key and nonce, one AES-128-GCM record.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written in the header; one record carries the whole message.
const RECORD_SIZE: u32 = 4096;

/// The encrypted body: salt ‖ record size ‖ key id length ‖ our public key ‖ ciphertext.
pub fn encrypt(p256dh: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    if plaintext.len() + 17 > RECORD_SIZE as usize {
        return Err(format!("payload of {} bytes is too long", plaintext.len()));
    }
    let browser = PublicKey::from_sec1_bytes(p256dh).map_err(|_| "p256dh is not a P-256 point")?;
    let ours = random_secret()?;
    let ours_public = ours.public_key().to_encoded_point(false);
    let browser_point = browser.to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), browser.as_affine());

    // RFC 8291 §3.4: IKM from the shared secret, salted with the auth secret.
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(browser_point.as_bytes());
    key_info.extend_from_slice(ours_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| "HKDF expand of the key")?;

    // RFC 8188 §2.2–2.3: content key and nonce from a random salt.
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .and_then(|_| prk.expand(b"Content-Encoding: nonce\0", &mut nonce))
        .map_err(|_| "HKDF expand of the content key")?;

    // The only (so last) record: the text, then the delimiter 0x02.
    let mut record = plaintext.to_vec();
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| "content key length")?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| "AES-GCM encryption")?;

    let key_id = ours_public.as_bytes();
    let mut body = Vec::with_capacity(21 + key_id.len() + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(key_id.len() as u8);
    body.extend_from_slice(key_id);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// A random P-256 secret key: 32 random bytes are a valid scalar except with probability
/// about 2^-32, so an invalid draw is simply drawn again.
pub(super) fn random_secret() -> Result<SecretKey, String> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}
