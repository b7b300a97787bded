//! Authentication and authorisation: login / logout, argon2id passwords, lockout after
//! repeated failures, the user in the session, and one extractor per role ([`Customer`],
//! [`Staff`] with [`Clerk`], [`Reader`], [`Operator`], [`Admin`], [`AnyStaff`]).

mod extract;
mod login;
pub mod password;
mod register;
mod reset;
mod tokens;
pub mod users;

pub use extract::{
    Admin, AnyStaff, Clerk, CurrentUser, Customer, Operator, Reader, Staff, StaffRole, Standing,
};

use crate::app::{Access, AppState, Area, RouteRule};
use axum::Router;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// A role from `user_role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Reader,
    Clerk,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Customer,
        Role::Reader,
        Role::Clerk,
        Role::Operator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Reader => "reader",
            Role::Clerk => "clerk",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The logged-in user as kept in the session (set at login).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: i64,
    pub login: String,
    pub name: String,
    /// The customer this eBOK account belongs to, with the number printed on invoices.
    pub customer_id: Option<i64>,
    pub customer_number: Option<String>,
    pub roles: Vec<Role>,
}

impl SessionUser {
    /// Where the user lands after login: customers in eBOK, operators (only) in the console,
    /// other staff in the office.
    pub fn home(&self) -> &'static str {
        if self.roles.contains(&Role::Customer) && self.roles.len() == 1 {
            "/ebok/"
        } else if self.roles == [Role::Operator] {
            "/console/"
        } else if self.roles.iter().any(|r| *r != Role::Customer) {
            "/office/"
        } else {
            "/ebok/"
        }
    }
}

const USER_KEY: &str = "user";

/// The session's user, if logged in.
pub async fn session_user(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(USER_KEY).await.ok().flatten()
}

/// 32 random bytes, hex: CSRF tokens and mailed one-time tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// Routes of this feature; every POST here is rate-limited per client IP.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/login", Access::Public),
    RouteRule::post("/login", Access::Public),
    RouteRule::post("/logout", Access::Public),
    RouteRule::get("/register", Access::Public),
    RouteRule::post("/register", Access::Public),
    RouteRule::get("/register/confirm", Access::Public),
    RouteRule::get("/reset", Access::Public),
    RouteRule::post("/reset", Access::Public),
    RouteRule::get("/reset/new", Access::Public),
    RouteRule::post("/reset/new", Access::Public),
];

pub fn router(state: &AppState) -> Router<AppState> {
    Area::new(ROUTES)
        .get("/login", login::form)
        .post("/login", login::submit)
        .post("/logout", login::logout)
        .get("/register", register::form)
        .post("/register", register::submit)
        .get("/register/confirm", register::confirm)
        .get("/reset", reset::form)
        .post("/reset", reset::submit)
        .get("/reset/new", reset::new_form)
        .post("/reset/new", reset::new_submit)
        .into_router()
        .layer(crate::app::limit::public_forms(state))
}
