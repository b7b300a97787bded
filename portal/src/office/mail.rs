//! `/office/mail`: the mails the portal wrote into the maildir because it has no SMTP server
//! (demo, a fresh `ewoda serve`), newest first, and each one in full.

use crate::app::AppState;
use crate::auth::{AnyStaff, Staff};
use crate::error::AppError;
use crate::mail::{maildir, StoredMail};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

#[derive(Template)]
#[template(path = "office/mail.html")]
struct MailList {
    page: Page,
    mails: Vec<StoredMail>,
    count: i64,
    smtp: bool,
}

pub async fn list(
    _staff: Staff<AnyStaff>,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let dir = state.config.maildir();
    let mails = tokio::task::spawn_blocking(move || maildir::list(&dir))
        .await
        .map_err(|e| AppError::Internal(format!("maildir: {e}")))??;
    Ok(ui::ok(&MailList {
        page,
        count: mails.len() as i64,
        mails,
        smtp: state.config.smtp_url.is_some(),
    }))
}

#[derive(Template)]
#[template(path = "office/mail_one.html")]
struct MailOne {
    page: Page,
    mail: StoredMail,
}

pub async fn show(
    _staff: Staff<AnyStaff>,
    page: Page,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let dir = state.config.maildir();
    let mail = tokio::task::spawn_blocking(move || maildir::read(&dir, &name))
        .await
        .map_err(|e| AppError::Internal(format!("maildir: {e}")))??
        .ok_or(AppError::NotFound)?;
    Ok(ui::ok(&MailOne { page, mail }))
}
