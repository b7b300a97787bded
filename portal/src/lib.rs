//! ewoda-portal: the axum web application (eBOK, office, console, API).

pub mod demo;
pub mod store;
pub mod web;
