//! Registration with the customer number and the activation code printed on the invoice,
//! then e-mail confirmation: `GET/POST /register`, `GET /register/confirm?token=…`.

use super::tokens::{self, Purpose};
use crate::app::AppState;
use crate::error::AppError;
use crate::mail::Mail;
use crate::ui::form::{FieldErrors, Validate, INVALID};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use sqlx::Row;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub number: String,
    pub code: String,
    pub email: String,
    pub username: String,
    pub password: String,
    pub password2: String,
}

/// The form parsed: login lower-cased, code upper-cased, e-mail trimmed.
pub struct Registration {
    number: String,
    code: String,
    email: String,
    login: String,
    password: String,
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

impl Validate for RegisterForm {
    type Valid = Registration;
    fn validate(&self) -> Result<Registration, FieldErrors> {
        let mut e = FieldErrors::new();
        let number = self.number.trim();
        if number.is_empty() || number.len() > 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
            e.add("number", "register-number-invalid");
        }
        let code: String = self
            .code
            .split_whitespace()
            .collect::<String>()
            .to_uppercase();
        if code.len() < 6 || code.len() > 32 {
            e.add("code", "register-code-invalid");
        }
        let email = self.email.trim();
        if !valid_email(email) {
            e.add("email", "register-email-invalid");
        }
        let login = self.username.trim().to_lowercase();
        if !valid_login(&login) {
            e.add("username", "register-username-invalid");
        }
        check_password(&mut e, &self.password, &self.password2);
        e.result(Registration {
            number: number.to_string(),
            code,
            email: email.to_string(),
            login,
            password: self.password.clone(),
        })
    }
}

/// A login: 3–64 characters of a–z, 0–9, `.`, `_`, `-`.
pub fn valid_login(login: &str) -> bool {
    (3..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// The same shape the database's `customer.email` check accepts.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && email.len() <= 254
}

/// A new password: long enough, typed twice the same.
pub fn check_password(e: &mut FieldErrors, password: &str, again: &str) {
    if password.chars().count() < MIN_PASSWORD {
        e.add("password", "password-too-short");
    }
    if password != again {
        e.add("password2", "password-mismatch");
    }
}

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    page: Page,
    form: RegisterForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "auth/message.html")]
pub struct MessagePage {
    pub page: Page,
    pub title: String,
    pub text: String,
}

pub async fn form(page: Page) -> Response {
    ui::ok(&RegisterPage {
        page,
        form: RegisterForm::default(),
        errors: FieldErrors::new(),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    page: Page,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let invalid = |page: Page, f: RegisterForm, errors: FieldErrors| {
        let mut f = f;
        f.password.clear();
        f.password2.clear();
        ui::html(
            &RegisterPage {
                errors: errors.translated(&page),
                page,
                form: f,
            },
            INVALID,
        )
    };
    let reg = match f.validate() {
        Ok(r) => r,
        Err(errors) => return Ok(invalid(page, f, errors)),
    };
    match register(&state, &reg, &page).await? {
        Ok(()) => Ok(ui::ok(&MessagePage {
            title: page.t("register-sent-title"),
            text: page.targ("register-sent-text", "email", &reg.email),
            page,
        })),
        Err(errors) => Ok(invalid(page, f, errors)),
    }
}

/// Creates the unconfirmed account and mails the confirmation link, in one transaction (a
/// mail that cannot be sent leaves no account behind).
async fn register(
    state: &AppState,
    reg: &Registration,
    page: &Page,
) -> Result<Result<(), FieldErrors>, AppError> {
    let mut tx = state.pool.begin().await?;
    let customer = sqlx::query(
        "select c.customer_id,
                coalesce(c.company_name, concat_ws(' ', c.first_name, c.last_name)) as name,
                exists (select 1 from app_user u where u.customer_id = c.customer_id) as registered
         from customer c
         where c.number = $1 and upper(c.activation_code) = $2 and c.anonymised_at is null
         for update",
    )
    .bind(&reg.number)
    .bind(&reg.code)
    .fetch_optional(&mut *tx)
    .await?;
    let mut errors = FieldErrors::new();
    let Some(customer) = customer else {
        errors.add("code", "register-code-wrong");
        return Ok(Err(errors));
    };
    if customer.try_get::<bool, _>("registered")? {
        errors.add("number", "register-already");
        return Ok(Err(errors));
    }
    let taken: bool = sqlx::query_scalar("select exists (select 1 from app_user where login = $1)")
        .bind(&reg.login)
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        errors.add("username", "register-username-taken");
        return Ok(Err(errors));
    }
    let hash = hash_blocking(&state.password_slots, reg.password.clone()).await?;
    let user_id: i64 = sqlx::query_scalar(
        "insert into app_user (login, email, display_name, password_hash, customer_id, locale)
         values ($1, $2, $3, $4, $5, $6) returning user_id",
    )
    .bind(&reg.login)
    .bind(&reg.email)
    .bind(customer.try_get::<String, _>("name")?)
    .bind(hash)
    .bind(customer.try_get::<i64, _>("customer_id")?)
    .bind(page.lang_code())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("insert into user_role (user_id, role) values ($1, 'customer')")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let token = tokens::create(
        &mut tx,
        user_id,
        Purpose::Confirm,
        state.config.confirm_valid,
    )
    .await?;
    let link = format!(
        "{}/register/confirm?token={token}",
        state.config.public_url.trim_end_matches('/')
    );
    let mail = Mail {
        to: reg.email.clone(),
        subject: page.t("mail-confirm-subject"),
        body: page.targ("mail-confirm-body", "link", &link),
    };
    state.mailer.send(&mail).await?;
    tx.commit().await?;
    tracing::info!(user_id, "registered; confirmation mailed");
    Ok(Ok(()))
}

/// argon2 off the async workers, in one of `slots`.
pub async fn hash_blocking(
    slots: &super::password::Slots,
    password: String,
) -> Result<String, AppError> {
    slots
        .run(move || super::password::hash(&password))
        .await
        .ok_or_else(|| AppError::Internal("hashing stopped".into()))?
        .map_err(|e| AppError::Internal(format!("hashing: {e}")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    pub token: String,
}

/// `GET /register/confirm?token=…`: confirms the address once.
pub async fn confirm(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    let user = tokens::consume(&mut tx, q.token.trim(), Purpose::Confirm).await?;
    if let Some(user_id) = user {
        sqlx::query(
            "update app_user set email_confirmed_at = now(), updated_at = now() where user_id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let (title, text, status) = match user {
        Some(_) => (
            "register-confirmed-title",
            "register-confirmed-text",
            axum::http::StatusCode::OK,
        ),
        None => (
            "link-invalid-title",
            "link-invalid-text",
            axum::http::StatusCode::BAD_REQUEST,
        ),
    };
    Ok(ui::html(
        &MessagePage {
            title: page.t(title),
            text: page.t(text),
            page,
        },
        status,
    ))
}
