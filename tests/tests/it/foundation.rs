//! The foundation against a real PostgreSQL: the schema applies to an empty database and its
//! constraints hold, reading partitions exist ahead, the demo seed is deterministic, and the
//! portal answers /healthz when ready.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use ewoda_common::crypto::MasterKey;
use ewoda_demo::{seed, SeedOptions};
use ewoda_tests::{table_digest, TestDb};

const DOMAIN_TABLES: &[&str] = &[
    "utility",
    "org_unit",
    "notification_outbox",
    "audit_log",
    "district",
    "meter",
    "reading",
    "reading_daily",
    "alarm",
    "dead_letter",
    "customer",
    "address",
    "premises",
    "connection",
    "meter_installation",
    "tariff_group",
    "tariff_version",
    "tariff_fee",
    "contract",
    "virtual_account",
    "billing_run",
    "invoice_series",
    "invoice",
    "invoice_line",
    "payment",
    "payment_allocation",
    "dunning_notice",
    "refund",
    "ledger_posting",
    "statutory_rate",
    "exchange_rate",
    "app_user",
    "user_role",
    "consent",
    "notification_preference",
    "push_subscription",
    "contact_change_request",
    "application",
    "failure_report",
    "case_event",
    "attachment",
    "broadcast",
    "online_transaction",
];

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_create_every_domain_table() {
    let db = TestDb::new("schema").await;
    for table in DOMAIN_TABLES {
        let exists: bool = sqlx::query_scalar("select to_regclass($1) is not null")
            .bind(format!("public.{table}"))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(exists, "table {table} is missing");
    }
    // No floating-point column anywhere: money and volumes are exact.
    let floats: Vec<String> = sqlx::query_scalar(
        "select table_name || '.' || column_name from information_schema.columns
         where table_schema = 'public' and data_type in ('real', 'double precision')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(floats.is_empty(), "float columns: {floats:?}");
    // Running the migrator again changes nothing.
    ewoda_common::db::migrate(&db.pool).await.unwrap();
    db.drop_db().await;
}

/// Inserts a minimal meter and returns its id.
async fn meter(pool: &sqlx::PgPool, serial: &str) -> i64 {
    sqlx::query_scalar(
        "insert into meter (serial, manufacturer, model) values ($1, 'APA', 'test') returning meter_id",
    )
    .bind(serial)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn constraint_error(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => format!("{} {}", d.code().unwrap_or_default(), d.message()),
        other => panic!("expected a database error, got {other}"),
    }
}

#[tokio::test]
async fn constraints_reject_bad_data() {
    let db = TestDb::new("constraints").await;
    let pool = &db.pool;
    let m = meter(pool, "00000001").await;
    let at = Utc::now();
    let insert = |vol: i64| {
        sqlx::query("insert into reading (meter_id, read_at, volume_ml, source) values ($1, $2, $3, 'manual')")
            .bind(m)
            .bind(at)
            .bind(vol)
    };
    insert(1_000).execute(pool).await.unwrap();
    let dup = constraint_error(insert(1_000).execute(pool).await.unwrap_err());
    assert!(
        dup.starts_with("23505"),
        "duplicate reading must violate the primary key: {dup}"
    );
    let neg = sqlx::query(
        "insert into reading (meter_id, read_at, volume_ml, source) values ($1, $2, -1, 'manual')",
    )
    .bind(m)
    .bind(at + Duration::seconds(1))
    .execute(pool)
    .await
    .unwrap_err();
    assert!(
        constraint_error(neg).starts_with("23514"),
        "negative volume must violate a check"
    );

    let customer = |pesel: Option<&str>, nip: Option<&str>, kind: &str| {
        sqlx::query(
            "insert into customer (number, kind, first_name, last_name, company_name, pesel, nip)
             values ((random() * 1e9)::bigint::text, $3, 'Jan', 'Nowak', case when $3 <> 'household' then 'Firma' end, $1, $2)",
        )
        .bind(pesel.map(str::to_string))
        .bind(nip.map(str::to_string))
        .bind(kind.to_string())
    };
    customer(Some("44051401359"), None, "household")
        .execute(pool)
        .await
        .unwrap();
    let bad_pesel = customer(Some("44051401358"), None, "household")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(bad_pesel).contains("customer_pesel_check"));
    let bad_date = customer(Some("44133101357"), None, "household")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        constraint_error(bad_date).contains("customer_pesel_check"),
        "month 13 is no date"
    );
    customer(None, Some("5261040828"), "business")
        .execute(pool)
        .await
        .unwrap();
    let bad_nip = customer(None, Some("5261040827"), "business")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(bad_nip).contains("customer_nip_check"));
    let no_nip = customer(None, None, "business")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        constraint_error(no_nip).starts_with("23514"),
        "a business needs a NIP"
    );

    // Tariff versions of one group never overlap.
    let g: i64 = sqlx::query_scalar(
        "insert into tariff_group (code, name, customer_kind) values ('T', 'test', 'household') returning tariff_group_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let version = |from: &str, to: Option<&str>| {
        sqlx::query(
            "insert into tariff_version (tariff_group_id, valid_from, valid_to, water_m3, sewage_m3, vat_percent)
             values ($1, $2::date, $3::date, 6.95, 12.35, 8)",
        )
        .bind(g)
        .bind(from.to_string())
        .bind(to.map(str::to_string))
    };
    version("2025-01-01", Some("2025-12-31"))
        .execute(pool)
        .await
        .unwrap();
    version("2026-01-01", None).execute(pool).await.unwrap();
    let overlap = version("2025-06-01", Some("2026-02-01"))
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(overlap).contains("overlaps"));

    // The ledger and the audit log are append-only.
    let c: i64 = sqlx::query_scalar("select min(customer_id) from customer")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("insert into ledger_posting (customer_id, value_date, kind, amount, description) values ($1, current_date, 'charge', 10.00, 'test')")
        .bind(c)
        .execute(pool)
        .await
        .unwrap();
    let changed = sqlx::query("update ledger_posting set amount = 1")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(changed).contains("append-only"));
    let deleted = sqlx::query("delete from ledger_posting")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(deleted).contains("append-only"));
    let zero = sqlx::query("insert into ledger_posting (customer_id, value_date, kind, amount, description) values ($1, current_date, 'charge', 0, 'x')")
        .bind(c)
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(zero).starts_with("23514"));

    // A virtual account must pass the mod-97 check.
    let bad_iban = sqlx::query("insert into virtual_account (customer_id, iban) values ($1, 'PL79109010141234000000004712')")
        .bind(c)
        .execute(pool)
        .await
        .unwrap_err();
    assert!(constraint_error(bad_iban).contains("iban"));
    sqlx::query("insert into virtual_account (customer_id, iban) values ($1, 'PL79109010141234000000004711')")
        .bind(c)
        .execute(pool)
        .await
        .unwrap();
    db.drop_db().await;
}

