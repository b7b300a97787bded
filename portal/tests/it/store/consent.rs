//! Consents: current state per kind, full history, e-invoice reaching billing, per customer.

use super::two;
use ewoda_portal::store::consent::{self, ConsentChannel, ConsentKind};
use sqlx::PgPool;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn consents_keep_history_and_einvoice_reaches_billing(pool: PgPool) {
    let (a, b, clerk) = two(&pool).await;
    assert!(consent::set(
        &pool,
        a,
        ConsentKind::Marketing,
        true,
        None,
        ConsentChannel::Ebok
    )
    .await
    .unwrap());
    assert!(
        !consent::set(
            &pool,
            a,
            ConsentKind::Marketing,
            true,
            None,
            ConsentChannel::Ebok
        )
        .await
        .unwrap(),
        "no change, no row"
    );
    assert!(consent::set(
        &pool,
        a,
        ConsentKind::Marketing,
        false,
        None,
        ConsentChannel::Ebok
    )
    .await
    .unwrap());
    assert!(consent::set(
        &pool,
        a,
        ConsentKind::Einvoice,
        true,
        Some(clerk),
        ConsentChannel::Office
    )
    .await
    .unwrap());
    assert!(
        consent::set(
            &pool,
            a,
            ConsentKind::Commercial,
            false,
            None,
            ConsentChannel::Ebok
        )
        .await
        .unwrap(),
        "a first refusal is recorded"
    );

    let mut conn = pool.acquire().await.unwrap();
    let now = consent::current(&mut conn, a).await.unwrap();
    let state = |k: ConsentKind| now.iter().find(|s| s.kind == k).unwrap().clone();
    assert!(!state(ConsentKind::Marketing).granted);
    assert!(state(ConsentKind::Einvoice).granted);
    assert!(state(ConsentKind::Commercial).at.is_some());
    assert!(state(ConsentKind::Sms).at.is_none(), "never asked");
    let history = consent::history(&mut conn, a).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.kind.as_str(), e.granted, e.channel.as_str()))
            .collect::<Vec<_>>(),
        [
            ("commercial", false, "ebok"),
            ("einvoice", true, "office"),
            ("marketing", false, "ebok"),
            ("marketing", true, "ebok")
        ]
    );
    let einvoice: (bool, bool) = sqlx::query_as(
        "select (select einvoice from customer where customer_id = $1), (select einvoice from customer where customer_id = $2)",
    )
    .bind(a.get())
    .bind(b.get())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(einvoice, (true, false));
    assert!(consent::history(&mut conn, b).await.unwrap().is_empty());
    assert!(consent::current(&mut conn, b)
        .await
        .unwrap()
        .iter()
        .all(|s| !s.granted));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where entity = 'customer' and entity_id = $1",
    )
    .bind(a.get().to_string())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    assert!(ConsentKind::parse("tracking").is_err());
}
