//! The UI language: Polish first, English second. `?lang=en` (or `pl`) on any URL switches
//! and is remembered in the session and in a year-long cookie (which outlives logout).

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Pl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "pl" => Some(Lang::Pl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const SESSION_KEY: &str = "lang";
const COOKIE: &str = "ewoda_lang";

/// Resolves the request's language (query, session, cookie, default Polish) into the request
/// extensions, remembering a switch.
pub async fn resolve(session: Session, mut req: Request, next: Next) -> Response {
    let asked = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "lang"))
        .and_then(|(_, v)| Lang::parse(&v));
    let lang = match asked {
        Some(l) => {
            if let Err(e) = session.insert(SESSION_KEY, l).await {
                tracing::warn!(error = %e, "remembering the language");
            }
            l
        }
        None => match session.get::<Lang>(SESSION_KEY).await {
            Ok(Some(l)) => l,
            _ => from_cookie(&req).unwrap_or_default(),
        },
    };
    req.extensions_mut().insert(lang);
    let mut resp = next.run(req).await;
    if let Some(l) = asked {
        let cookie = format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
            l.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn from_cookie(req: &Request) -> Option<Lang> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .and_then(|(_, v)| Lang::parse(v))
}
