//! Sending one notification to every subscription of a user.

use super::{PushError, VapidKeys};
use crate::store::preference::{self, PushSubscription};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;

/// What the service worker shows: a title, a line of text and the page a click opens.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub body: String,
    pub url: String,
}

/// How a send went, per subscription.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    /// Accepted by the push service (2xx).
    pub delivered: usize,
    /// The push service said the subscription is gone (404/410): deleted.
    pub removed: usize,
    /// Refused otherwise, or unreachable: logged, kept.
    pub failed: usize,
}

enum Outcome {
    Delivered,
    Gone,
    Failed,
}

/// The push sender: the VAPID keys, the contact (`sub` claim) and one HTTP client.
pub struct PushSender {
    keys: VapidKeys,
    contact: String,
    client: reqwest::Client,
}

/// How long a notification stays queued at the push service for an offline browser.
const TTL_SECONDS: u32 = 24 * 3600;

impl PushSender {
    /// `contact` is the `sub` claim the push service can reach the sender at (`mailto:` or
    /// `https:`).
    pub fn new(keys: VapidKeys, contact: String) -> Result<PushSender, PushError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PushError::Client(e.to_string()))?;
        Ok(PushSender {
            keys,
            contact,
            client,
        })
    }

    /// The public key the browser subscribes with.
    pub fn public_key(&self) -> &str {
        self.keys.public_key()
    }

    /// Sends `n` to every subscription of the user; gone subscriptions are deleted.
    pub async fn send_to_user(
        &self,
        pool: &PgPool,
        user_id: i64,
        n: &Notification,
    ) -> Result<SendReport, PushError> {
        let subscriptions = {
            let mut conn = pool.acquire().await.map_err(crate::store::StoreError::Db)?;
            preference::subscriptions(&mut conn, user_id).await?
        };
        let payload = serde_json::to_vec(n).map_err(|e| PushError::Client(e.to_string()))?;
        let mut report = SendReport::default();
        for s in &subscriptions {
            match self.send_one(s, &payload).await {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Gone => {
                    preference::unsubscribe(pool, user_id, &s.endpoint).await?;
                    report.removed += 1;
                }
                Outcome::Failed => report.failed += 1,
            }
        }
        Ok(report)
    }

    async fn send_one(&self, s: &PushSubscription, payload: &[u8]) -> Outcome {
        let request = match self.request(s, payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "web push: building the message");
                return Outcome::Failed;
            }
        };
        match request.send().await {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) if matches!(r.status().as_u16(), 404 | 410) => Outcome::Gone,
            Ok(r) => {
                tracing::warn!(status = %r.status(), endpoint = %s.endpoint, "web push refused");
                Outcome::Failed
            }
            Err(e) => {
                tracing::warn!(error = %e, endpoint = %s.endpoint, "web push: push service unreachable");
                Outcome::Failed
            }
        }
    }

    /// The encrypted (RFC 8291), VAPID-signed (RFC 8292) request for one subscription.
    fn request(
        &self,
        s: &PushSubscription,
        payload: &[u8],
    ) -> Result<reqwest::RequestBuilder, PushError> {
        let err = |reason: String| PushError::Message {
            endpoint: s.endpoint.clone(),
            reason,
        };
        let key = |name: &str, value: &str| {
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| err(format!("{name} is not base64url")))
        };
        let body =
            super::encrypt::encrypt(&key("p256dh", &s.p256dh)?, &key("auth", &s.auth)?, payload)
                .map_err(err)?;
        // RFC 8292 `aud` is the push service's origin, port included.
        let audience = origin(&s.endpoint).ok_or_else(|| err("not an http(s) URL".into()))?;
        let expires = chrono::Utc::now().timestamp() + 12 * 3600;
        let authorization = self.keys.authorization(&audience, &self.contact, expires);
        Ok(self
            .client
            .post(s.endpoint.as_str())
            .header("authorization", authorization)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", TTL_SECONDS.to_string())
            .body(body))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn the_audience_is_the_origin_with_its_port() {
        assert_eq!(
            origin("http://127.0.0.1:8123/push/abc?x=1").as_deref(),
            Some("http://127.0.0.1:8123")
        );
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/xyz").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(origin("ftp://x/y"), None);
    }
}
