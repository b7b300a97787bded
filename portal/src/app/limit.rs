//! Rate limits of the public forms (login, registration, password reset): a token bucket per
//! client IP (tower_governor), for POST only, so showing the form is never limited.
//!
//! The client is the TCP peer — unless the peer is one of the configured `trusted_proxies`:
//! then it is the right-most `X-Forwarded-For` address that is not a trusted proxy (the one
//! the first trusted proxy saw; entries to its left are whatever the client wrote). Without
//! trusted proxies the header is ignored, so a client cannot pick its own bucket.

use super::AppState;
use crate::error::AppError;
use axum::http::{HeaderMap, Method, Request};
use axum::response::IntoResponse;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

/// The client's IP as described above. Without connect info (a test calling the router
/// directly, a Unix socket) the peer is 0.0.0.0: every such request shares one bucket rather
/// than escaping the limit.
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    trusted: Arc<Vec<IpAddr>>,
}

impl ClientIp {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        ClientIp {
            trusted: Arc::new(trusted_proxies),
        }
    }

    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted.contains(&peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An entry that is not an address cannot be trusted to name anyone: the last
            // address vouched for stands.
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return client;
            };
            client = ip;
            if !self.trusted.contains(&ip) {
                break;
            }
        }
        client
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(self.client(peer, req.headers()))
    }
}

/// The layer for a router of public forms.
pub fn public_forms(
    state: &AppState,
) -> GovernorLayer<ClientIp, governor::middleware::NoOpMiddleware, axum::body::Body> {
    let limit = state.config.rate_limit;
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientIp::new(state.config.trusted_proxies.clone()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let none = ClientIp::default();
        let proxies = ClientIp::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        let spoofed = headers(&["6.6.6.6, 1.2.3.4"]);
        // No trusted proxies: the header is ignored.
        assert_eq!(none.client(ip("10.0.0.1"), &spoofed), ip("10.0.0.1"));
        // From a trusted proxy: the right-most entry it added.
        assert_eq!(proxies.client(ip("10.0.0.1"), &spoofed), ip("1.2.3.4"));
        // Through two trusted proxies, over two header lines.
        let chained = headers(&["6.6.6.6, 1.2.3.4", "10.0.0.2"]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &chained), ip("1.2.3.4"));
        // Not from a trusted proxy: the header counts for nothing.
        assert_eq!(proxies.client(ip("5.5.5.5"), &spoofed), ip("5.5.5.5"));
        // Garbage right of the client: the proxy itself stands.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &headers(&["1.2.3.4, unknown"])),
            ip("10.0.0.1")
        );
        // Only proxies listed: the left-most of them.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &headers(&["10.0.0.2"])),
            ip("10.0.0.2")
        );
    }
}
