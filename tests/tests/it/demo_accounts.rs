//! The demo's two eBOK logins: different customers, each with invoices (one overdue),
//! readings and an open alarm, as `ewoda demo` seeds and bills them.

use chrono::NaiveDate;
use ewoda_common::crypto::MasterKey;
use ewoda_demo::{bill_recent_months, seed, SeedOptions};
use ewoda_tests::TestDb;

#[tokio::test]
async fn klient_and_klient2_are_two_customers_with_something_to_see() {
    let key = MasterKey::from_hex(&"42".repeat(32)).unwrap();
    let db = TestDb::new("demo_accounts").await;
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let opts = SeedOptions {
        seed: 3,
        meters: 400,
        months: 5,
        today,
        password: "test-password".into(),
    };
    seed(&db.pool, &key, &opts).await.unwrap();
    bill_recent_months(&db.pool, today).await.unwrap();

    let mut customers = Vec::new();
    for login in ["klient", "klient2"] {
        let row: (i64, String, i64, i64, i64, i64) = sqlx::query_as(
            "select u.customer_id, c.number,
                    (select count(*) from invoice i where i.customer_id = u.customer_id),
                    (select count(*) from invoice i where i.customer_id = u.customer_id and i.due_on < $2),
                    (select count(*) from reading r join meter_installation mi using (meter_id)
                       join contract k on k.premises_id = mi.premises_id where k.customer_id = u.customer_id),
                    (select count(*) from alarm a join meter_installation mi using (meter_id)
                       join contract k on k.premises_id = mi.premises_id
                      where k.customer_id = u.customer_id and a.state = 'open')
             from app_user u join customer c using (customer_id) where u.login = $1",
        )
        .bind(login)
        .bind(today)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        let (id, number, invoices, overdue, readings, alarms) = row;
        assert!(invoices >= 1, "{login} (customer {number}) has no invoice");
        assert!(
            overdue >= 1,
            "{login} (customer {number}) has no overdue invoice"
        );
        assert!(readings > 30, "{login} has {readings} readings");
        assert!(alarms >= 1, "{login} has no open alarm");
        customers.push(id);
    }
    assert_ne!(customers[0], customers[1], "klient2 is another customer");
    let lines = ewoda_demo::seed::login_lines(&db.pool).await.unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("klient2 (customer ")),
        "{lines:?}"
    );
    db.drop_db().await;
}
