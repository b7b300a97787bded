//! Notification preferences and push subscriptions, per customer and user.

use super::{refused, two};
use ewoda_portal::store::preference::{self, Channel, PushSubscription, Topic};
use sqlx::PgPool;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn preferences_default_then_stick_per_customer(pool: PgPool) {
    let (a, b, _) = two(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let m = preference::matrix(&mut conn, a).await.unwrap();
    assert_eq!(m.len(), 21);
    let cell = |m: &[preference::Preference], t: Topic, c: Channel| {
        m.iter()
            .find(|p| p.topic == t && p.channel == c)
            .unwrap()
            .clone()
    };
    assert!(cell(&m, Topic::LeakAlarm, Channel::Sms).enabled);
    assert!(!cell(&m, Topic::NewInvoice, Channel::Sms).enabled);
    preference::set(
        &pool,
        a,
        &[
            ("new_invoice".into(), "sms".into(), true),
            ("leak_alarm".into(), "email".into(), false),
        ],
    )
    .await
    .unwrap();
    let m = preference::matrix(&mut conn, a).await.unwrap();
    assert!(
        cell(&m, Topic::NewInvoice, Channel::Sms).enabled
            && cell(&m, Topic::NewInvoice, Channel::Sms).chosen
    );
    assert!(!cell(&m, Topic::LeakAlarm, Channel::Email).enabled);
    let theirs = preference::matrix(&mut conn, b).await.unwrap();
    assert!(theirs.iter().all(|p| !p.chosen));
    let bad = preference::set(
        &pool,
        a,
        &[
            ("case_status".into(), "push".into(), true),
            ("spam".into(), "email".into(), true),
        ],
    )
    .await;
    assert_eq!(
        refused(bad),
        [("preferences[1].topic".to_string(), "invalid")]
    );
    let m = preference::matrix(&mut conn, a).await.unwrap();
    assert!(
        !cell(&m, Topic::CaseStatus, Channel::Push).enabled,
        "nothing half-saved"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn push_subscriptions_belong_to_their_user(pool: PgPool) {
    let (_, _, clerk) = two(&pool).await;
    let other: i64 = sqlx::query_scalar(
        "insert into app_user (login, display_name, password_hash) values ('klient', 'K', '$argon2id$y') returning user_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let s = PushSubscription {
        endpoint: "https://push.example/send/abc".into(),
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM".into(),
        auth: "tBHItJI5svbpez7KI4CCXg".into(),
        user_agent: Some("Firefox".into()),
        created_at: None,
    };
    preference::subscribe(&pool, other, &s).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        preference::subscriptions(&mut conn, other)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(preference::subscriptions(&mut conn, clerk)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !preference::unsubscribe(&pool, clerk, &s.endpoint)
            .await
            .unwrap(),
        "not theirs"
    );
    assert!(preference::unsubscribe(&pool, other, &s.endpoint)
        .await
        .unwrap());
    let bad = PushSubscription {
        endpoint: "http://push.example/x".into(),
        auth: "not base64!".into(),
        ..s
    };
    assert_eq!(
        refused(preference::subscribe(&pool, other, &bad).await),
        [
            ("endpoint".to_string(), "invalid"),
            ("auth".to_string(), "invalid")
        ]
    );
}