#[tokio::test]
async fn reading_partitions_exist_ahead_and_are_created_on_demand() {
    let db = TestDb::new("partitions").await;
    let today = Utc::now().date_naive();
    let mut month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    for _ in 0..6 {
        let name = format!("reading_{}", month.format("%Y_%m"));
        let exists: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
             where i.inhparent = 'reading'::regclass and c.relname = $1)",
        )
        .bind(&name)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(exists, "partition {name} must exist ahead of time");
        month = month.checked_add_months(chrono::Months::new(1)).unwrap();
    }
    // Far-future months are created on demand, idempotently.
    let far = Utc::now() + Duration::days(365 * 3);
    let mut conn = db.pool.acquire().await.unwrap();
    let created = ewoda_collector::store::ensure_partitions(&mut conn, far, far)
        .await
        .unwrap();
    assert_eq!(created, 1);
    let again = ewoda_collector::store::ensure_partitions(&mut conn, far, far)
        .await
        .unwrap();
    assert_eq!(again, 0);
    drop(conn);
    db.drop_db().await;
}

const SEED_TABLES: &[&str] = &[
    "utility",
    "org_unit",
    "district",
    "address",
    "premises",
    "meter",
    "meter_installation",
    "customer",
    "tariff_group",
    "tariff_version",
    "tariff_fee",
    "contract",
    "app_user",
    "user_role",
    "reading",
    "reading_daily",
    "alarm",
];

