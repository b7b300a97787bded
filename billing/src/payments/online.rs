//! Online payments through a Przelewy24-style operator: the shop registers a transaction
//! (signed with SHA-384 over a JSON of the key fields and the CRC key) and gets a token to
//! redirect the payer to; the operator then POSTs a signed notification to the shop's status
//! URL; the shop checks the signature, amount and currency against what it registered, asks
//! the operator to verify, and only then posts the payment — once per operator order id.

use std::future::Future;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha384};
use sqlx::PgPool;

use super::allocation::{post_and_allocate, Allocation};
use super::matching::MatchedBy;
use super::PaymentError;

/// What the shop asks the payer to pay online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineOrder {
    /// The shop's unique id of this attempt (at most 100 characters).
    pub session_id: String,
    /// Whose payment it will be.
    pub customer_id: i64,
    /// The invoice being paid, allocated first.
    pub invoice_id: Option<i64>,
    /// Amount in PLN (two decimals at most).
    pub amount: Decimal,
    /// Shown to the payer.
    pub description: String,
    /// The payer's email.
    pub email: String,
    /// Where the payer comes back to.
    pub url_return: String,
    /// Where the operator POSTs the notification.
    pub url_status: String,
}

/// The operator's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The operator's transaction token.
    pub token: String,
    /// Where to send the payer.
    pub redirect_url: String,
}

/// What the shop keeps of a registered transaction to check notifications against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTransaction {
    /// The shop's session id.
    pub session_id: String,
    /// Whose payment it is.
    pub customer_id: i64,
    /// The invoice to allocate to first.
    pub invoice_id: Option<i64>,
    /// Amount in PLN.
    pub amount: Decimal,
    /// Currency (PLN).
    pub currency: String,
}

impl From<&OnlineOrder> for RegisteredTransaction {
    fn from(o: &OnlineOrder) -> Self {
        RegisteredTransaction {
            session_id: o.session_id.clone(),
            customer_id: o.customer_id,
            invoice_id: o.invoice_id,
            amount: o.amount,
            currency: CURRENCY.to_string(),
        }
    }
}

/// The operator's payment notification (P24 `urlStatus` body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Merchant id.
    pub merchant_id: i64,
    /// Shop (POS) id.
    pub pos_id: i64,
    /// The shop's session id.
    pub session_id: String,
    /// Amount paid, in grosze.
    pub amount: i64,
    /// Amount registered, in grosze.
    pub origin_amount: i64,
    /// Currency.
    pub currency: String,
    /// The operator's order id.
    pub order_id: i64,
    /// Payment method used.
    pub method_id: i64,
    /// Payment title as the payer's bank sees it.
    pub statement: String,
    /// SHA-384 checksum, lowercase hex.
    pub sign: String,
}

/// A payment operator: registers transactions and confirms notifications.
pub trait PaymentOperator {
    /// Registers a transaction and returns the token and the payer's redirect URL.
    fn register(
        &self,
        order: &OnlineOrder,
    ) -> impl Future<Output = Result<Registration, PaymentError>> + Send;
    /// Whether a notification carries this merchant's valid signature.
    fn signature_ok(&self, notification: &Notification) -> bool;
    /// Asks the operator to confirm (and finalise) the notified payment.
    fn verify(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), PaymentError>> + Send;
}

/// The only currency accepted.
pub const CURRENCY: &str = "PLN";

/// Credentials and address of a Przelewy24-style operator. `Debug` hides the API and CRC keys.
#[derive(Clone, PartialEq, Eq)]
pub struct P24Config {
    /// Base URL, e.g. `https://sandbox.przelewy24.pl` (no trailing slash).
    pub base_url: String,
    /// Merchant id.
    pub merchant_id: i64,
    /// Shop (POS) id, usually the merchant id.
    pub pos_id: i64,
    /// REST API key (HTTP basic password, with the POS id as user).
    pub api_key: String,
    /// CRC key that salts the signatures.
    pub crc: String,
}

