//! Web Push subscription: stored for the logged-in user, refused fields answered as JSON.

use crate::support::TestApp;
use axum::http::StatusCode;

#[tokio::test]
async fn a_push_subscription_is_stored_for_the_user_and_bad_keys_are_refused() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await;
    let r = c
        .post(
            "/ebok/push/subscribe",
            &[
                ("endpoint", "http://push.example/x"),
                ("p256dh", "a b"),
                ("auth", ""),
            ],
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["endpoint", "p256dh", "auth"]);
    let r = c
        .post("/ebok/push/subscribe", &[("endpoint", "https://push.example/abc"), ("p256dh", "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"), ("auth", "tBHItJI5svbpez7KI4CCXg")])
        .await;
    r.assert_status(StatusCode::OK);
    let (login, endpoint): (String, String) = sqlx::query_as(
        "select u.login, s.endpoint from push_subscription s join app_user u using (user_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (login.as_str(), endpoint.as_str()),
        ("klient", "https://push.example/abc")
    );
    app.drop_db().await;
}

// ---- Web Push delivery against a fake push service that speaks the real protocol ----

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use std::sync::{Arc, Mutex};

/// What the fake push service received and accepted: (path id, decrypted payload).
type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A browser's side of one subscription: the keys the push service encrypts to (RFC 8291).
struct BrowserKeys {
    components: ece::EcKeyComponents,
    p256dh: String,
    auth: [u8; 16],
}

fn browser_keys() -> BrowserKeys {
    let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
    BrowserKeys {
        p256dh: URL_SAFE_NO_PAD.encode(pair.pub_as_raw().unwrap()),
        components: pair.raw_components().unwrap(),
        auth,
    }
}

#[derive(Clone)]
struct FakePush {
    origin: String,
    vapid_public: String,
    keys: Arc<std::collections::HashMap<String, (ece::EcKeyComponents, [u8; 16])>>,
    received: Received,
}

/// `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292 §3): the key must be the
/// server's, the JWT signed with it (ES256), for this origin, unexpired, with a contact.
fn check_vapid(fake: &FakePush, headers: &HeaderMap) -> Result<(), String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization")?;
    let rest = auth.strip_prefix("vapid ").ok_or("not a vapid scheme")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = Some(v.to_string()),
            Some(("k", v)) => key = Some(v.to_string()),
            _ => return Err(format!("unexpected part {part:?}")),
        }
    }
    let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
    if key != fake.vapid_public {
        return Err("k is not the server's VAPID key".into());
    }
    let raw = URL_SAFE_NO_PAD.decode(&key).map_err(|e| e.to_string())?;
    let public = ES256PublicKey::from_bytes(&raw).map_err(|e| e.to_string())?;
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from_strings(&[fake.origin.as_str()])),
        ..Default::default()
    };
    let claims = public
        .verify_token::<NoCustomClaims>(&token, Some(options))
        .map_err(|e| format!("JWT: {e}"))?;
    claims.expires_at.ok_or("no exp")?;
    claims.subject.ok_or("no sub")?;
    Ok(())
}

async fn push_endpoint(
    State(fake): State<FakePush>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if id.starts_with("gone") {
        return (StatusCode::GONE, "subscription expired".into());
    }
    if let Err(e) = check_vapid(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, e);
    }
    if headers.get("content-encoding").map(|v| v.as_bytes()) != Some(b"aes128gcm")
        || headers.get("ttl").is_none()
    {
        return (StatusCode::BAD_REQUEST, "aes128gcm and TTL required".into());
    }
    let Some((components, auth)) = fake.keys.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such subscription".into());
    };
    let plain = match ece::decrypt(components, auth, &body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("decrypt: {e}")),
    };
    let json = serde_json::from_slice(&plain).unwrap_or(serde_json::Value::Null);
    fake.received.lock().unwrap().push((id, json));
    (StatusCode::CREATED, String::new())
}

