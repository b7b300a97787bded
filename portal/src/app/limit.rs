//! Rate limits of the public forms (login, registration, password reset): a token bucket per
//! client IP (tower_governor), for POST only, so showing the form is never limited.

use super::AppState;
use crate::error::AppError;
use axum::http::{Method, Request};
use axum::response::IntoResponse;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

/// The peer's IP when the server runs with connect info; otherwise (a test calling the router
/// directly, a Unix socket) every request shares one bucket rather than escaping the limit.
#[derive(Debug, Clone, Copy)]
pub struct PeerIp;

impl KeyExtractor for PeerIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}

/// The layer for a router of public forms.
pub fn public_forms(
    state: &AppState,
) -> GovernorLayer<PeerIp, governor::middleware::NoOpMiddleware, axum::body::Body> {
    let limit = state.config.rate_limit;
    let config = GovernorConfigBuilder::default()
        .key_extractor(PeerIp)
        .period(limit.every)
        .burst_size(limit.burst.max(1))
        .methods(vec![Method::POST])
        .finish()
        .expect("a rate limit with a non-zero period and burst");
    GovernorLayer::new(config).error_handler(|e| match e {
        GovernorError::TooManyRequests { .. } => AppError::TooManyRequests.into_response(),
        _ => AppError::Internal("rate limit key".into()).into_response(),
    })
}
