//! Web Push from the eBOK profile: `POST /ebok/push/subscribe` stores the browser's
//! subscription (`PushSubscription.toJSON()` flattened to `endpoint`, `p256dh`, `auth`) for
//! the logged-in user, `POST /ebok/push/unsubscribe` removes one (both sent by script with
//! the `X-CSRF-Token` header, answering JSON), and `POST /ebok/push/test` sends a test
//! notification to every subscription of the user (a plain form: it works without script and
//! comes back to the profile saying how many devices it reached).

use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::push::Notification;
use crate::store::preference::{self, PushSubscription};
use crate::store::StoreError;
use crate::ui::Page;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SubscribeForm {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Db(e) => AppError::Db(e),
        e => AppError::Internal(e.to_string()),
    }
}

/// POST /ebok/push/subscribe
pub async fn subscribe(
    customer: Customer,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SubscribeForm>,
) -> Result<Response, AppError> {
    let s = PushSubscription {
        endpoint: f.endpoint.trim().to_string(),
        p256dh: f.p256dh.trim().to_string(),
        auth: f.auth.trim().to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect()),
        created_at: None,
    };
    match preference::subscribe(&state.pool, customer.user.user_id, &s).await {
        Ok(()) => Ok(Json(serde_json::json!({ "ok": true })).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "ok": false, "errors": errors })),
        )
            .into_response()),
        Err(e) => Err(store_error(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnsubscribeForm {
    pub endpoint: String,
}

/// POST /ebok/push/unsubscribe: `{"ok": true, "removed": bool}` (false: not this user's).
pub async fn unsubscribe(
    customer: Customer,
    State(state): State<AppState>,
    Form(f): Form<UnsubscribeForm>,
) -> Result<Response, AppError> {
    let removed = preference::unsubscribe(&state.pool, customer.user.user_id, f.endpoint.trim())
        .await
        .map_err(store_error)?;
    Ok(Json(serde_json::json!({ "ok": true, "removed": removed })).into_response())
}

/// POST /ebok/push/test: a test notification to each of the user's subscriptions, then back
/// to the profile with the number of devices reached.
pub async fn test(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let Some(sender) = state.push.as_ref() else {
        return Ok(Redirect::to("/ebok/profile?push=off#push-h").into_response());
    };
    let n = Notification {
        title: page.t("push-test-title"),
        body: page.t("push-test-body"),
        url: "/ebok/".into(),
    };
    let report = sender
        .send_to_user(&state.pool, customer.user.user_id, &n)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let to = format!("/ebok/profile?push={}#push-h", report.delivered);
    Ok(Redirect::to(&to).into_response())
}
