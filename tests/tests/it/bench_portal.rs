//! `ewoda bench portal` on a small utility: every simulated customer logs in through the real
//! form, every page answers 200 inside the window, and each invoice PDF was rendered once
//! and stored (the bench's warm-up downloads each; later downloads come from the store).

use chrono::NaiveDate;
use ewoda_bench::portal::{self, PageKind, PortalOptions};
use ewoda_tests::TestDb;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_customers_log_in_and_get_every_page() {
    let db = TestDb::new("bench_portal").await;
    let opts = PortalOptions {
        users: 4,
        window: Duration::from_millis(1500),
        meters: 400,
        months: 5,
        server_connections: 4,
        ..PortalOptions::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
    };
    let mut out = Vec::new();
    let report = portal::run(&mut out, &db.pool, &opts).await.unwrap();
    let printed = String::from_utf8(out).unwrap();

    assert_eq!(report.users, 4);
    for page in &report.pages {
        assert!(
            page.requests > 0,
            "{}: no request in the window",
            page.kind.label()
        );
        assert!(page.p50 <= page.p99, "{page:?}");
    }
    assert_eq!(report.pages.len(), PageKind::ALL.len());
    assert_eq!(
        report.requests,
        report.pages.iter().map(|p| p.requests).sum::<usize>()
    );
    let bench_invoices: i64 = sqlx::query_scalar(
        "select count(*) from invoice i join app_user u using (customer_id) where u.login like 'bench-%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(bench_invoices >= 4, "{bench_invoices}");
    assert_eq!(report.stored_pdfs, bench_invoices, "each PDF stored once");
    let last = printed.lines().last().unwrap();
    assert!(
        last.starts_with("portal: p50 ") && last.ends_with(" ms at 4 concurrent users"),
        "{printed}"
    );
    assert!(
        printed.contains("4 customers logged in through /login"),
        "{printed}"
    );
    db.drop_db().await;
}
