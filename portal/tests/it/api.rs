//! The JSON API beyond money: meters (readings, consumption), profile, applications — the
//! same scoped data as the pages — JSON errors (never HTML) and the OpenAPI document, which
//! must list every API route of the router.

use crate::support::{TestApp, TestResponse};
use axum::http::StatusCode;
use ewoda_portal::app::Method;
use serde_json::Value;

fn json(r: &TestResponse) -> Value {
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "not JSON: {} {}",
        r.status,
        r.body
    );
    serde_json::from_str(&r.body).unwrap()
}

/// The `required` fields of schema `name` in the OpenAPI document are all in `value`.
fn conforms(doc: &Value, name: &str, value: &Value) {
    let schema = &doc["components"]["schemas"][name];
    for field in schema["required"].as_array().expect(name) {
        let field = field.as_str().unwrap();
        assert!(
            value.get(field).is_some(),
            "{name}.{field} missing in {value}"
        );
    }
}

#[tokio::test]
async fn meters_readings_and_consumption_as_json_within_scope() {
    let app = TestApp::new().await;
    let doc = json(&app.anonymous().get("/api/v1/openapi.json").await);
    let mine = crate::meters::meter_of(&app.pool, "1001", "API-M-1").await;
    let theirs = crate::meters::meter_of(&app.pool, "1002", "API-M-2").await;
    let mut c = app.login("klient").await;
    let list = json(&c.get("/api/v1/meters").await);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["meter_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine]);
    conforms(&doc, "MeterView", &list[0]);
    let r = json(
        &c.get(&format!("/api/v1/meters/{mine}/readings?per_page=5"))
            .await,
    );
    conforms(&doc, "ReadingPage", &r);
    assert_eq!(
        (r["total"].as_i64(), r["per_page"].as_i64()),
        (Some(399), Some(5))
    );
    conforms(&doc, "ReadingView", &r["items"][0]);
    // Exact units: ml an integer, m³ a decimal string.
    assert!(r["items"][0]["volume_ml"].is_i64());
    assert!(r["items"][0]["volume_m3"].is_string());
    let s = json(
        &c.get(&format!(
            "/api/v1/meters/{mine}/consumption?granularity=day"
        ))
        .await,
    );
    conforms(&doc, "ConsumptionSeries", &s);
    // The meter page's day range: the last 30 days up to today (in Warsaw).
    let today = ewoda_common::time::local_day(chrono::Utc::now());
    let from = today - chrono::Duration::days(29);
    assert_eq!(
        (s["from"].as_str(), s["to"].as_str()),
        (
            Some(from.to_string().as_str()),
            Some(today.to_string().as_str())
        )
    );
    assert!(!s["points"].as_array().unwrap().is_empty());
    for path in [
        format!("/api/v1/meters/{theirs}/readings"),
        format!("/api/v1/meters/{theirs}/consumption"),
        "/api/v1/meters/abc/readings".to_string(),
    ] {
        let r = c.get(&path).await;
        r.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(json(&r)["error"], "not_found", "{path}");
    }
    let r = c
        .get(&format!(
            "/api/v1/meters/{mine}/consumption?granularity=week&from=2026-13-01"
        ))
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = json(&r)["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["granularity", "from"]);
    // The data layer's own refusal (from after to) is a 422 naming `from` too.
    let r = c
        .get(&format!(
            "/api/v1/meters/{mine}/consumption?from=2026-06-01&to=2026-01-01"
        ))
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&r)["fields"][0]["field"], "from");
    app.drop_db().await;
}

#[tokio::test]
async fn profile_and_applications_as_json_within_scope() {
    let app = TestApp::new().await;
    let doc = json(&app.anonymous().get("/api/v1/openapi.json").await);
    let mine = crate::applications::case_of(&app, "klient").await;
    let theirs = crate::applications::case_of(&app, "klient2").await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await;
    c.post("/ebok/profile/consents", &[("marketing", "on")])
        .await;
    let p = json(&c.get("/api/v1/me/profile").await);
    conforms(&doc, "Profile", &p);
    assert_eq!(p["contact"]["email"], "anna@example.pl");
    let marketing: Vec<&Value> = p["consents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "marketing")
        .collect();
    assert_eq!(marketing[0]["granted"], true);
    assert_eq!(
        p["preferences"].as_array().unwrap().len(),
        21,
        "7 topics × 3 channels"
    );
    let list = json(&c.get("/api/v1/applications").await);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["application_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine]);
    conforms(&doc, "CaseSummary", &list[0]);
    let d = json(&c.get(&format!("/api/v1/applications/{mine}")).await);
    conforms(&doc, "CaseDetail", &d);
    assert!(
        !d["events"].as_array().unwrap().is_empty(),
        "status history"
    );
    let r = c.get(&format!("/api/v1/applications/{theirs}")).await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(json(&r)["error"], "not_found");
    app.drop_db().await;
}

#[tokio::test]
async fn api_errors_are_json_never_html() {
    let app = TestApp::new().await;
    // Not logged in: 401, not the login redirect.
    let r = app.anonymous().get("/api/v1/meters").await;
    r.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(json(&r)["error"], "login_required");
    // Staff are not customers: 403.
    let mut staff = app.login("urzednik").await;
    let r = staff.get("/api/v1/me/profile").await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(json(&r)["error"], "forbidden");
    let mut c = app.login("klient").await;
    // No such route: 404 JSON, not the HTML page.
    let r = c.get("/api/v1/no-such-thing").await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(json(&r)["fields"], serde_json::json!([]));
    // A query axum cannot parse: 422 naming the parameter.
    let r = c.get("/api/v1/invoices?issued_from=yesterday").await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let v = json(&r);
    assert_eq!(
        (v["error"].as_str(), v["fields"][0]["field"].as_str()),
        (Some("invalid"), Some("issued_from"))
    );
    app.drop_db().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_and_nothing_else() {
    let app = TestApp::new().await;
    let r = app.anonymous().get("/api/v1/openapi.json").await;
    r.assert_status(StatusCode::OK);
    let doc = json(&r);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Walk the routes the router serves under /api/ (every area's list).
    let api: Vec<_> = ewoda_portal::app::all_routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    assert!(api.len() >= 11, "{}", api.len());
    for rule in &api {
        let method = match rule.method {
            Method::Get => "get",
            Method::Post => "post",
        };
        assert!(
            paths.get(rule.path).and_then(|p| p.get(method)).is_some(),
            "{method} {} missing from openapi.json",
            rule.path
        );
        // Every parameter in the path is declared.
        if rule.path.contains("{id}") {
            let params = paths[rule.path][method]["parameters"].as_array().unwrap();
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path"),
                "{}",
                rule.path
            );
        }
    }
    for path in paths.keys() {
        assert!(
            api.iter().any(|r| r.path == path),
            "{path} is documented but not routed"
        );
    }
    // Every schema reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    app.drop_db().await;
}
