//! Web Push subscription (`POST /ebok/push/subscribe`): the browser's subscription
//! (`PushSubscription.toJSON()` flattened to `endpoint`, `p256dh`, `auth`) stored for the
//! logged-in user through `store::preference`. Sent by script with the `X-CSRF-Token` header;
//! answers JSON (`{"ok":true}` or the refused fields, 422).

use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::store::preference::{self, PushSubscription};
use crate::store::StoreError;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SubscribeForm {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
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
        Err(StoreError::Db(e)) => Err(AppError::Db(e)),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}
