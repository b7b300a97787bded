//! Applications: every SPEC §3.4 form seeded, validation naming `fields.<name>`, gap-free case
//! numbers per year, attachments of the customer only, status history, staff-added forms.

use super::attachment::{scratch_dir, JPEG};
use super::{refused, two};
use chrono::{TimeZone, Utc};
use ewoda_portal::store::application::{self, FieldDef, FieldType};
use ewoda_portal::store::attachment::{self, AttachmentKind, AttachmentStore};
use sqlx::PgPool;
use std::collections::BTreeMap;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn every_spec_form_is_seeded_with_both_languages(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let forms = application::forms(&mut conn).await.unwrap();
    let codes: Vec<&str> = forms.iter().map(|f| f.code.as_str()).collect();
    for code in [
        "technical_conditions",
        "supply_contract",
        "sewage_contract",
        "submeter_conditions",
        "meter_verification",
        "overpayment_refund",
        "invoice_correction",
        "instalments",
        "billing_data_change",
        "termination",
        "handover_protocol",
        "septic_pickup",
        "meter_replacement",
        "general_request",
    ] {
        assert!(codes.contains(&code), "{code} missing");
    }
    for f in &forms {
        assert!(
            application::check_definition(f).is_empty(),
            "{}: {:?}",
            f.code,
            application::check_definition(f)
        );
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn submission_validates_numbers_links_and_is_scoped(pool: PgPool) {
    let (a, b, _) = two(&pool).await;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let bad = application::submit(
        &pool,
        a,
        "overpayment_refund",
        &values(&[("iban", "PL00 1234"), ("amount", "dużo"), ("color", "red")]),
        &[],
        now,
    )
    .await;
    assert_eq!(
        refused(bad),
        [
            ("fields.color".to_string(), "unknown"),
            ("fields.iban".to_string(), "invalid"),
            ("fields.account_holder".to_string(), "required"),
            ("fields.amount".to_string(), "invalid")
        ]
    );
    let dir = scratch_dir(&pool).await;
    let store = AttachmentStore::new(&dir, AttachmentStore::DEFAULT_MAX_BYTES);
    let mine = attachment::save(
        &pool,
        &store,
        a,
        AttachmentKind::Attachment,
        "akt.jpg",
        JPEG,
    )
    .await
    .unwrap();
    let theirs = attachment::save(&pool, &store, b, AttachmentKind::Attachment, "b.jpg", JPEG)
        .await
        .unwrap();
    let form = values(&[
        ("meter", "0012345"),
        ("reason", "Licznik kręci się bez poboru wody"),
        ("reading", "123,456"),
    ]);
    let foreign = application::submit(
        &pool,
        a,
        "meter_verification",
        &form,
        &[mine.attachment_id, theirs.attachment_id],
        now,
    )
    .await;
    assert_eq!(
        refused(foreign),
        [("attachments[1]".to_string(), "not_found")]
    );
    let apps: i64 = sqlx::query_scalar("select count(*) from application")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(apps, 0, "nothing half-saved");

    let first = application::submit(
        &pool,
        a,
        "meter_verification",
        &form,
        &[mine.attachment_id],
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        first.number, "WN/2026/00001",
        "the refused submission gave its number back"
    );
    let second = application::submit(
        &pool,
        b,
        "general_request",
        &values(&[("subject", "Pytanie"), ("content", "Treść")]),
        &[],
        now,
    )
    .await
    .unwrap();
    assert_eq!(second.number, "WN/2026/00002");
    let next_year = Utc.with_ymd_and_hms(2027, 1, 2, 9, 0, 0).unwrap();
    let third = application::submit(
        &pool,
        b,
        "general_request",
        &values(&[("subject", "x"), ("content", "y")]),
        &[],
        next_year,
    )
    .await
    .unwrap();
    assert_eq!(third.number, "WN/2027/00001");

    let mut conn = pool.acquire().await.unwrap();
    let case = application::case(&mut conn, a, first.application_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.summary.status, "submitted");
    assert_eq!(case.form["reading"], "123.456");
    assert_eq!(
        case.events
            .iter()
            .map(|e| e.event.as_str())
            .collect::<Vec<_>>(),
        ["submitted"]
    );
    assert_eq!(
        case.attachments
            .iter()
            .map(|f| f.attachment_id)
            .collect::<Vec<_>>(),
        [mine.attachment_id]
    );
    assert!(application::case(&mut conn, b, first.application_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        application::of_customer(&mut conn, a).await.unwrap().len(),
        1
    );
    assert_eq!(
        application::of_customer(&mut conn, b).await.unwrap().len(),
        2
    );
    let no_files = application::submit(
        &pool,
        a,
        "septic_pickup",
        &values(&[
            ("address", "ul. Polna 1"),
            ("volume_m3", "5"),
            ("preferred_date", "2026-12-10"),
            ("phone", "600100200"),
        ]),
        &[mine.attachment_id],
        now,
    )
    .await;
    assert_eq!(
        refused(no_files),
        [("attachments".to_string(), "not_allowed")]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn staff_add_a_form_without_code(pool: PgPool) {
    let (a, _, _) = two(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let mut def = application::form(&mut conn, "general_request")
        .await
        .unwrap()
        .unwrap();
    def.code = "hydrant_access".into();
    def.title_pl = "Zgoda na pobór wody z hydrantu".into();
    def.title_en = "Permission to draw water from a hydrant".into();
    def.attachments_allowed = false;
    def.fields = vec![FieldDef {
        name: "event_date".into(),
        kind: FieldType::Date,
        required: true,
        label_pl: "Data".into(),
        label_en: "Date".into(),
        help_pl: String::new(),
        help_en: String::new(),
        options: vec![],
    }];
    application::save_form(&pool, &def, "user:admin")
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    assert_eq!(
        refused(
            application::submit(
                &pool,
                a,
                "hydrant_access",
                &values(&[("event_date", "31.12.2026")]),
                &[],
                now
            )
            .await
        ),
        [("fields.event_date".to_string(), "invalid")]
    );
    application::submit(
        &pool,
        a,
        "hydrant_access",
        &values(&[("event_date", "2026-12-31")]),
        &[],
        now,
    )
    .await
    .unwrap();
    let mut broken = def.clone();
    broken.fields.push(broken.fields[0].clone());
    assert_eq!(
        refused(application::save_form(&pool, &broken, "user:admin").await),
        [("fields[1].name".to_string(), "duplicate")]
    );
    assert_eq!(
        refused(application::submit(&pool, a, "no_such_form", &values(&[]), &[], now).await),
        [("form".to_string(), "not_found")]
    );
}
