//! Profile (`/ebok/profile`): the customer's contact data with change requests a clerk
//! approves (status and answer shown), consents (marketing, commercial, e-invoice) with their
//! full history, and notification preferences per topic × channel as one form.

use super::store_error;
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::store::consent::{self, ConsentChannel, ConsentKind};
use crate::store::contact_change;
use crate::store::preference::{self, Channel, Topic};
use crate::store::StoreError;
use crate::ui::form::{FieldErrors, INVALID};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ewoda_billing::customer::ContactChange;
use ewoda_common::scope::{CustomerId, FieldError};
use serde::Deserialize;

/// The consents the customer manages here, in display order.
const CONSENTS: [ConsentKind; 3] = [
    ConsentKind::Marketing,
    ConsentKind::Commercial,
    ConsentKind::Einvoice,
];

pub struct ConsentRow {
    pub kind: &'static str,
    pub label: String,
    pub granted: bool,
    pub since: String,
}

pub struct HistoryRow {
    pub at: String,
    pub label: String,
    pub state: String,
    pub channel: String,
}

pub struct RequestRow {
    pub at: String,
    pub changes: String,
    pub status: String,
    pub answer: String,
}

pub struct PrefRow {
    pub topic: &'static str,
    pub label: String,
    /// (form name, channel label, enabled) per channel.
    pub cells: Vec<(String, String, bool)>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ContactForm {
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileQuery {
    pub saved: String,
    /// After `POST /ebok/push/test`: the number of devices reached, or `off`.
    pub push: String,
}

/// The Web Push part of the page: the VAPID public key for the script, a notice after a
/// test notification, and how many browsers of this user are subscribed.
pub struct PushSection {
    pub key: String,
    pub notice: String,
    pub devices: i64,
}

async fn push_section(
    state: &AppState,
    user_id: i64,
    page: &Page,
    push: &str,
) -> Result<PushSection, AppError> {
    let mut conn = state.pool.acquire().await?;
    let devices = preference::subscriptions(&mut conn, user_id)
        .await
        .map_err(store_error)?
        .len() as i64;
    let notice = match (push, push.parse::<i64>()) {
        ("off", _) => page.t("push-off"),
        (_, Ok(n)) => page.tn("push-sent", n),
        _ => String::new(),
    };
    Ok(PushSection {
        key: state
            .push
            .as_ref()
            .map(|p| p.public_key().to_string())
            .unwrap_or_default(),
        notice,
        devices,
    })
}

#[derive(Template)]
#[template(path = "ebok/profile.html")]
struct ProfilePage {
    page: Page,
    name: String,
    email: String,
    phone: String,
    saved: String,
    form: ContactForm,
    errors: FieldErrors,
    requests: Vec<RequestRow>,
    consents: Vec<ConsentRow>,
    history: Vec<HistoryRow>,
    channels: Vec<String>,
    prefs: Vec<PrefRow>,
    push: PushSection,
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Warsaw)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn consent_label(page: &Page, kind: &str) -> String {
    page.t(&format!("consent-{}", kind.replace('_', "-")))
}

fn changes_text(page: &Page, c: &ContactChange) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &c.email {
        parts.push(format!("{}: {e}", page.t("profile-email")));
    }
    if let Some(p) = &c.phone {
        parts.push(format!("{}: {p}", page.t("profile-phone")));
    }
    parts.join(", ")
}

async fn profile_page(
    state: &AppState,
    page: Page,
    who: CustomerId,
    saved: String,
    form: ContactForm,
    errors: FieldErrors,
    push: PushSection,
) -> Result<ProfilePage, AppError> {
    let mut conn = state.pool.acquire().await?;
    let profile = ewoda_billing::customer::profile(&mut conn, who)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let requests = contact_change::of_customer(&mut conn, who)
        .await
        .map_err(store_error)?
        .iter()
        .map(|r| RequestRow {
            at: when(r.created_at),
            changes: changes_text(&page, &r.changes),
            status: page.t(&format!("request-{}", r.status)),
            answer: r.answer.clone().unwrap_or_default(),
        })
        .collect();
    let current = consent::current(&mut conn, who)
        .await
        .map_err(store_error)?;
    let consents = CONSENTS
        .iter()
        .map(|k| {
            let c = current.iter().find(|c| c.kind == *k);
            ConsentRow {
                kind: k.as_str(),
                label: consent_label(&page, k.as_str()),
                granted: c.is_some_and(|c| c.granted),
                since: c.and_then(|c| c.at).map(when).unwrap_or_default(),
            }
        })
        .collect();
    let events: Vec<_> = consent::history(&mut conn, who)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|h| CONSENTS.iter().any(|k| k.as_str() == h.kind))
        .collect();
    let history = events
        .iter()
        .zip(event_states(&events))
        .map(|(h, state)| HistoryRow {
            at: when(h.at),
            label: consent_label(&page, &h.kind),
            state: page.t(state),
            channel: page.t(&format!("consent-channel-{}", h.channel)),
        })
        .collect();
    let matrix = preference::matrix(&mut conn, who)
        .await
        .map_err(store_error)?;
    let channels = [Channel::Email, Channel::Sms, Channel::Push]
        .iter()
        .map(|c| page.t(&format!("channel-{}", c.as_str())))
        .collect();
    let prefs = Topic::ALL
        .iter()
        .map(|t| PrefRow {
            topic: t.as_str(),
            label: page.t(&format!("topic-{}", t.as_str().replace('_', "-"))),
            cells: [Channel::Email, Channel::Sms, Channel::Push]
                .iter()
                .map(|c| {
                    let on = matrix
                        .iter()
                        .any(|p| p.topic == *t && p.channel == *c && p.enabled);
                    (
                        format!("{}.{}", t.as_str(), c.as_str()),
                        page.t(&format!("channel-{}", c.as_str())),
                        on,
                    )
                })
                .collect(),
        })
        .collect();
    // Only the three known notices; anything else in the query shows nothing.
    let saved = match saved.as_str() {
        "contact" | "consents" | "preferences" => page.t(&format!("profile-saved-{saved}")),
        _ => String::new(),
    };
    Ok(ProfilePage {
        name: profile.name,
        email: profile.email.unwrap_or_default(),
        phone: profile.phone.unwrap_or_default(),
        saved,
        form,
        errors: errors.translated(&page),
        requests,
        consents,
        history,
        channels,
        prefs,
        push,
        page,
    })
}

