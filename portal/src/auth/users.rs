//! Creating staff accounts from the command line (`ewoda user add --role ROLE LOGIN`): the
//! first admin of a fresh server, and staff until the office has a page for it.

use super::register::{valid_login, MIN_PASSWORD};
use super::Role;
use crate::error::AppError;
use sqlx::PgPool;

/// A new staff user.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub login: String,
    pub role: String,
    pub password: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Creates the user with one staff role (customers register themselves in eBOK); returns
/// the user id.
pub async fn add(pool: &PgPool, u: &NewStaff) -> Result<i64, AppError> {
    let login = u.login.trim().to_lowercase();
    if !valid_login(&login) {
        return Err(AppError::Invalid {
            field: "LOGIN",
            reason: format!("{:?}: use 3–64 characters a–z, 0–9, '.', '_', '-'", u.login),
        });
    }
    let role = match Role::parse(&u.role) {
        Some(Role::Customer) | None => {
            return Err(AppError::Invalid {
                field: "--role",
                reason: format!("{:?}: one of reader, clerk, operator, admin", u.role),
            })
        }
        Some(r) => r,
    };
    if u.password.chars().count() < MIN_PASSWORD {
        return Err(AppError::Invalid {
            field: "password",
            reason: format!("at least {MIN_PASSWORD} characters"),
        });
    }
    let hash =
        super::register::hash_blocking(&super::password::Slots::new(1), u.password.clone()).await?;
    let mut tx = pool.begin().await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from app_user where login = $1)")
            .bind(&login)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Err(AppError::Invalid {
            field: "LOGIN",
            reason: format!("{login:?} already exists"),
        });
    }
    let user_id: i64 = sqlx::query_scalar(
        "insert into app_user (login, email, display_name, password_hash, email_confirmed_at)
         values ($1, $2, $3, $4, now()) returning user_id",
    )
    .bind(&login)
    .bind(&u.email)
    .bind(u.name.clone().unwrap_or_else(|| login.clone()))
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("insert into user_role (user_id, role) values ($1, $2)")
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user_id)
}
