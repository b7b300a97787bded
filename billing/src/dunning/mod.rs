//! Dunning: reminders (wezwanie do zapłaty) by configurable levels and interest notes (nota
//! odsetkowa) with the statutory rates, each a gap-free numbered `dunning_notice` whose
//! `details` keep everything printed, and their PDFs.

pub mod interest_note;
pub mod levels;
pub mod open;
pub mod pdf;
pub mod reminder;

pub use self::interest_note::{
    interest_note, issue_interest_notes, InterestNoteReport, NoteOutcome,
};
pub use self::levels::{DunningConfig, DunningLevel, LevelKind};
pub use self::pdf::{load, render_dunning_pdf, DunningDocument};
pub use self::reminder::{run_dunning, DunningReport};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Number series of reminders (`WZ/2026/11/000001`), counted in `invoice_series`.
pub const REMINDER_SERIES: &str = "WZ";
/// Number series of interest notes (`NO/2026/11/000001`).
pub const INTEREST_NOTE_SERIES: &str = "NO";

/// Reminder or interest note (`dunning_notice.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Wezwanie do zapłaty.
    Reminder,
    /// Nota odsetkowa.
    InterestNote,
}

impl NoticeKind {
    /// The `dunning_notice.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Reminder => "reminder",
            NoticeKind::InterestNote => "interest_note",
        }
    }
}

/// A notice just written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedNotice {
    /// `dunning_notice_id`.
    pub dunning_notice_id: i64,
    /// Its number.
    pub number: String,
    /// The debtor.
    pub customer_id: i64,
    /// Reminder or note.
    pub kind: NoticeKind,
    /// Reminder level (1 for notes).
    pub level: u16,
    /// Debt the notice is about (open amounts; for a note, the amounts paid late or unpaid).
    pub principal: Decimal,
    /// Interest (notes).
    pub interest: Decimal,
    /// Compensation in PLN (notes to business debtors).
    pub compensation_pln: Option<Decimal>,
    /// What the notice asks to pay.
    pub total: Decimal,
}

/// A run of days at one rate (stored form of [`crate::interest::InterestSegment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteSegment {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Days.
    pub days: i64,
    /// Annual rate, percent.
    pub rate_percent: Decimal,
}

/// Interest on one amount paid late (or still unpaid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterestPart {
    /// The amount.
    pub amount: Decimal,
    /// The payment's booking day; None when still unpaid at the note's day.
    pub paid_on: Option<NaiveDate>,
    /// The last day of interest.
    pub through: NaiveDate,
    /// Days late.
    pub days: i64,
    /// Interest, rounded half-up once.
    pub interest: Decimal,
    /// Days per rate.
    pub segments: Vec<NoteSegment>,
}

/// One invoice on a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeItem {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Its due day.
    pub due_on: NaiveDate,
    /// Its gross amount.
    pub gross: Decimal,
    /// Still open on the notice's day.
    pub open: Decimal,
    /// Days past due on the notice's day.
    pub days_late: i64,
    /// The reminder level this invoice has reached with this notice (0 on notes).
    pub level: u16,
    /// Interest parts (notes only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<InterestPart>,
}

/// `dunning_notice.details`: everything the document prints beyond the columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDetails {
    /// The invoices.
    pub items: Vec<NoticeItem>,
    /// The invoice an interest note is for (also the note's idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<i64>,
    /// Reminder kind of the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_kind: Option<LevelKind>,
    /// Reminder fee (PLN).
    #[serde(default)]
    pub fee: Decimal,
    /// The customer's credit set against the overdue items (an overpayment, or a correction
    /// of an invoice already paid): the reminder demands the items less this, never more than
    /// the customer's balance.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub credit: Decimal,
    /// Pay by this day.
    pub pay_by: NaiveDate,
    /// NBP table day and EUR mid rate used for the compensation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eur_rate: Option<(NaiveDate, Decimal)>,
}

/// `issued_on + days`, saturating at the calendar's end.
fn plus_days(day: NaiveDate, days: u32) -> NaiveDate {
    day.checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}
