//! eBOK meters: the list with premises, alarms (plain-language explanation) and submissions;
//! a meter's page with the consumption chart and table, last year beside it, the readings
//! history; submitting a reading with a photo (validated, pending until the clerk decides);
//! another customer's meter is 404.

use crate::support::{TestApp, TestClient, TestResponse};
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use ewoda_collector::alarms::{raise, AlarmKind};
use ewoda_collector::pipeline::vee::VeeConfig;
use ewoda_collector::pipeline::{write_items, Item, MeterReading, MeterRef};
use ewoda_collector::query::consumption::{series, Granularity};
use ewoda_collector::store::Source;
use ewoda_common::scope::CustomerId;
use ewoda_common::time::local_day;
use ewoda_common::Volume;
use ewoda_portal::ui::Lang;
use sqlx::PgPool;

/// Daily use of the fixture meters: 100 litres.
const DAILY_ML: i64 = 100_000;
/// Register at installation: 10 m³.
const START_ML: i64 = 10_000_000;

/// A premises with a contract of customer `number` and a main meter `serial` installed 400
/// days ago, read every day since (100 l/day) up to yesterday; returns the meter id.
pub async fn meter_of(pool: &PgPool, number: &str, serial: &str) -> i64 {
    let customer: i64 = sqlx::query_scalar("select customer_id from customer where number = $1")
        .bind(number)
        .fetch_one(pool)
        .await
        .unwrap();
    let premises: i64 = sqlx::query_scalar(
        "with a as (insert into address (street, building, postcode, city, commune)
                    values ('Lipowa', $1, '00-001', 'Wieś', 'Gmina') returning address_id)
         insert into premises (address_id, kind) select address_id, 'house' from a returning premises_id",
    )
    .bind(serial)
    .fetch_one(pool)
    .await
    .unwrap();
    let group: i64 = sqlx::query_scalar(
        "insert into tariff_group (code, name, customer_kind) values ($1, 'G', 'household')
         on conflict (code) do update set name = excluded.name returning tariff_group_id",
    )
    .bind(format!("G-{serial}"))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from)
         values ($1, $2, $3, $4, '2020-01-01')",
    )
    .bind(format!("U/{serial}"))
    .bind(customer)
    .bind(premises)
    .bind(group)
    .execute(pool)
    .await
    .unwrap();
    let installed = Utc::now() - Duration::days(400);
    let meter: i64 = sqlx::query_scalar(
        "insert into meter (serial, manufacturer, model) values ($1, 'APA', 'AT-WMBUS') returning meter_id",
    )
    .bind(serial)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, installed_at, installed_read_ml)
         values ($1, $2, 'main', $3, $4)",
    )
    .bind(meter)
    .bind(premises)
    .bind(installed)
    .bind(START_ML)
    .execute(pool)
    .await
    .unwrap();
    let items: Vec<Item> = (1..400)
        .map(|d| {
            Item::Reading(MeterReading {
                meter: MeterRef::Serial(serial.into()),
                read_at: installed + Duration::days(d),
                volume: Volume::from_ml(START_ML + d * DAILY_ML),
                status: vec![],
                source: Source::Mqtt,
            })
        })
        .collect();
    write_items(pool, &VeeConfig::default(), &items)
        .await
        .unwrap();
    meter
}

/// The last stored register of a meter in m³ as the page prints it.
async fn last_m3(pool: &PgPool, meter: i64) -> rust_decimal::Decimal {
    let ml: i64 = sqlx::query_scalar("select max(volume_ml) from reading where meter_id = $1")
        .bind(meter)
        .fetch_one(pool)
        .await
        .unwrap();
    Volume::from_ml(ml).m3()
}

