//! ewoda-portal: the axum web application — eBOK for customers, the office for staff, the
//! operators' console — on one foundation (`app`, `auth`, `ui`, `error`). See docs/portal.md
//! for how to write a page and its tests.

pub mod api;
pub mod app;
pub mod auth;
pub mod console;
pub mod ebok;
pub mod error;
pub mod home;
pub mod info;
pub mod mail;
pub mod office;
pub mod push;
pub mod serve;
pub mod store;
pub mod ui;

pub use app::{router, AppConfig, AppState};
