//! Password reset by e-mail link: `GET/POST /reset` (asks for the address and mails a link,
//! saying the same whether or not the account exists), `GET/POST /reset/new?token=…` (sets
//! the new password; the link works once and expires).

use super::register::{check_password, hash_blocking, MessagePage, TokenQuery};
use super::tokens::{self, Purpose};
use crate::app::AppState;
use crate::error::AppError;
use crate::mail::Mail;
use crate::ui::form::{FieldErrors, INVALID};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use sqlx::Row;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    pub email: String,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    page: Page,
    email: String,
    errors: FieldErrors,
}

pub async fn form(page: Page) -> Response {
    ui::ok(&ResetPage {
        page,
        email: String::new(),
        errors: FieldErrors::new(),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    page: Page,
    Form(f): Form<ResetForm>,
) -> Result<Response, AppError> {
    let email = f.email.trim().to_string();
    if !super::register::valid_email(&email) {
        let mut errors = FieldErrors::new();
        errors.add("email", "register-email-invalid");
        let view = ResetPage {
            errors: errors.translated(&page),
            page,
            email,
        };
        return Ok(ui::html(&view, INVALID));
    }
    let users = sqlx::query(
        "select user_id, locale from app_user where lower(email) = lower($1) and active",
    )
    .bind(&email)
    .fetch_all(&state.pool)
    .await?;
    for user in users {
        let user_id: i64 = user.try_get("user_id")?;
        let mut conn = state.pool.acquire().await?;
        let token =
            tokens::create(&mut conn, user_id, Purpose::Reset, state.config.reset_valid).await?;
        let link = format!(
            "{}/reset/new?token={token}",
            state.config.public_url.trim_end_matches('/')
        );
        let mail = Mail {
            to: email.clone(),
            subject: page.t("mail-reset-subject"),
            body: page.targ("mail-reset-body", "link", &link),
        };
        state.mailer.send(&mail).await?;
        tracing::info!(user_id, "password reset link mailed");
    }
    Ok(ui::ok(&MessagePage {
        title: page.t("reset-sent-title"),
        text: page.targ("reset-sent-text", "email", &email),
        page,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewPasswordForm {
    pub token: String,
    pub password: String,
    pub password2: String,
}

#[derive(Template)]
#[template(path = "auth/reset_new.html")]
struct NewPasswordPage {
    page: Page,
    token: String,
    errors: FieldErrors,
}

fn invalid_link(page: Page) -> Response {
    ui::html(
        &MessagePage {
            title: page.t("link-invalid-title"),
            text: page.t("link-invalid-text"),
            page,
        },
        StatusCode::BAD_REQUEST,
    )
}

pub async fn new_form(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    if tokens::peek(&state.pool, q.token.trim(), Purpose::Reset)
        .await?
        .is_none()
    {
        return Ok(invalid_link(page));
    }
    Ok(ui::ok(&NewPasswordPage {
        page,
        token: q.token.trim().to_string(),
        errors: FieldErrors::new(),
    }))
}

pub async fn new_submit(
    State(state): State<AppState>,
    page: Page,
    Form(f): Form<NewPasswordForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    check_password(&mut errors, &f.password, &f.password2);
    if !errors.is_empty() {
        let view = NewPasswordPage {
            errors: errors.translated(&page),
            page,
            token: f.token,
        };
        return Ok(ui::html(&view, INVALID));
    }
    let hash = hash_blocking(&state.password_slots, f.password.clone()).await?;
    let mut tx = state.pool.begin().await?;
    let Some(user_id) = tokens::consume(&mut tx, f.token.trim(), Purpose::Reset).await? else {
        return Ok(invalid_link(page));
    };
    // The new password also lifts a lockout; the other reset links die with it.
    sqlx::query(
        "update app_user set password_hash = $2, failed_logins = 0, locked_until = null, updated_at = now()
         where user_id = $1",
    )
    .bind(user_id)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update auth_token set used_at = now() where user_id = $1 and purpose = 'reset' and used_at is null")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id, "password reset");
    Ok(ui::ok(&MessagePage {
        title: page.t("reset-done-title"),
        text: page.t("reset-done-text"),
        page,
    }))
}