/// GET /ebok/profile
pub async fn show(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let push = push_section(&state, customer.user.user_id, &page, &q.push).await?;
    let p = profile_page(
        &state,
        page,
        who,
        q.saved,
        ContactForm::default(),
        FieldErrors::new(),
        push,
    )
    .await?;
    Ok(ui::ok(&p))
}

fn contact_errors(errors: &[FieldError]) -> FieldErrors {
    let mut e = FieldErrors::new();
    for f in errors {
        match (f.field.as_str(), f.code) {
            ("email", _) => e.add("email", "profile-err-email"),
            ("phone", _) => e.add("phone", "profile-err-phone"),
            ("changes", "pending") => e.add("changes", "profile-err-pending"),
            _ => e.add("changes", "profile-err-nothing"),
        }
    }
    e
}

/// POST /ebok/profile/contact: a change request (blank fields stay as they are).
pub async fn contact(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Form(form): Form<ContactForm>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let field = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let change = ContactChange {
        email: field(&form.email),
        phone: field(&form.phone),
    };
    match contact_change::submit(&state.pool, who, &change).await {
        Ok(_) => Ok(Redirect::to("/ebok/profile?saved=contact").into_response()),
        Err(StoreError::Invalid(v)) => {
            let push = push_section(&state, customer.user.user_id, &page, "").await?;
            let errors = contact_errors(&v);
            let p = profile_page(&state, page, who, String::new(), form, errors, push).await?;
            Ok(ui::html(&p, INVALID))
        }
        Err(e) => Err(store_error(e)),
    }
}

/// What each history row (newest first) did: granted, withdrawn (an earlier grant taken
/// back) or not given (a refusal with no grant before it).
fn event_states(newest_first: &[consent::ConsentEvent]) -> Vec<&'static str> {
    let mut granted_before: Vec<&str> = Vec::new();
    let mut states: Vec<&'static str> = newest_first
        .iter()
        .rev()
        .map(|h| {
            let had = granted_before.contains(&h.kind.as_str());
            if h.granted {
                granted_before.push(&h.kind);
                "consent-granted"
            } else if had {
                granted_before.retain(|k| *k != h.kind);
                "consent-withdrawn"
            } else {
                "consent-not-given"
            }
        })
        .collect();
    states.reverse();
    states
}

/// Whether a checkbox `name` was sent checked.
fn checked(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().any(|(k, v)| k == name && v == "on")
}

/// POST /ebok/profile/consents: the three checkboxes, saved together; each change is one
/// history row (a box never ticked and left unticked is recorded once, as not given).
pub async fn consents(
    customer: Customer,
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let mut tx = state.pool.begin().await?;
    for kind in CONSENTS {
        let granted = checked(&pairs, kind.as_str());
        let by = Some(customer.user.user_id);
        consent::set_in(&mut tx, who, kind, granted, by, ConsentChannel::Ebok)
            .await
            .map_err(store_error)?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/ebok/profile?saved=consents").into_response())
}

/// POST /ebok/profile/preferences: every topic × channel cell in one transaction.
pub async fn preferences(
    customer: Customer,
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let cells: Vec<(String, String, bool)> = Topic::ALL
        .iter()
        .flat_map(|t| [Channel::Email, Channel::Sms, Channel::Push].map(|c| (*t, c)))
        .map(|(t, c)| {
            let on = checked(&pairs, &format!("{}.{}", t.as_str(), c.as_str()));
            (t.as_str().to_string(), c.as_str().to_string(), on)
        })
        .collect();
    preference::set(&state.pool, who, &cells)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to("/ebok/profile?saved=preferences").into_response())
}
