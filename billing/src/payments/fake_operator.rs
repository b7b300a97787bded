//! A fake Przelewy24-style operator for tests: an HTTP server on 127.0.0.1 speaking the same
//! REST protocol (register with basic auth and sign → token; verify with sign → success), plus
//! the operator's side of a payment: marking a transaction paid and POSTing the signed
//! notification to the shop's status URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::online::{
    notification_sign, register_sign, verify_sign, Notification, P24Config, RegisterRequest,
    VerifyRequest,
};
use super::PaymentError;

/// One registered transaction as the fake operator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTransaction {
    /// The registration as received.
    pub request: RegisterRequest,
    /// Order id, once paid.
    pub order_id: Option<i64>,
    /// Whether the shop verified it.
    pub verified: bool,
}

#[derive(Debug, Default)]
struct Book {
    by_token: HashMap<String, FakeTransaction>,
    next_order: i64,
}

struct Shared {
    merchant_id: i64,
    pos_id: i64,
    api_key: String,
    crc: String,
    book: Mutex<Book>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("merchant_id", &self.merchant_id)
            .field("pos_id", &self.pos_id)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        // A panicking handler cannot leave the book half-updated: every update is one insert.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake operator; the server stops when this is dropped.
#[derive(Debug)]
pub struct FakeOperator {
    base_url: String,
    shared: Arc<Shared>,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOperator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOperator {
    /// Starts a fake operator on 127.0.0.1 (a free port) for these merchant credentials.
    pub async fn start(
        merchant_id: i64,
        pos_id: i64,
        api_key: &str,
        crc: &str,
    ) -> std::io::Result<FakeOperator> {
        let shared = Arc::new(Shared {
            merchant_id,
            pos_id,
            api_key: api_key.to_string(),
            crc: crc.to_string(),
            book: Mutex::new(Book {
                by_token: HashMap::new(),
                next_order: 300_000_001,
            }),
        });
        let app = Router::new()
            .route("/api/v1/transaction/register", post(register))
            .route("/api/v1/transaction/verify", put(verify))
            .route("/trnRequest/{token}", get(payment_page))
            .route("/trnRequest/{token}/pay", post(pay_button))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // The server ends when the task is aborted; an accept error ends it early.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeOperator {
            base_url: format!("http://{addr}"),
            shared,
            http: super::online::http_client(),
            server,
        })
    }

    /// The base URL to configure the shop's client with.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Shop configuration that talks to this fake.
    pub fn config(&self) -> P24Config {
        P24Config {
            base_url: self.base_url.clone(),
            merchant_id: self.shared.merchant_id,
            pos_id: self.shared.pos_id,
            api_key: self.shared.api_key.clone(),
            crc: self.shared.crc.clone(),
        }
    }

    /// The transaction registered under `token`.
    pub fn transaction(&self, token: &str) -> Option<FakeTransaction> {
        self.shared.book().by_token.get(token).cloned()
    }

    /// The payer pays in full: assigns an order id and returns the signed notification the
    /// operator sends (the same one on every call for one token).
    pub fn pay(&self, token: &str) -> Result<Notification, PaymentError> {
        pay_in(&self.shared, token)
    }

    /// POSTs `notification` as JSON to the status URL registered for its session; returns the
    /// shop's HTTP status code.
    pub async fn deliver(&self, notification: &Notification) -> Result<u16, PaymentError> {
        deliver_in(&self.shared, &self.http, notification).await
    }
}

fn pay_in(shared: &Shared, token: &str) -> Result<Notification, PaymentError> {
    let mut book = shared.book();
    let order = book.next_order;
    let t = book
        .by_token
        .get_mut(token)
        .ok_or_else(|| PaymentError::Operator(format!("unknown token {token:?}")))?;
    let order_id = *t.order_id.get_or_insert(order);
    let request = t.request.clone();
    if order_id == order {
        book.next_order += 1;
    }
    let mut n = Notification {
        merchant_id: shared.merchant_id,
        pos_id: shared.pos_id,
        session_id: request.session_id,
        amount: request.amount,
        origin_amount: request.amount,
        currency: request.currency,
        order_id,
        method_id: 25,
        statement: format!("p24-{order_id}"),
        sign: String::new(),
    };
    n.sign = notification_sign(&n, &shared.crc);
    Ok(n)
}

async fn deliver_in(
    shared: &Shared,
    http: &reqwest::Client,
    notification: &Notification,
) -> Result<u16, PaymentError> {
    let url = shared
        .book()
        .by_token
        .values()
        .find(|t| t.request.session_id == notification.session_id)
        .map(|t| t.request.url_status.clone())
        .ok_or_else(|| {
            PaymentError::Operator(format!("no session {:?}", notification.session_id))
        })?;
    let response = http
        .post(url)
        .json(notification)
        .send()
        .await
        .map_err(|e| PaymentError::Operator(format!("notify: {e}")))?;
    Ok(response.status().as_u16())
}

