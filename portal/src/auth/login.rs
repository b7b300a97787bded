//! `GET /login`, `POST /login` (fields `username`, `password`), `POST /logout`.

use super::{password, Role, SessionUser, USER_KEY};
use crate::app::AppState;
use crate::error::AppError;
use crate::ui::form::{FieldErrors, INVALID};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use sqlx::Row;
use tower_sessions::Session;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    pub next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    pub next: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    username: String,
    next: String,
    errors: FieldErrors,
}

pub async fn form(page: Page, Query(q): Query<NextQuery>) -> Response {
    ui::ok(&LoginPage {
        page,
        username: String::new(),
        next: safe_next(&q.next).unwrap_or_default(),
        errors: FieldErrors::new(),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    page: Page,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let login = f.username.trim().to_lowercase();
    let mut errors = FieldErrors::new();
    if login.is_empty() {
        errors.add("username", "login-username-missing");
    }
    if f.password.is_empty() {
        errors.add("password", "login-password-missing");
    }
    if errors.is_empty() {
        match check(&state, &login, &f.password).await? {
            Outcome::Ok(user) => {
                // A new session id at login: an id planted before login is worthless after.
                session.cycle_id().await.map_err(AppError::session)?;
                session
                    .insert(USER_KEY, &user)
                    .await
                    .map_err(AppError::session)?;
                crate::app::csrf::renew(&session).await?;
                tracing::info!(user_id = user.user_id, "login");
                let to = safe_next(&f.next).unwrap_or_else(|| user.home().to_string());
                return Ok(Redirect::to(&to).into_response());
            }
            Outcome::Wrong => errors.add("password", "login-wrong"),
            Outcome::Locked => errors.add("password", "login-locked"),
            Outcome::Unconfirmed => errors.add("username", "login-unconfirmed"),
        }
    }
    let view = LoginPage {
        errors: errors.translated(&page),
        page,
        username: f.username,
        next: safe_next(&f.next).unwrap_or_default(),
    };
    Ok(ui::html(&view, INVALID))
}

pub async fn logout(session: Session) -> Result<Response, AppError> {
    session.flush().await.map_err(AppError::session)?;
    Ok(Redirect::to("/login").into_response())
}

enum Outcome {
    Ok(SessionUser),
    Wrong,
    Locked,
    Unconfirmed,
}

/// Checks the password, counting failures and locking the account after too many in a row.
async fn check(state: &AppState, login: &str, given: &str) -> Result<Outcome, AppError> {
    let row = sqlx::query(
        "select u.user_id, u.login, u.display_name, u.password_hash, u.customer_id, c.number,
                u.active, u.email_confirmed_at is not null as confirmed,
                coalesce(u.locked_until > now(), false) as locked,
                array(select role from user_role r where r.user_id = u.user_id order by role) as roles
         from app_user u left join customer c using (customer_id)
         where u.login = $1",
    )
    .bind(login)
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else {
        verify_blocking(state, given.to_string(), state.dummy_hash.clone()).await;
        return Ok(Outcome::Wrong);
    };
    let user_id: i64 = row.try_get("user_id")?;
    if row.try_get::<bool, _>("locked")? {
        return Ok(Outcome::Locked);
    }
    let hash: String = row.try_get("password_hash")?;
    let active: bool = row.try_get("active")?;
    if !verify_blocking(state, given.to_string(), hash).await || !active {
        let locked = record_failure(state, user_id).await?;
        return Ok(if locked {
            Outcome::Locked
        } else {
            Outcome::Wrong
        });
    }
    let roles: Vec<String> = row.try_get("roles")?;
    let roles: Vec<Role> = roles.iter().filter_map(|r| Role::parse(r)).collect();
    if roles.contains(&Role::Customer) && !row.try_get::<bool, _>("confirmed")? {
        return Ok(Outcome::Unconfirmed);
    }
    sqlx::query("update app_user set failed_logins = 0, locked_until = null where user_id = $1")
        .bind(user_id)
        .execute(&state.pool)
        .await?;
    Ok(Outcome::Ok(SessionUser {
        user_id,
        login: row.try_get("login")?,
        name: row.try_get("display_name")?,
        customer_id: row.try_get("customer_id")?,
        customer_number: row.try_get("number")?,
        roles,
    }))
}

/// Counts a failed login; returns whether the account is now locked.
async fn record_failure(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    let lock_secs = state.config.lockout_for.as_secs() as f64;
    let locked: bool = sqlx::query_scalar(
        "update app_user set
             failed_logins = case when failed_logins + 1 >= $2 then 0 else failed_logins + 1 end,
             locked_until = case when failed_logins + 1 >= $2 then now() + make_interval(secs => $3) else locked_until end
         where user_id = $1
         returning locked_until is not null and locked_until > now()",
    )
    .bind(user_id)
    .bind(state.config.lockout_failures)
    .bind(lock_secs)
    .fetch_one(&state.pool)
    .await?;
    if locked {
        tracing::warn!(user_id, "account locked after repeated failed logins");
    }
    Ok(locked)
}

/// argon2 takes tens of milliseconds of CPU: off the async workers, a core at a time.
async fn verify_blocking(state: &AppState, given: String, hash: String) -> bool {
    state
        .password_slots
        .run(move || password::verify(&given, &hash))
        .await
        .unwrap_or(false)
}

/// A local path to return to after login (never another site: `//host` and `\` are refused).
fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    ok.then(|| next.to_string())
}
