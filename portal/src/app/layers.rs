//! Sessions and security headers.

use super::coherent::Caches;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "ewoda_session";

/// Sessions in PostgreSQL (`tower_sessions.session`, created by a migration), read through
/// the coherent cache: HttpOnly, SameSite=Lax, Secure when served over TLS, expiring after
/// the configured idle time.
pub fn sessions(state: &AppState) -> SessionManagerLayer<CachedSessions> {
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let store = CachedSessions {
        store: PostgresStore::new(state.pool.clone()),
        caches: state.caches.clone(),
    };
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.tls)
        .with_expiry(Expiry::OnInactivity(idle))
}

/// The PostgreSQL session store behind [`Caches::sessions`]: a request's session is read
/// from memory unless it changed since (in any process: the table's trigger notifies).
#[derive(Debug, Clone)]
pub struct CachedSessions {
    store: PostgresStore,
    caches: Arc<Caches>,
}

#[async_trait::async_trait]
impl SessionStore for CachedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let ticket = self.caches.sessions.ticket();
        self.store.create(record).await?;
        self.caches.sessions.keep(ticket, record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let ticket = self.caches.sessions.ticket();
        self.store.save(record).await?;
        self.caches.sessions.keep(ticket, record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.caches.sessions.get(id) {
            // The store's query compares the expiry with the clock: so does the cache.
            return Ok((record.expiry_date > time::OffsetDateTime::now_utc()).then_some(record));
        }
        let ticket = self.caches.sessions.ticket();
        let record = self.store.load(id).await?;
        if let Some(r) = &record {
            self.caches.sessions.keep(ticket, *id, r.clone());
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await?;
        self.caches.sessions.evict(id);
        Ok(())
    }
}

/// Session key of when the session's expiry was last pushed forward (unix milliseconds).
const TOUCHED_KEY: &str = "touched";

/// Keeps an active session alive: the store only rewrites a session (and its expiry) when it
/// changed, so without this a user working for two hours would be logged out mid-task. A
/// session holding anything (a login, a CSRF token) is marked changed at most once per
/// `session_touch`, so the idle time counts from the last request, give or take that much,
/// for one write per user per interval instead of one per request.
pub async fn touch_session(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    // After logout the session is empty (and deleted): it must not be written back.
    if session.is_empty().await {
        return resp;
    }
    let now = state.config.clock.0.now().timestamp_millis();
    let last = session.get::<i64>(TOUCHED_KEY).await.ok().flatten();
    let every = i64::try_from(state.config.session_touch.as_millis()).unwrap_or(i64::MAX);
    if last.is_none_or(|t| now - t >= every) {
        if let Err(e) = session.insert(TOUCHED_KEY, now).await {
            tracing::warn!(error = %e, "session keep-alive");
        }
    }
    resp
}

/// Content policy without inline script or style, no framing, and HSTS behind TLS.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy, letting forms go on to the payment operator's origin when one is configured:
/// browsers apply `form-action` to the redirect after the POST too, so with `'self'` alone
/// the "pay online" form would stop at the redirect to the operator's page.
fn csp(state: &AppState) -> HeaderValue {
    let operator = state
        .config
        .payments
        .as_ref()
        .map(|p| origin_of(&p.base_url));
    match operator {
        Some(o) if !o.is_empty() => HeaderValue::from_str(
            &CSP.replace("form-action 'self'", &format!("form-action 'self' {o}")),
        )
        .unwrap_or(HeaderValue::from_static(CSP)),
        _ => HeaderValue::from_static(CSP),
    }
}

/// `scheme://host[:port]` of a URL (its path dropped).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let policy = csp(&state);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if state.config.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}