/// A multipart body with text fields and an optional file `photo`.
fn multipart(fields: &[(&str, &str)], photo: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = photo {
        b.extend_from_slice(
            format!("--XBOUNDARY\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"--XBOUNDARY--\r\n");
    b
}

async fn send_reading(
    c: &mut TestClient,
    meter: i64,
    lang: &str,
    fields: &[(&str, &str)],
    photo: Option<(&str, &[u8])>,
) -> TestResponse {
    let token = c.csrf.clone().unwrap_or_default();
    c.send(
        Method::POST,
        &format!("/ebok/meters/{meter}/readings?csrf={token}&lang={lang}"),
        multipart(fields, photo),
        Some("multipart/form-data; boundary=XBOUNDARY"),
        &[],
    )
    .await
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake dial photo";

#[tokio::test]
async fn the_meters_page_lists_meters_and_explains_alarms() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-1").await;
    let mut conn = app.pool.acquire().await.unwrap();
    raise(
        &mut conn,
        meter,
        AlarmKind::Leak,
        Utc::now(),
        "test",
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    drop(conn);
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/meters").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Wodomierze i odczyty"]);
    assert_eq!(r.texts("table.meters tbody th a"), ["KL-MAIN-1"]);
    // Polish: a decimal comma, a no-break space before the unit.
    let last = ewoda_portal::ui::format::m3(Lang::Pl, last_m3(&app.pool, meter).await);
    assert_eq!(r.texts("table.meters tbody td.num"), [last]);
    let leak = ewoda_collector::query::alarms::CustomerAlarmKind::Leak;
    assert_eq!(r.texts(".alarm .alarm-what"), [leak.explanation("pl").what]);
    let r = c.get("/ebok/meters?lang=en").await;
    assert_eq!(r.texts("h1"), ["Meters and readings"]);
    assert_eq!(r.texts(".alarm .alarm-what"), [leak.explanation("en").what]);
    assert!(r.texts(".alarm-advice")[0].contains(leak.explanation("en").advice));
    // The other customer sees none of it.
    let mut other = app.login("klient2").await;
    let r = other.get("/ebok/meters").await;
    assert!(r.texts("table.meters tbody th a").is_empty());
    assert!(r.texts(".alarm").is_empty());
    app.drop_db().await;
}

#[tokio::test]
async fn a_meter_page_shows_the_chart_table_and_last_year_as_the_data_layer_computes() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-2").await;
    let mut c = app.login("klient").await;
    let r = c.get(&format!("/ebok/meters/{meter}?g=day&lang=en")).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Meter KL-MAIN-2"]);
    let customer: i64 =
        sqlx::query_scalar("select customer_id from customer where number = '1001'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let today = local_day(Utc::now());
    let mut conn = app.pool.acquire().await.unwrap();
    let s = series(
        &mut conn,
        CustomerId::new(customer),
        meter,
        Granularity::Day,
        today - Duration::days(29),
        today,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        s.points.len() >= 28,
        "a month of daily use: {}",
        s.points.len()
    );
    let expected: Vec<String> = s
        .points
        .iter()
        .map(|p| ewoda_portal::ui::format::number(Lang::En, p.m3))
        .collect();
    assert_eq!(r.texts(".chart-data tbody td"), expected);
    assert!(r.body.contains("<svg"), "the chart is drawn");
    // Last year: the meter was read a year ago too, so every day has its counterpart.
    let last_year = r.texts("table.compare tbody td:nth-of-type(2)");
    assert_eq!(last_year.len(), s.points.len());
    assert!(last_year.iter().all(|v| v.ends_with("m³")), "{last_year:?}");
    assert_eq!(
        r.texts("#total-last-year"),
        [ewoda_portal::ui::format::m3(
            Lang::En,
            Volume::from_ml(s.last_year_total_ml).m3()
        )]
    );
    // The history is paged, newest first.
    let dates = r.texts("table.readings tbody th");
    assert_eq!(dates.len(), 20);
    assert!(dates[0] > dates[19]);
    let r = c
        .get(&format!("/ebok/meters/{meter}?g=month&lang=pl"))
        .await;
    assert_eq!(
        r.texts(".chart-data caption"),
        ["Dane wykresu: Zużycie miesięczne, ostatnie 12 miesięcy"]
    );
    app.drop_db().await;
}

#[tokio::test]
async fn a_reading_is_validated_beside_its_fields_in_both_languages() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-3").await;
    let today = local_day(Utc::now()).to_string();
    let mut c = app.login("klient").await;
    c.get("/ebok/meters").await;
    let r = send_reading(
        &mut c,
        meter,
        "pl",
        &[("value", "abc"), ("read_on", "")],
        None,
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-value"),
        ["Wpisz odczyt jako liczbę, np. 123,456."]
    );
    assert_eq!(
        r.texts("#e-read_on"),
        ["Wpisz datę odczytu, np. 2026-12-01."]
    );
    assert_eq!(
        r.html()
            .select(&scraper::Selector::parse("#f-value").unwrap())
            .next()
            .unwrap()
            .attr("value"),
        Some("abc")
    );
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", "abc"), ("read_on", &today)],
        None,
    )
    .await;
    assert_eq!(
        r.texts("#e-value"),
        ["Enter the reading as a number, e.g. 123,456."]
    );
    // Below the last reading of this installation.
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", "10,5"), ("read_on", &today)],
        None,
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.texts("#e-value")[0].starts_with("The reading is lower than the last reading"));
    // Far more than the history makes plausible.
    let r = send_reading(
        &mut c,
        meter,
        "pl",
        &[("value", "9999"), ("read_on", &today)],
        None,
    )
    .await;
    assert!(r.texts("#e-value")[0].starts_with("Odczyt oznacza znacznie więcej wody"));
    // A future date.
    let future = (local_day(Utc::now()) + Duration::days(3)).to_string();
    let ok_value = (last_m3(&app.pool, meter).await + rust_decimal::Decimal::new(1, 1)).to_string();
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", &ok_value), ("read_on", &future)],
        None,
    )
    .await;
    assert_eq!(r.texts("#e-read_on"), ["The date cannot be in the future, more than 31 days ago or before the meter was installed."]);
    // A photo that is not an image.
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", &ok_value), ("read_on", &today)],
        Some(("dial.png", b"MZ not an image")),
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-photo"),
        ["Only PDF, JPEG and PNG files are accepted."]
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from submitted_reading")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing stored from refused forms");
    app.drop_db().await;
}

