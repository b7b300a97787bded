//! One extractor per role. A handler states who may call it in its signature:
//! `async fn dashboard(c: Customer, …)`, `async fn queue(s: Staff<Clerk>, …)`. Not logged in →
//! redirect to `/login?next=…`; logged in with another role → 403.

use super::{session_user, Role, SessionUser};
use crate::app::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::Row;
use std::marker::PhantomData;
use tower_sessions::Session;

async fn user_of(parts: &mut Parts, state: &AppState) -> Result<SessionUser, AppError> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, e)| AppError::Internal(format!("no session layer: {e}")))?;
    let login_required = || AppError::LoginRequired {
        next: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
    };
    let Some(mut user) = session_user(&session).await else {
        return Err(login_required());
    };
    // The session remembers who logged in, not what they may do now: roles and the active
    // flag are read again on every request (one primary-key lookup), so a deactivated user
    // is logged out and a removed role stops working at once.
    match current(state, user.user_id).await? {
        Some(now) if now.active => {
            user.roles = now.roles;
            user.customer_id = now.customer_id;
            Ok(user)
        }
        _ => {
            session.flush().await.map_err(AppError::session)?;
            Err(login_required())
        }
    }
}

/// A user's standing as the database says now.
#[derive(Debug, Clone)]
pub struct Standing {
    pub active: bool,
    pub roles: Vec<Role>,
    pub customer_id: Option<i64>,
}

/// The standing from the coherent cache, or read (and kept) when it is not there.
async fn current(state: &AppState, user_id: i64) -> Result<Option<Standing>, AppError> {
    let cache = &state.caches.standings;
    if let Some(s) = cache.get(&user_id) {
        return Ok(Some(s));
    }
    let ticket = cache.ticket();
    let standing = read_standing(state, user_id).await?;
    if let Some(s) = &standing {
        cache.keep(ticket, user_id, s.clone());
    }
    Ok(standing)
}

async fn read_standing(state: &AppState, user_id: i64) -> Result<Option<Standing>, AppError> {
    let row = sqlx::query(
        "select u.active, u.customer_id,
                coalesce(array_agg(r.role order by r.role) filter (where r.role is not null),
                         '{}') as roles
         from app_user u left join user_role r using (user_id)
         where u.user_id = $1
         group by u.user_id",
    )
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let roles: Vec<String> = row.try_get("roles")?;
    Ok(Some(Standing {
        active: row.try_get("active")?,
        customer_id: row.try_get("customer_id")?,
        roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
    }))
}

/// Anyone logged in.
pub struct CurrentUser(pub SessionUser);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        user_of(parts, state).await.map(CurrentUser)
    }
}

/// A logged-in customer; `customer_id` comes from the session, never from the URL, so every
/// query scoped by it only sees this customer's records.
pub struct Customer {
    pub user: SessionUser,
    pub customer_id: i64,
    pub number: String,
}

impl FromRequestParts<AppState> for Customer {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = user_of(parts, state).await?;
        match (user.roles.contains(&Role::Customer), user.customer_id) {
            (true, Some(customer_id)) => Ok(Customer {
                number: user.customer_number.clone().unwrap_or_default(),
                customer_id,
                user,
            }),
            _ => Err(AppError::Forbidden),
        }
    }
}

/// The roles a staff marker admits (admin always).
pub trait StaffRole: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// Billing clerk (urzędnik).
pub struct Clerk;
/// Meter reader (inkasent).
pub struct Reader;
/// Operator of the alarm console (dyspozytor).
pub struct Operator;
/// Administrator.
pub struct Admin;
/// Any staff role.
pub struct AnyStaff;

impl StaffRole for Clerk {
    const ROLES: &'static [Role] = &[Role::Clerk];
}
impl StaffRole for Reader {
    const ROLES: &'static [Role] = &[Role::Reader];
}
impl StaffRole for Operator {
    const ROLES: &'static [Role] = &[Role::Operator];
}
impl StaffRole for Admin {
    const ROLES: &'static [Role] = &[];
}
impl StaffRole for AnyStaff {
    const ROLES: &'static [Role] = &[Role::Reader, Role::Clerk, Role::Operator];
}

/// A logged-in staff member with one of `R`'s roles or admin.
pub struct Staff<R: StaffRole> {
    pub user: SessionUser,
    _role: PhantomData<R>,
}

impl<R: StaffRole> FromRequestParts<AppState> for Staff<R> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = user_of(parts, state).await?;
        let allowed = user
            .roles
            .iter()
            .any(|r| *r == Role::Admin || R::ROLES.contains(r));
        if allowed {
            Ok(Staff {
                user,
                _role: PhantomData,
            })
        } else {
            Err(AppError::Forbidden)
        }
    }
}
