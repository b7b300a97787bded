//! The portal's own tables (`ewoda_portal::store`) against real PostgreSQL with two customers.

mod application;
mod attachment;
mod consent;
mod contact_change;
mod preference;

use ewoda_common::scope::{CustomerId, FieldError};
use ewoda_portal::store::StoreError;
use sqlx::PgPool;

/// Two household customers (4701 and 4702) and a clerk user; returns (a, b, clerk user id).
pub async fn two(pool: &PgPool) -> (CustomerId, CustomerId, i64) {
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into customer (number, kind, first_name, last_name)
         values ('4701', 'household', 'Łucja', 'Żółkiewska'), ('4702', 'household', 'Jan', 'Nowak')
         returning customer_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let clerk: i64 = sqlx::query_scalar(
        "insert into app_user (login, display_name, password_hash) values ('urzednik', 'Anna', '$argon2id$x')
         returning user_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (CustomerId::new(ids[0]), CustomerId::new(ids[1]), clerk)
}

/// The (field, code) pairs of a refusal; panics on anything else.
pub fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Vec<(String, &'static str)> {
    match r {
        Err(StoreError::Invalid(v)) => v
            .into_iter()
            .map(|FieldError { field, code, .. }| (field, code))
            .collect(),
        other => panic!("expected a field refusal, got {other:?}"),
    }
}
