//! The OpenAPI 3.1 document of `/api/v1`, written by hand beside the routes (every path of
//! `ROUTES` is in it: a test checks). Schemas name the fields the JSON carries; money and m³
//! are decimal strings, dates ISO.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn get(summary: &str, schema: &str, params: Value) -> Value {
    json!({"get": {
        "summary": summary,
        "security": [{"session": []}],
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
            "401": error("not logged in (POST /login first)"),
            "403": error("logged in, but not as a customer"),
            "404": error("not found, or not the customer's"),
            "422": error("a parameter was refused: `fields` names it")
        }
    }})
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn list(item: &str) -> Value {
    json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}})
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": kind}})
}

fn object(fields: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> =
        fields.iter().map(|f| (f.to_string(), json!({}))).collect();
    json!({"type": "object", "properties": props, "required": fields})
}

fn paged(item: &str) -> Value {
    json!({"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}
    }})
}

/// The document.
pub fn spec() -> Value {
    let paging = [
        query("page", "integer", "1-based page"),
        query("per_page", "integer", "rows per page, at most 200"),
    ];
    let mut invoice_params = vec![
        query("status", "string", "paid, open or overdue"),
        query("kind", "string", "VAT or KOR"),
        query("issued_from", "string", "issued on or after (YYYY-MM-DD)"),
        query("issued_to", "string", "issued on or before (YYYY-MM-DD)"),
        query("contract_id", "integer", "of this contract"),
    ];
    invoice_params.extend(paging.iter().cloned());
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ewoda eBOK API", "version": "1"},
        "paths": {
            "/api/v1/me/balance": get("The customer's balance, next due payment and open items", "AccountSummary", json!([])),
            "/api/v1/invoices": get("The customer's invoices and corrections, newest first", "InvoicePage", json!(invoice_params)),
            "/api/v1/invoices/{id}": get("One invoice with lines, VAT per rate, KSeF number, corrections and payments", "InvoiceDetail", id.clone()),
            "/api/v1/payments": get("The customer's payments with their allocations, newest first", "PaymentPage", json!(paging)),
            "/api/v1/meters": get("The meters on the customer's premises, with the last reading", "MeterList", json!([])),
            "/api/v1/meters/{id}/readings": get("A meter's readings, newest first (m³ as decimal strings, ml exact)", "ReadingPage", json!([id[0].clone(), paging[0].clone(), paging[1].clone()])),
            "/api/v1/meters/{id}/consumption": get("A meter's use per day, month or year, with the same range a year earlier", "ConsumptionSeries", json!([
                id[0].clone(),
                query("granularity", "string", "day, month (default) or year"),
                query("from", "string", "first day (YYYY-MM-DD); default as the meter page"),
                query("to", "string", "last day (YYYY-MM-DD); default today")
            ])),
            "/api/v1/me/profile": get("Contact data, contact change requests, consents with history, notification preferences", "Profile", json!([])),
            "/api/v1/applications": get("The customer's applications (cases), newest first", "CaseList", json!([])),
            "/api/v1/applications/{id}": get("One application with its values, status history and attachments", "CaseDetail", id.clone()),
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}}
        },
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "ewoda_session", "description": "the session cookie of POST /login"}},
            "schemas": {
                "AccountSummary": object(&["balance", "to_pay", "overpayment", "overdue", "next_due", "open_items", "account"]),
                "InvoiceSummary": object(&["invoice_id", "number", "kind", "corrects_invoice_id", "contract_id", "period_from", "period_to", "issued_on", "due_on", "gross", "paid", "open", "status", "estimated", "ksef_number"]),
                "InvoicePage": paged("InvoiceSummary"),
                "InvoiceDetail": object(&["summary", "net", "vat", "correction_reason", "corrects_number", "lines", "vat_rows", "corrections", "payments"]),
                "PaymentView": object(&["payment_id", "booked_on", "amount", "source", "title", "allocations", "unallocated"]),
                "PaymentPage": paged("PaymentView"),
                "MeterView": object(&["meter_id", "serial", "role", "parent_meter_id", "premises_id", "installed_at", "removed_at", "verified_until", "last_reading"]),
                "MeterList": list("MeterView"),
                "ReadingView": object(&["read_at", "volume_ml", "volume_m3", "source", "quality"]),
                "ReadingPage": paged("ReadingView"),
                "ConsumptionSeries": object(&["points", "total_ml", "last_year", "last_year_total_ml"]),
                "Profile": object(&["contact", "contact_changes", "consents", "consent_history", "preferences"]),
                "CaseSummary": object(&["application_id", "number", "kind", "status", "created_at"]),
                "CaseList": list("CaseSummary"),
                "CaseDetail": object(&["summary", "form", "events", "attachments"]),
                "Error": {"type": "object", "required": ["error", "message", "fields"], "properties": {
                    "error": {"type": "string", "description": "not_found, forbidden, login_required, invalid, …"},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": object(&["field", "code", "message"])}
                }}
            }
        }
    })
}

pub async fn document() -> Response {
    Json(spec()).into_response()
}
