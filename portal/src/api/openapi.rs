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
            "303": {"description": "not logged in: sent to /login"},
            "404": {"description": "not found, or not the customer's"}
        }
    }})
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
            "/api/v1/invoices/{id}": get("One invoice with lines, VAT per rate, KSeF number, corrections and payments", "InvoiceDetail", id),
            "/api/v1/payments": get("The customer's payments with their allocations, newest first", "PaymentPage", json!(paging)),
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
                "PaymentPage": paged("PaymentView")
            }
        }
    })
}

pub async fn document() -> Response {
    Json(spec()).into_response()
}