impl std::fmt::Debug for P24Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ewoda_common::secret::REDACTED;
        f.debug_struct("P24Config")
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .field("pos_id", &self.pos_id)
            .field("api_key", &REDACTED)
            .field("crc", &REDACTED)
            .finish()
    }
}

/// A Przelewy24-style operator over HTTP+JSON (REST API v1).
#[derive(Debug, Clone)]
pub struct Przelewy24 {
    config: P24Config,
    http: reqwest::Client,
}

/// How long connecting to the operator may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one whole request to the operator may take (connect, send, answer).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An HTTP client with connect and total timeouts, so a hung operator cannot hold a payer's
/// request (or a notification delivery) forever.
pub fn http_client() -> reqwest::Client {
    http_client_with(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
}

/// [`http_client`] with other timeouts (tests use short ones).
pub fn http_client_with(
    connect: std::time::Duration,
    total: std::time::Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .build()
        // Building fails only when the TLS backend cannot initialise; fall back to defaults.
        .unwrap_or_default()
}

impl Przelewy24 {
    /// A client for `config`.
    pub fn new(config: P24Config) -> Self {
        Self::with_http(config, http_client())
    }

    /// A client for `config` over a given HTTP client (tests shorten the timeouts).
    pub fn with_http(config: P24Config, http: reqwest::Client) -> Self {
        Przelewy24 { config, http }
    }
}

/// SHA-384 of `value`'s compact JSON (field order as declared, slashes and non-ASCII
/// unescaped — as P24's `json_encode(…, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)`).
fn sha384_json<T: Serialize>(value: &T) -> String {
    // Serialising plain structs of strings and integers cannot fail.
    let json = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(Sha384::digest(&json))
}

/// The `sign` of a registration: `{"sessionId","merchantId","amount","currency","crc"}`.
pub fn register_sign(
    session_id: &str,
    merchant_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct S<'a> {
        session_id: &'a str,
        merchant_id: i64,
        amount: i64,
        currency: &'a str,
        crc: &'a str,
    }
    sha384_json(&S {
        session_id,
        merchant_id,
        amount,
        currency,
        crc,
    })
}

/// The `sign` of a notification: `{"merchantId","posId","sessionId","amount","originAmount",
/// "currency","orderId","methodId","statement","crc"}`.
pub fn notification_sign(n: &Notification, crc: &str) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct S<'a> {
        merchant_id: i64,
        pos_id: i64,
        session_id: &'a str,
        amount: i64,
        origin_amount: i64,
        currency: &'a str,
        order_id: i64,
        method_id: i64,
        statement: &'a str,
        crc: &'a str,
    }
    sha384_json(&S {
        merchant_id: n.merchant_id,
        pos_id: n.pos_id,
        session_id: &n.session_id,
        amount: n.amount,
        origin_amount: n.origin_amount,
        currency: &n.currency,
        order_id: n.order_id,
        method_id: n.method_id,
        statement: &n.statement,
        crc,
    })
}

/// The `sign` of a verification: `{"sessionId","orderId","amount","currency","crc"}`.
pub fn verify_sign(
    session_id: &str,
    order_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct S<'a> {
        session_id: &'a str,
        order_id: i64,
        amount: i64,
        currency: &'a str,
        crc: &'a str,
    }
    sha384_json(&S {
        session_id,
        order_id,
        amount,
        currency,
        crc,
    })
}

/// PLN to grosze; refuses amounts that are not positive or have fractions of a grosz.
pub fn to_grosze(amount: Decimal) -> Result<i64, PaymentError> {
    let g = amount * Decimal::ONE_HUNDRED;
    if amount <= Decimal::ZERO || g.fract() != Decimal::ZERO {
        return Err(PaymentError::invalid(
            "amount",
            format!("{amount} must be positive and whole grosze"),
        ));
    }
    i64::try_from(g).map_err(|_| PaymentError::invalid("amount", format!("{amount} is too large")))
}