/// The payer presses "pay" on the operator's page (demo and browser tests): the operator
/// notifies the shop, then sends the payer back to the shop's return URL.
async fn pay_button(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let back = shared
        .book()
        .by_token
        .get(&token)
        .map(|t| t.request.url_return.clone());
    let Some(back) = back else {
        return (StatusCode::NOT_FOUND, "unknown token").into_response();
    };
    let delivered = match pay_in(&shared, &token) {
        Ok(n) => deliver_in(&shared, &super::online::http_client(), &n).await,
        Err(e) => Err(e),
    };
    match delivered {
        Ok(_) => axum::response::Redirect::to(&back).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn error(code: StatusCode, message: &str) -> (StatusCode, Json<Value>) {
    (code, Json(json!({"error": message, "code": code.as_u16()})))
}

fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64(format!("{}:{}", shared.pos_id, shared.api_key).as_bytes())
    );
    headers
        .get(axum::http::header::AUTHORIZATION)
        .is_some_and(|v| ewoda_common::secret::ct_eq(v.as_bytes(), expected.as_bytes()))
}

async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(r): Json<RegisterRequest>,
) -> (StatusCode, Json<Value>) {
    if !authorised(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect authentication");
    }
    if r.merchant_id != shared.merchant_id || r.pos_id != shared.pos_id {
        return error(StatusCode::BAD_REQUEST, "Invalid merchantId or posId");
    }
    let expected = register_sign(
        &r.session_id,
        r.merchant_id,
        r.amount,
        &r.currency,
        &shared.crc,
    );
    if !ewoda_common::secret::ct_eq_hex(&r.sign, &expected) {
        return error(StatusCode::BAD_REQUEST, "Incorrect sign");
    }
    if r.amount <= 0 || r.currency != "PLN" {
        return error(StatusCode::BAD_REQUEST, "Incorrect amount or currency");
    }
    let mut book = shared.book();
    if book
        .by_token
        .values()
        .any(|t| t.request.session_id == r.session_id)
    {
        return error(StatusCode::BAD_REQUEST, "Transaction already registered");
    }
    let token = format!("FAKE-{:08X}-{}", book.by_token.len() + 1, r.amount);
    book.by_token.insert(
        token.clone(),
        FakeTransaction {
            request: r,
            order_id: None,
            verified: false,
        },
    );
    (
        StatusCode::OK,
        Json(json!({"data": {"token": token}, "responseCode": 0})),
    )
}

async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(v): Json<VerifyRequest>,
) -> (StatusCode, Json<Value>) {
    if !authorised(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect authentication");
    }
    let expected = verify_sign(
        &v.session_id,
        v.order_id,
        v.amount,
        &v.currency,
        &shared.crc,
    );
    if !ewoda_common::secret::ct_eq_hex(&v.sign, &expected) {
        return error(StatusCode::BAD_REQUEST, "Incorrect sign");
    }
    let mut book = shared.book();
    let found = book.by_token.values_mut().find(|t| {
        t.request.session_id == v.session_id
            && t.order_id == Some(v.order_id)
            && t.request.amount == v.amount
            && t.request.currency == v.currency
    });
    match found {
        Some(t) => {
            t.verified = true;
            (
                StatusCode::OK,
                Json(json!({"data": {"status": "success"}, "responseCode": 0})),
            )
        }
        None => error(
            StatusCode::BAD_REQUEST,
            "Transaction not found or data mismatch",
        ),
    }
}

async fn payment_page(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> (StatusCode, axum::response::Html<String>) {
    // A minimal page with the amount and one button, so a person (demo, browser tests) can pay.
    match shared.book().by_token.get(&token) {
        Some(t) => (
            StatusCode::OK,
            axum::response::Html(format!(
                "<!doctype html><html lang=\"pl\"><head><meta charset=\"utf-8\"><title>Operator płatności (test)</title></head>\
                 <body><main><h1>Płatność {} gr</h1><p>{}</p>\
                 <form method=\"post\" action=\"/trnRequest/{}/pay\"><button type=\"submit\">Zapłać</button></form></main></body></html>",
                t.request.amount,
                t.request.description.replace('<', "&lt;"),
                token.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
            )),
        ),
        None => (
            StatusCode::NOT_FOUND,
            axum::response::Html("unknown token".to_string()),
        ),
    }
}

/// Standard base64 (RFC 4648, padded) for the basic-auth header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