/// Starts the fake push service on loopback; returns its origin.
async fn start_fake_push(
    vapid_public: &str,
    keys: Vec<(String, ece::EcKeyComponents, [u8; 16])>,
    received: Received,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let fake = FakePush {
        origin: origin.clone(),
        vapid_public: vapid_public.to_string(),
        keys: Arc::new(keys.into_iter().map(|(i, c, a)| (i, (c, a))).collect()),
        received,
    };
    let app = axum::Router::new()
        .route("/push/{id}", post(push_endpoint))
        .with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// Stores a subscription row as the browser would have sent it. Directly, because the
/// subscribe route (tested above) accepts only https endpoints and the fake is plain http.
async fn subscribe_row(app: &TestApp, login: &str, endpoint: &str, keys: &BrowserKeys) {
    sqlx::query(
        "insert into push_subscription (user_id, endpoint, p256dh, auth)
         select user_id, $2, $3, $4 from app_user where login = $1",
    )
    .bind(login)
    .bind(endpoint)
    .bind(&keys.p256dh)
    .bind(URL_SAFE_NO_PAD.encode(keys.auth))
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn endpoints_of(app: &TestApp, login: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select s.endpoint from push_subscription s join app_user u using (user_id)
         where u.login = $1 order by s.endpoint",
    )
    .bind(login)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_test_notification_is_encrypted_signed_and_a_gone_subscription_is_deleted() {
    let app = TestApp::new().await;
    let vapid = app.state.push.as_ref().expect("push enabled").public_key();
    let browser = browser_keys();
    let received: Received = Arc::default();
    let origin = start_fake_push(
        vapid,
        vec![("a1".into(), browser.components.clone(), browser.auth)],
        received.clone(),
    )
    .await;
    let live = format!("{origin}/push/a1");
    let gone = format!("{origin}/push/gone-1");
    subscribe_row(&app, "klient", &live, &browser).await;
    subscribe_row(&app, "klient", &gone, &browser_keys()).await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await.assert_status(StatusCode::OK);
    let r = c.post("/ebok/push/test", &[]).await;
    r.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/ebok/profile?push=1#push-h"));
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one delivery, decrypted and VAPID-checked");
    assert_eq!(got[0].0, "a1");
    assert_eq!(got[0].1["title"], "Powiadomienie testowe eBOK");
    assert_eq!(got[0].1["url"], "/ebok/");
    // 410 from the push service: that subscription is gone, the live one stays.
    assert_eq!(endpoints_of(&app, "klient").await, [live]);
    let r = c.get("/ebok/profile?push=1&lang=en").await;
    assert_eq!(
        r.texts("#push-notice"),
        ["A test notification was sent to 1 browser."]
    );
    assert_eq!(
        r.texts("#push-devices"),
        ["1 browser is subscribed to notifications."]
    );
    app.drop_db().await;
}

#[tokio::test]
async fn a_push_service_refusing_the_signature_keeps_the_subscription() {
    // The fake expects another server's key: a refused (401) send is counted, nothing deleted.
    let app = TestApp::new().await;
    let other = TestApp::new().await;
    let wrong_key = other.state.push.as_ref().unwrap().public_key().to_string();
    let browser = browser_keys();
    let received: Received = Arc::default();
    let origin = start_fake_push(
        &wrong_key,
        vec![("a1".into(), browser.components.clone(), browser.auth)],
        received.clone(),
    )
    .await;
    let live = format!("{origin}/push/a1");
    subscribe_row(&app, "klient", &live, &browser).await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await;
    let r = c.post("/ebok/push/test", &[]).await;
    assert_eq!(r.location(), Some("/ebok/profile?push=0#push-h"));
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(endpoints_of(&app, "klient").await, [live]);
    app.drop_db().await;
    other.drop_db().await;
}

#[tokio::test]
async fn the_vapid_key_is_generated_once_with_mode_0600_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ewoda-vapid-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let first = ewoda_portal::push::VapidKeys::load_or_create(&dir).unwrap();
    let file = dir.join(ewoda_portal::push::vapid::KEY_FILE);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = ewoda_portal::push::VapidKeys::load_or_create(&dir).unwrap();
    assert_eq!(first.public_key(), again.public_key());
    // An uncompressed P-256 point: 65 bytes starting with 0x04.
    let raw = URL_SAFE_NO_PAD.decode(first.public_key()).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4));
    std::fs::write(&file, "not a key").unwrap();
    let err = ewoda_portal::push::VapidKeys::load_or_create(&dir).unwrap_err();
    assert!(err.to_string().contains("vapid-private.key"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_manifest_service_worker_and_the_preferences_page_offer_push() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/manifest.webmanifest").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/manifest+json"
    );
    let m: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (m["start_url"].as_str(), m["scope"].as_str()),
        (Some("/ebok/"), Some("/"))
    );
    let icon = m["icons"][0]["src"].as_str().unwrap().to_string();
    c.get(&icon).await.assert_status(StatusCode::OK);
    let r = c.get("/sw.js").await;
    r.assert_status(StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(r.body.contains("showNotification") && r.body.contains("openWindow"));
    let mut k = app.login("klient").await;
    let r = k.get("/ebok/profile?lang=en").await;
    let doc = r.html();
    let sel = scraper::Selector::parse("#push").unwrap();
    let section = doc.select(&sel).next().expect("the push section");
    assert_eq!(
        section.value().attr("data-vapid-key"),
        Some(app.state.push.as_ref().unwrap().public_key())
    );
    assert_eq!(
        r.texts("#push-needs-js"),
        ["Browser notifications need JavaScript and a browser that supports Web Push. The other channels (e-mail, SMS) work without them."]
    );
    assert_eq!(r.texts("#push-test"), ["Send me a test notification"]);
    let manifest_link = scraper::Selector::parse(r#"link[rel="manifest"]"#).unwrap();
    assert_eq!(doc.select(&manifest_link).count(), 1);
    app.drop_db().await;
}

#[tokio::test]
async fn unsubscribe_removes_only_the_users_own_subscription() {
    let app = TestApp::new().await;
    let keys = browser_keys();
    subscribe_row(&app, "klient", "https://push.example/k1", &keys).await;
    subscribe_row(&app, "klient2", "https://push.example/k2", &keys).await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await;
    let token = c.csrf.clone().unwrap();
    let r = c
        .post_raw(
            "/ebok/push/unsubscribe",
            &[("endpoint", "https://push.example/k2")],
            &[("X-CSRF-Token", &token)],
        )
        .await;
    r.assert_status(StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["removed"], false);
    let r = c
        .post_raw(
            "/ebok/push/unsubscribe",
            &[("endpoint", "https://push.example/k1")],
            &[("X-CSRF-Token", &token)],
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["removed"], true);
    assert!(endpoints_of(&app, "klient").await.is_empty());
    assert_eq!(
        endpoints_of(&app, "klient2").await,
        ["https://push.example/k2"]
    );
    app.drop_db().await;
}