/// Body of `POST /api/v1/transaction/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Merchant id.
    pub merchant_id: i64,
    /// Shop id.
    pub pos_id: i64,
    /// The shop's session id.
    pub session_id: String,
    /// Grosze.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Description shown to the payer.
    pub description: String,
    /// Payer's email.
    pub email: String,
    /// Country code.
    pub country: String,
    /// Language of the payment page.
    pub language: String,
    /// Return URL.
    pub url_return: String,
    /// Notification URL.
    pub url_status: String,
    /// Checksum ([`register_sign`]).
    pub sign: String,
}

/// Body of `PUT /api/v1/transaction/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// Merchant id.
    pub merchant_id: i64,
    /// Shop id.
    pub pos_id: i64,
    /// The shop's session id.
    pub session_id: String,
    /// Grosze.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// The operator's order id.
    pub order_id: i64,
    /// Checksum ([`verify_sign`]).
    pub sign: String,
}

#[derive(Deserialize)]
struct TokenData {
    token: String,
}

#[derive(Deserialize)]
struct StatusData {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    data: Option<T>,
    response_code: Option<i64>,
    error: Option<String>,
}

async fn read_envelope<T: for<'de> Deserialize<'de>>(
    what: &str,
    response: reqwest::Response,
) -> Result<T, PaymentError> {
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| PaymentError::Operator(format!("{what}: {e}")))?;
    let env: Envelope<T> = serde_json::from_str(&body)
        .map_err(|e| PaymentError::Operator(format!("{what}: HTTP {status}, bad body: {e}")))?;
    match (status.is_success(), env.response_code, env.data) {
        (true, Some(0), Some(data)) => Ok(data),
        _ => Err(PaymentError::Operator(format!(
            "{what}: HTTP {status}: {}",
            env.error.unwrap_or_else(|| "no data".to_string())
        ))),
    }
}

impl PaymentOperator for Przelewy24 {
    async fn register(&self, order: &OnlineOrder) -> Result<Registration, PaymentError> {
        let c = &self.config;
        let amount = to_grosze(order.amount)?;
        let body = RegisterRequest {
            merchant_id: c.merchant_id,
            pos_id: c.pos_id,
            session_id: order.session_id.clone(),
            amount,
            currency: CURRENCY.to_string(),
            description: order.description.clone(),
            email: order.email.clone(),
            country: "PL".to_string(),
            language: "pl".to_string(),
            url_return: order.url_return.clone(),
            url_status: order.url_status.clone(),
            sign: register_sign(&order.session_id, c.merchant_id, amount, CURRENCY, &c.crc),
        };
        let response = self
            .http
            .post(format!("{}/api/v1/transaction/register", c.base_url))
            .basic_auth(c.pos_id, Some(&c.api_key))
            .json(&body)
            .send()
            .await
            .map_err(|e| PaymentError::Operator(format!("register: {e}")))?;
        let data: TokenData = read_envelope("register", response).await?;
        Ok(Registration {
            redirect_url: format!("{}/trnRequest/{}", c.base_url, data.token),
            token: data.token,
        })
    }

    fn signature_ok(&self, n: &Notification) -> bool {
        let c = &self.config;
        n.merchant_id == c.merchant_id
            && n.pos_id == c.pos_id
            && ewoda_common::secret::ct_eq_hex(&n.sign, &notification_sign(n, &c.crc))
    }

    async fn verify(&self, n: &Notification) -> Result<(), PaymentError> {
        let c = &self.config;
        let body = VerifyRequest {
            merchant_id: c.merchant_id,
            pos_id: c.pos_id,
            session_id: n.session_id.clone(),
            amount: n.amount,
            currency: n.currency.clone(),
            order_id: n.order_id,
            sign: verify_sign(&n.session_id, n.order_id, n.amount, &n.currency, &c.crc),
        };
        let response = self
            .http
            .put(format!("{}/api/v1/transaction/verify", c.base_url))
            .basic_auth(c.pos_id, Some(&c.api_key))
            .json(&body)
            .send()
            .await
            .map_err(|e| PaymentError::Operator(format!("verify: {e}")))?;
        let data: StatusData = read_envelope("verify", response).await?;
        if data.status == "success" {
            Ok(())
        } else {
            Err(PaymentError::Operator(format!(
                "verify: status {:?}",
                data.status
            )))
        }
    }
}