#[tokio::test]
async fn a_reading_with_a_photo_is_pending_until_the_clerk_decides() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-4").await;
    let today = local_day(Utc::now()).to_string();
    let value = (last_m3(&app.pool, meter).await + rust_decimal::Decimal::new(25, 2))
        .to_string()
        .replace('.', ",");
    let mut c = app.login("klient").await;
    c.get("/ebok/meters").await;
    let r = send_reading(
        &mut c,
        meter,
        "pl",
        &[
            ("value", &value),
            ("read_on", &today),
            ("note", "zdjęcie w załączniku"),
        ],
        Some(("licznik.png", PNG)),
    )
    .await;
    r.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        Some(format!("/ebok/meters/{meter}?sent=1").as_str())
    );
    let (status, content_type, note): (String, String, Option<String>) = sqlx::query_as(
        "select s.status, a.content_type, s.note from submitted_reading s join attachment a using (attachment_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), content_type.as_str(), note.as_deref()),
        ("pending", "image/png", Some("zdjęcie w załączniku"))
    );
    let r = c.get(&format!("/ebok/meters/{meter}?sent=1&lang=en")).await;
    assert_eq!(
        r.texts("p.notice[role=status]"),
        ["Thank you. Your reading was sent and waits for the office to accept it."]
    );
    assert_eq!(
        r.texts("table.submissions td.status.pending"),
        ["pending — waiting for the office"]
    );
    // The customer can open the photo sent; another customer cannot.
    let sel = scraper::Selector::parse("table.submissions a[href^='/ebok/attachments/']").unwrap();
    let href = r
        .html()
        .select(&sel)
        .next()
        .and_then(|a| a.attr("href").map(str::to_string))
        .expect("a link to the photo");
    let photo = c.get(&href).await;
    photo.assert_status(StatusCode::OK);
    assert_eq!(photo.bytes, PNG);
    assert_eq!(photo.headers["content-type"], "image/png");
    let mut other = app.login("klient2").await;
    other.get(&href).await.assert_status(StatusCode::NOT_FOUND);
    // A second one while the first waits.
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", &value), ("read_on", &today)],
        None,
    )
    .await;
    assert_eq!(
        r.texts("#e-meter_id"),
        ["A reading of this meter is already waiting for the office."]
    );
    app.drop_db().await;
}

#[tokio::test]
async fn another_customers_meter_is_not_found() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-5").await;
    let mut other = app.login("klient2").await;
    other.get("/ebok/meters").await;
    other
        .get(&format!("/ebok/meters/{meter}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let today = local_day(Utc::now()).to_string();
    let r = send_reading(
        &mut other,
        meter,
        "pl",
        &[("value", "99999"), ("read_on", &today)],
        Some(("a.png", PNG)),
    )
    .await;
    r.assert_status(StatusCode::NOT_FOUND);
    let n: i64 = sqlx::query_scalar(
        "select (select count(*) from submitted_reading) + (select count(*) from attachment)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
    app.drop_db().await;
}

/// Files under the test's attachment directory.
fn attachment_files(app: &TestApp) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            count(&p)
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&app.state.config.data_dir.join("attachments"))
}

#[tokio::test]
async fn a_refused_reading_leaves_no_photo_behind() {
    let app = TestApp::new().await;
    let meter = meter_of(&app.pool, "1001", "KL-MAIN-ORPHAN").await;
    let today = local_day(Utc::now()).to_string();
    let mut c = app.login("klient").await;
    c.get("/ebok/meters").await;
    // A valid photo with a reading below the last one: the data layer refuses the reading.
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", "10,5"), ("read_on", &today)],
        Some(("dial.png", PNG)),
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.texts("#e-value")[0].starts_with("The reading is lower than the last reading"));
    let rows: i64 = sqlx::query_scalar("select count(*) from attachment")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((rows, attachment_files(&app)), (0, 0), "no row, no file");
    // An accepted one keeps its photo.
    let value = (last_m3(&app.pool, meter).await + rust_decimal::Decimal::new(25, 2))
        .to_string()
        .replace('.', ",");
    let r = send_reading(
        &mut c,
        meter,
        "en",
        &[("value", &value), ("read_on", &today)],
        Some(("dial.png", PNG)),
    )
    .await;
    r.assert_status(StatusCode::SEE_OTHER);
    let rows: i64 = sqlx::query_scalar("select count(*) from attachment")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((rows, attachment_files(&app)), (1, 1));
    app.drop_db().await;
}
