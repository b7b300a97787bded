//! Web Push: this server's VAPID key pair (generated into the data dir on first start and
//! reused after) and sending a notification to a user's subscriptions — the payload encrypted
//! as RFC 8291 `aes128gcm` (encrypt.rs), signed with VAPID (RFC 8292, vapid.rs), sent with
//! reqwest (with timeouts). A push service answering 404/410 means the
//! subscription is gone: it is deleted.

mod encrypt;
mod send;
pub mod vapid;

pub use send::{Notification, PushSender, SendReport};
pub use vapid::VapidKeys;

/// What can go wrong with Web Push.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("VAPID key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("push message to {endpoint}: {reason}")]
    Message { endpoint: String, reason: String },
    #[error("HTTP client for Web Push: {0}")]
    Client(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