/// What handling a notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineOutcome {
    /// The payment was verified and posted now.
    Posted {
        /// The new payment.
        payment_id: i64,
        /// Where the money went.
        allocations: Vec<Allocation>,
    },
    /// This order was posted before (a repeated notification); nothing changed.
    AlreadyPosted {
        /// The existing payment.
        payment_id: i64,
    },
}

/// Handles a notification for `registered`: rejects a bad signature, another session, amount
/// or currency; otherwise verifies with the operator and posts the payment (source `online`,
/// bank reference = the operator's order id) exactly once.
pub async fn handle_notification<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    registered: &RegisteredTransaction,
    n: &Notification,
) -> Result<OnlineOutcome, PaymentError> {
    handle_notification_on(pool, operator, registered, n, ewoda_common::time::today()).await
}

/// [`handle_notification`] with the booking day given: the Warsaw day the notification
/// arrived (`Clock::today`), not the database server's date.
pub async fn handle_notification_on<O: PaymentOperator>(
    pool: &PgPool,
    operator: &O,
    registered: &RegisteredTransaction,
    n: &Notification,
    booked_on: chrono::NaiveDate,
) -> Result<OnlineOutcome, PaymentError> {
    if !operator.signature_ok(n) {
        return Err(PaymentError::Rejected(format!(
            "bad signature for session {:?}",
            n.session_id
        )));
    }
    if n.session_id != registered.session_id {
        return Err(PaymentError::Rejected(format!(
            "session {:?} is not the registered {:?}",
            n.session_id, registered.session_id
        )));
    }
    let expected = to_grosze(registered.amount)?;
    if n.amount != expected || n.origin_amount != expected {
        return Err(PaymentError::Rejected(format!(
            "amount {} (origin {}) grosze, registered {expected}",
            n.amount, n.origin_amount
        )));
    }
    if n.currency != registered.currency {
        return Err(PaymentError::Rejected(format!(
            "currency {:?}, registered {:?}",
            n.currency, registered.currency
        )));
    }
    let reference = n.order_id.to_string();
    if let Some(payment_id) = existing(pool, &reference).await? {
        return Ok(OnlineOutcome::AlreadyPosted { payment_id });
    }
    operator.verify(n).await?;
    let mut tx = pool.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into payment (source, bank_reference, amount, currency, booked_on, title,
             customer_id, matched_by)
         values ('online', $1, $2, $3, $4, $5, $6, $7)
         on conflict (source, bank_reference) where source not in ('mt940', 'csv')
         do nothing returning payment_id",
    )
    .bind(&reference)
    .bind(registered.amount)
    .bind(&n.currency)
    .bind(booked_on)
    .bind(&n.statement)
    .bind(registered.customer_id)
    .bind(MatchedBy::Online.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment_id) = inserted else {
        tx.rollback().await?;
        let payment_id = existing(pool, &reference).await?.ok_or_else(|| {
            PaymentError::Operator(format!("order {reference} neither new nor stored"))
        })?;
        return Ok(OnlineOutcome::AlreadyPosted { payment_id });
    };
    super::import::audit_insert(
        &mut tx,
        "online:operator",
        payment_id,
        serde_json::json!({
            "source": "online",
            "bank_reference": reference,
            "amount": registered.amount.to_string(),
            "booked_on": booked_on,
            "customer_id": registered.customer_id,
            "matched_by": MatchedBy::Online.as_str(),
            "session_id": n.session_id,
        }),
    )
    .await?;
    let allocations = post_and_allocate(
        &mut tx,
        payment_id,
        registered.customer_id,
        registered.amount,
        booked_on,
        registered.invoice_id,
        &format!("Płatność online {reference}"),
    )
    .await?;
    tx.commit().await?;
    Ok(OnlineOutcome::Posted {
        payment_id,
        allocations,
    })
}

