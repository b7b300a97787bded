//! Contact-data change requests: submit, status and answer for the customer, approval applying
//! the change to billing in one transaction with an audit entry, rejection with an answer.

use super::{refused, two};
use ewoda_billing::customer::ContactChange;
use ewoda_portal::store::contact_change;
use ewoda_portal::store::StoreError;
use sqlx::PgPool;

fn change(email: &str) -> ContactChange {
    ContactChange {
        email: Some(email.into()),
        phone: None,
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn approval_applies_the_change_to_billing_with_an_audit_entry(pool: PgPool) {
    let (a, b, clerk) = two(&pool).await;
    assert_eq!(
        refused(contact_change::submit(&pool, a, &change("nie-mail")).await),
        [("email".to_string(), "invalid")]
    );
    let id = contact_change::submit(&pool, a, &change("lucja@example.pl"))
        .await
        .unwrap();
    assert_eq!(
        refused(contact_change::submit(&pool, a, &change("inny@example.pl")).await),
        [("changes".to_string(), "pending")]
    );
    let email = |c: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select email from customer where customer_id = $1",
            )
            .bind(c)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        email(a.get()).await,
        None,
        "nothing reaches billing before approval"
    );
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(contact_change::pending(&mut conn).await.unwrap().len(), 1);
    contact_change::approve(&pool, id, clerk, "urzednik", Some("Zmieniono"))
        .await
        .unwrap();
    assert_eq!(email(a.get()).await.as_deref(), Some("lucja@example.pl"));
    assert_eq!(email(b.get()).await, None);
    let mine = contact_change::of_customer(&mut conn, a).await.unwrap();
    assert_eq!(
        (mine[0].status.as_str(), mine[0].answer.as_deref()),
        ("approved", Some("Zmieniono"))
    );
    assert!(contact_change::of_customer(&mut conn, b)
        .await
        .unwrap()
        .is_empty());
    let (actor, after): (String, serde_json::Value) = sqlx::query_as(
        "select actor, after from audit_log where entity = 'customer' and entity_id = $1",
    )
    .bind(a.get().to_string())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (actor.as_str(), after["email"].as_str()),
        ("user:urzednik", Some("lucja@example.pl"))
    );
    let again = contact_change::approve(&pool, id, clerk, "urzednik", None).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn rejection_needs_an_answer_and_changes_nothing(pool: PgPool) {
    let (a, _, clerk) = two(&pool).await;
    let id = contact_change::submit(&pool, a, &change("lucja@example.pl"))
        .await
        .unwrap();
    assert_eq!(
        refused(contact_change::reject(&pool, id, clerk, " ").await),
        [("answer".to_string(), "required")]
    );
    contact_change::reject(&pool, id, clerk, "Proszę potwierdzić adres w biurze")
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let mine = contact_change::of_customer(&mut conn, a).await.unwrap();
    assert_eq!(mine[0].status, "rejected");
    assert_eq!(
        mine[0].answer.as_deref(),
        Some("Proszę potwierdzić adres w biurze")
    );
    let email: Option<String> =
        sqlx::query_scalar("select email from customer where customer_id = $1")
            .bind(a.get())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(email, None);
    // After a decision a new request may be filed.
    contact_change::submit(&pool, a, &change("l2@example.pl"))
        .await
        .unwrap();
}