fn small(seed_value: u64) -> SeedOptions {
    SeedOptions {
        seed: seed_value,
        meters: 400,
        months: 2,
        today: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        password: "test-password".into(),
    }
}

#[tokio::test]
async fn demo_seed_is_deterministic() {
    let key = MasterKey::from_hex(&"42".repeat(32)).unwrap();
    let a = TestDb::new("seed_a").await;
    let b = TestDb::new("seed_b").await;
    let c = TestDb::new("seed_c").await;
    let sa = seed(&a.pool, &key, &small(7)).await.unwrap();
    let sb = seed(&b.pool, &key, &small(7)).await.unwrap();
    let sc = seed(&c.pool, &key, &small(8)).await.unwrap();
    assert_eq!(sa, sb);
    assert!(
        sa.meters >= 400 && sc.meters >= 400,
        "every position has a meter, replacements add one"
    );
    assert!(
        sa.readings > 400 * 50,
        "two months of daily readings: {}",
        sa.readings
    );
    let mut differs = 0;
    for table in SEED_TABLES {
        let (da, db_, dc) = (
            table_digest(&a.pool, table).await,
            table_digest(&b.pool, table).await,
            table_digest(&c.pool, table).await,
        );
        assert_eq!(
            da, db_,
            "table {table} differs between two seeds with the same options"
        );
        assert_ne!(da, "empty", "table {table} is empty after seeding");
        if da != dc {
            differs += 1;
        }
    }
    assert!(
        differs >= 8,
        "another seed value must give other data ({differs} tables differ)"
    );
    // Seeding a database that already holds a utility is refused and changes nothing.
    let before = table_digest(&a.pool, "reading").await;
    assert!(matches!(
        seed(&a.pool, &key, &small(7)).await,
        Err(ewoda_demo::SeedError::NotEmpty)
    ));
    assert_eq!(before, table_digest(&a.pool, "reading").await);
    // The sealed meter keys open with the master key, for their own meter only.
    let (sealed, manufacturer, radio_id): (Vec<u8>, String, String) = sqlx::query_as(
        "select aes_key_enc, manufacturer::text, radio_id::text from meter order by meter_id limit 1",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    let label = ewoda_common::crypto::meter_key_label(&manufacturer, &radio_id);
    assert_eq!(key.open_for(&label, &sealed).unwrap().len(), 16);
    assert!(key.open_for(&format!("{label}0"), &sealed).is_err());
    for db in [a, b, c] {
        db.drop_db().await;
    }
}

#[tokio::test]
async fn seeded_readings_are_consistent() {
    let key = MasterKey::from_hex(&"42".repeat(32)).unwrap();
    let db = TestDb::new("seed_consistency").await;
    seed(&db.pool, &key, &small(11)).await.unwrap();
    // Registers never go down, and daily rollups add up to the register difference.
    let decreasing: i64 = sqlx::query_scalar(
        "select count(*) from (select volume_ml < lag(volume_ml) over (partition by meter_id order by read_at) as down
         from reading) s where down",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(decreasing, 0);
    let mismatched: i64 = sqlx::query_scalar(
        "select count(*) from (
           select r.meter_id, max(r.volume_ml) - min(r.volume_ml) as span,
                  (select sum(consumption_ml) from reading_daily d where d.meter_id = r.meter_id) as summed
           from reading r group by r.meter_id) s
         where span <> summed",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        mismatched, 0,
        "daily rollups must add up to the register span"
    );
    // The seed's rollups (written with COPY) equal the collector's own recomputation.
    let seeded = table_digest(&db.pool, "reading_daily").await;
    let mut conn = db.pool.acquire().await.unwrap();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
    );
    ewoda_collector::store::rollup_days(&mut conn, from, to)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(seeded, table_digest(&db.pool, "reading_daily").await);
    // Bulk inlet meters measure more than the customers behind them (losses).
    let bulk_exceeds: bool = sqlx::query_scalar(
        "select bool_and(b.total > 0) from (select meter_id, max(volume_ml) - min(volume_ml) as total
         from reading join meter using (meter_id) where role = 'bulk' group by meter_id) b",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(bulk_exceeds);
    db.drop_db().await;
}

