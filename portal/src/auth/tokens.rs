//! One-time tokens mailed to a user (e-mail confirmation, password reset): random, stored as
//! their SHA-256 only, expiring, and used at most once.

use crate::error::AppError;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Reset => "reset",
        }
    }
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for the user; returns the token to mail (the database keeps its hash).
pub async fn create(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
    purpose: Purpose,
    valid: Duration,
) -> Result<String, AppError> {
    let token = super::random_token();
    sqlx::query(
        "insert into auth_token (user_id, purpose, token_hash, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(digest(&token))
    .bind(valid.as_secs() as f64)
    .execute(conn)
    .await?;
    Ok(token)
}

/// The user of a valid (unused, unexpired) token, without using it.
pub async fn peek(
    pool: &sqlx::PgPool,
    token: &str,
    purpose: Purpose,
) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "select user_id from auth_token
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()",
    )
    .bind(digest(token))
    .bind(purpose.as_str())
    .fetch_optional(pool)
    .await?)
}

/// Uses a valid token (once: a second use finds nothing) and returns its user.
pub async fn consume(
    conn: &mut sqlx::PgConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "update auth_token set used_at = now()
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
         returning user_id",
    )
    .bind(digest(token))
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?)
}
