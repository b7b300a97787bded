//! eBOK applications: the forms list, a form rendered from its definition, validation in both
//! languages, submission with an attachment into a numbered case with history; another
//! customer's case is 404.

use crate::support::{TestApp, TestClient, TestResponse};
use axum::http::{Method, StatusCode};
use chrono::Utc;
use ewoda_portal::store::application;
use std::collections::BTreeMap;

/// A general request filed by `owner` through the data layer; returns its id.
pub async fn case_of(app: &TestApp, owner: &str) -> i64 {
    let id = crate::support::customer_id(&app.pool, crate::support::number_of(owner)).await;
    let values = BTreeMap::from([
        ("subject".to_string(), "Pytanie".to_string()),
        ("content".to_string(), "Treść".to_string()),
    ]);
    application::submit(&app.pool, id, "general_request", &values, &[], Utc::now())
        .await
        .unwrap()
        .application_id
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--B0\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        b.extend_from_slice(
            format!("--B0\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{name}\"\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"--B0--\r\n");
    b
}

async fn file(
    c: &mut TestClient,
    kind: &str,
    lang: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> TestResponse {
    let token = c.csrf.clone().unwrap_or_default();
    c.send(
        Method::POST,
        &format!("/ebok/applications/new/{kind}?csrf={token}&lang={lang}"),
        multipart(fields, files),
        Some("multipart/form-data; boundary=B0"),
        &[],
    )
    .await
}

#[tokio::test]
async fn every_seeded_form_is_listed_and_renders_from_its_definition() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/applications/new?lang=pl").await;
    r.assert_status(StatusCode::OK);
    let mut conn = app.pool.acquire().await.unwrap();
    let defs = application::forms(&mut conn).await.unwrap();
    assert_eq!(
        r.texts("ul.forms li a").len(),
        defs.iter().filter(|d| d.active).count()
    );
    assert!(defs.len() >= 14);
    for d in defs.iter().filter(|d| d.active) {
        let r = c
            .get(&format!("/ebok/applications/new/{}?lang=en", d.code))
            .await;
        r.assert_status(StatusCode::OK);
        assert_eq!(r.texts("h1"), std::slice::from_ref(&d.title_en));
        let labels = r.texts("form .field label");
        for f in &d.fields {
            assert!(
                labels.iter().any(|l| l.starts_with(&f.label_en)),
                "{}: {}",
                d.code,
                f.name
            );
        }
    }
    c.get("/ebok/applications/new/no_such_form")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.drop_db().await;
}

#[tokio::test]
async fn a_form_is_validated_against_its_definition_then_becomes_a_numbered_case() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    c.get("/ebok/applications").await;
    let r = file(
        &mut c,
        "general_request",
        "pl",
        &[
            ("fields.subject", "Przyłącze"),
            ("fields.reply_by", "pigeon"),
        ],
        &[],
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.texts("#e-content"), ["To pole jest wymagane."]);
    assert_eq!(r.texts("#e-reply_by"), ["Wybierz jedną z możliwości."]);
    let sel = scraper::Selector::parse("#f-subject").unwrap();
    assert_eq!(
        r.html().select(&sel).next().unwrap().attr("value"),
        Some("Przyłącze")
    );
    let r = file(
        &mut c,
        "general_request",
        "en",
        &[("fields.subject", "Connection")],
        &[],
    )
    .await;
    assert_eq!(r.texts("#e-content"), ["This field is required."]);
    let r = file(
        &mut c,
        "general_request",
        "en",
        &[("fields.subject", "S"), ("fields.content", "C")],
        &[("a.exe", b"MZ")],
    )
    .await;
    assert_eq!(
        r.texts("#e-attachments"),
        ["Only PDF, JPEG and PNG files are accepted."]
    );
    let none: i64 = sqlx::query_scalar(
        "select (select count(*) from application) + (select count(*) from attachment)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(none, 0, "refused forms store nothing");

    let r = file(
        &mut c,
        "general_request",
        "pl",
        &[
            ("fields.subject", "Przyłącze"),
            ("fields.content", "Proszę o informację."),
            ("fields.reply_by", "email"),
        ],
        &[("mapa.pdf", b"%PDF-1.4 mapa")],
    )
    .await;
    r.assert_status(StatusCode::SEE_OTHER);
    let location = r.location().unwrap().to_string();
    let r = c.get(&location).await;
    r.assert_status(StatusCode::OK);
    let year = chrono::Datelike::year(&Utc::now());
    assert_eq!(r.texts("h1"), [format!("Sprawa WN/{year}/00001")]);
    assert_eq!(r.texts("#status"), ["złożony"]);
    assert_eq!(
        r.texts("dl.values dd"),
        ["Przyłącze", "Proszę o informację.", "email"]
    );
    assert_eq!(r.texts("ul.files li"), ["mapa.pdf (application/pdf)"]);
    assert_eq!(
        r.texts("table.history tbody td:nth-of-type(1)"),
        ["złożono"]
    );
    let r = c.get("/ebok/applications?lang=en").await;
    assert_eq!(
        r.texts("table.cases tbody th a"),
        [format!("WN/{year}/00001")]
    );
    assert_eq!(r.texts("table.cases td.status"), ["filed"]);
    app.drop_db().await;
}

#[tokio::test]
async fn another_customers_case_is_not_found() {
    let app = TestApp::new().await;
    let id = case_of(&app, "klient").await;
    let mut other = app.login("klient2").await;
    other
        .get(&format!("/ebok/applications/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let r = other.get("/ebok/applications").await;
    assert!(r.texts("table.cases tbody tr").is_empty());
    let mut owner = app.login("klient").await;
    owner
        .get(&format!("/ebok/applications/{id}"))
        .await
        .assert_status(StatusCode::OK);
    app.drop_db().await;
}
