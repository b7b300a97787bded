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