async fn existing(pool: &PgPool, reference: &str) -> Result<Option<i64>, PaymentError> {
    Ok(sqlx::query_scalar(
        "select payment_id from payment where source = 'online' and bank_reference = $1",
    )
    .bind(reference)
    .fetch_optional(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn signs_are_sha384_of_ordered_json() {
        let expected = hex::encode(Sha384::digest(
            r#"{"sessionId":"s/1","merchantId":11,"amount":1234,"currency":"PLN","crc":"żółw"}"#
                .as_bytes(),
        ));
        assert_eq!(register_sign("s/1", 11, 1234, "PLN", "żółw"), expected);
        let expected = hex::encode(Sha384::digest(
            br#"{"sessionId":"s","orderId":7,"amount":1,"currency":"PLN","crc":"k"}"#,
        ));
        assert_eq!(verify_sign("s", 7, 1, "PLN", "k"), expected);
        assert_eq!(to_grosze(dec!(267.41)).unwrap(), 26741);
        assert!(to_grosze(dec!(1.001)).is_err());
        assert!(to_grosze(dec!(0)).is_err());
    }

    fn config(base_url: String) -> P24Config {
        P24Config {
            base_url,
            merchant_id: 11,
            pos_id: 11,
            api_key: "api-KEY-4711".into(),
            crc: "crc-KEY-0815".into(),
        }
    }

    #[test]
    fn debug_output_hides_the_api_and_crc_keys() {
        let c = config("https://sandbox.przelewy24.pl".into());
        for shown in [
            format!("{c:?}"),
            format!("{:?}", Przelewy24::new(c.clone())),
        ] {
            assert!(!shown.contains("api-KEY-4711"), "{shown}");
            assert!(!shown.contains("crc-KEY-0815"), "{shown}");
            assert!(
                shown.contains("[redacted]") && shown.contains("merchant_id: 11"),
                "{shown}"
            );
        }
    }

    #[test]
    fn signature_check_accepts_the_right_sign_only() {
        let p = Przelewy24::new(config(String::new()));
        let mut n = Notification {
            merchant_id: 11,
            pos_id: 11,
            session_id: "s".into(),
            amount: 100,
            origin_amount: 100,
            currency: "PLN".into(),
            order_id: 5,
            method_id: 25,
            statement: "x".into(),
            sign: String::new(),
        };
        n.sign = notification_sign(&n, "crc-KEY-0815");
        assert!(p.signature_ok(&n));
        n.sign = n.sign.to_ascii_uppercase();
        assert!(p.signature_ok(&n), "hex case does not matter");
        n.sign
            .replace_range(..1, if n.sign.starts_with('0') { "1" } else { "0" });
        assert!(!p.signature_ok(&n));
        n.sign.truncate(10);
        assert!(!p.signature_ok(&n));
    }

    #[tokio::test]
    async fn an_operator_that_never_answers_times_out() {
        // Accepts the connection and then says nothing.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        let short = http_client_with(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_millis(500),
        );
        let p = Przelewy24::with_http(config(format!("http://{addr}")), short);
        let order = OnlineOrder {
            session_id: "s-timeout".into(),
            customer_id: 1,
            invoice_id: None,
            amount: dec!(10.00),
            description: "x".into(),
            email: "a@b.pl".into(),
            url_return: "http://r".into(),
            url_status: "http://s".into(),
        };
        let started = std::time::Instant::now();
        let err = p.register(&order).await.unwrap_err().to_string();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{err}"
        );
        assert!(err.contains("register"), "{err}");
        assert!(REQUEST_TIMEOUT <= std::time::Duration::from_secs(60));
        assert!(CONNECT_TIMEOUT <= REQUEST_TIMEOUT);
        hold.abort();
    }
}
