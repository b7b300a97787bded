//! The VAPID key pair: a raw P-256 private key (base64url, as the Node and PHP libraries keep
//! it) in `<data dir>/vapid-private.key`, mode 0600, created once; the public key (uncompressed
//! point, base64url) is what the page passes to `PushManager.subscribe`.

use super::PushError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// File name of the private key inside the data directory.
pub const KEY_FILE: &str = "vapid-private.key";

/// This server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKeys {
    signer: SigningKey,
    public_key: String,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("VapidKeys")
            .field("public_key", &self.public_key)
            .finish()
    }
}

impl VapidKeys {
    /// Reads the key of `data_dir`, or generates and writes one (0600) when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<VapidKeys, PushError> {
        let path = data_dir.join(KEY_FILE);
        let err = |reason: String| PushError::Key {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_private(text.trim()).map_err(err),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| err(e.to_string()))?;
                let private = generate().map_err(err)?;
                write_private(&path, &private).map_err(|e| err(e.to_string()))?;
                Self::from_private(&private).map_err(err)
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn from_private(private: &str) -> Result<VapidKeys, String> {
        let signer = URL_SAFE_NO_PAD
            .decode(private)
            .ok()
            .and_then(|raw| SigningKey::from_slice(&raw).ok())
            .ok_or("not a base64url P-256 private key")?;
        let point = signer.verifying_key().as_affine().to_encoded_point(false);
        let public_key = URL_SAFE_NO_PAD.encode(point.as_bytes());
        Ok(VapidKeys { signer, public_key })
    }

    /// The public key (uncompressed P-256 point, base64url without padding).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header of RFC 8292 §3: `vapid t=<JWT>, k=<public key>`, the JWT
    /// (ES256) naming the push service's origin (`aud`), our contact (`sub`) and an expiry.
    pub(super) fn authorization(&self, audience: &str, contact: &str, expires: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "sub": contact, "exp": expires });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.signer.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public_key)
    }
}

/// A new random private key, base64url.
fn generate() -> Result<String, String> {
    Ok(URL_SAFE_NO_PAD.encode(super::encrypt::random_secret()?.to_bytes()))
}

fn write_private(path: &Path, private: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(private.as_bytes())?;
    f.write_all(b"\n")?;
    // The umask can only remove bits; make sure nothing else was granted.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}