#[tokio::test]
async fn portal_answers_healthz_when_ready_and_serves_the_landing_page_in_both_languages() {
    let db = TestDb::new("portal").await;
    let state = ewoda_portal::AppState::new(db.pool.clone());
    let app = ewoda_portal::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let health = |c: &reqwest::Client| c.get(format!("http://{addr}/healthz")).send();
    assert_eq!(
        health(&client).await.unwrap().status(),
        503,
        "not ready before seeding"
    );
    state.set_ready();
    assert_eq!(health(&client).await.unwrap().status(), 200);
    let pl = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(pl.status(), 200);
    let body = pl.text().await.unwrap();
    assert!(
        body.contains("<html lang=\"pl\">") && body.contains("Elektroniczne Biuro Obsługi Klienta"),
        "{body}"
    );
    let en = client
        .get(format!("http://{addr}/?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Water and sewage e-office"));
    server.abort();
    db.drop_db().await;
}

#[tokio::test]
async fn the_demo_town_can_be_billed_from_its_readings() {
    let key = MasterKey::from_hex(&"42".repeat(32)).unwrap();
    let db = TestDb::new("seed_bill").await;
    let opts = SeedOptions {
        months: 3,
        today: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        ..small(5)
    };
    seed(&db.pool, &key, &opts).await.unwrap();
    // October bills the monthly contracts and the two-monthly ones (September–October).
    let run_opts = ewoda_billing::run::RunOptions {
        issued_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        ..ewoda_billing::run::RunOptions::for_month("2026-10", opts.today).unwrap()
    };
    let outcome = ewoda_billing::run::bill_period(&db.pool, &run_opts, &mut |_, _| {})
        .await
        .unwrap();
    let (accounts, summary) = (outcome.accounts_assigned, outcome.summary);
    let customers: i64 = sqlx::query_scalar("select count(*) from customer")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        accounts as i64, customers,
        "every customer gets a virtual account"
    );
    assert!(
        summary.issued as i64 >= customers * 9 / 10,
        "issued {} of {customers}",
        summary.issued
    );
    let (gross, charged): (rust_decimal::Decimal, rust_decimal::Decimal) = sqlx::query_as(
        "select (select sum(gross) from invoice), (select sum(amount) from ledger_posting where kind = 'charge')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        gross, charged,
        "every invoice is charged to the ledger once"
    );

    // A household's invoice renders as a PDF whose Polish text reads back.
    let (invoice_id, number, customer_gross): (i64, String, rust_decimal::Decimal) = sqlx::query_as(
        "select i.invoice_id, i.number, i.gross from invoice i join customer c using (customer_id)
         where c.kind = 'household' order by i.invoice_id limit 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let doc = ewoda_billing::invoice::document::load(&mut conn, invoice_id)
        .await
        .unwrap();
    drop(conn);
    let pdf = ewoda_billing::invoice::pdf::render_invoice_pdf(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let dir = ewoda_tests::Scratch::new("pdf");
    let path = dir.0.join("invoice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Zakład Wodociągów i Kanalizacji w Przykładowie"),
        "{text}"
    );
    assert!(text.contains(&number), "{text}");
    let gross_pl = customer_gross.to_string().replace('.', ",");
    assert!(text.contains(&gross_pl), "gross {gross_pl} in {text}");
    db.drop_db().await;
}

#[tokio::test]
async fn the_web_pool_replaces_a_connection_that_died_while_idle() {
    // The portal's pool skips sqlx's ping on every acquire; a connection idle for longer than
    // half a second is still pinged, so one that died meanwhile (a PostgreSQL restart, a
    // firewall) is replaced instead of failing the next page.
    let url = ewoda_tests::database_url();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let pool = ewoda_common::db::web_pool(2)
        .connect_with(ewoda_common::db::for_web(opts))
        .await
        .unwrap();
    let pid = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i32>("select pg_backend_pid()")
            .fetch_one(&pool)
            .await
    };
    let first = pid(pool.clone()).await.unwrap();
    let admin = ewoda_common::db::connect(&url, 1).await.unwrap();
    let killed: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(killed);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let second = pid(pool.clone())
        .await
        .expect("the dead connection is pinged and replaced, not handed out");
    assert_ne!(first, second);
    pool.close().await;
}
