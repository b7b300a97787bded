//! Form helpers. A form is a struct of `String` fields (`#[serde(default)]`, so a missing or
//! odd field never fails before validation) with one `validate()` that parses it into the
//! typed value or returns [`FieldErrors`]. On errors the handler re-renders its template with
//! status 422, the typed values and the errors; `templates/ui/form.html` shows each message
//! beside its field, linked by `aria-describedby`.

use super::Page;
use axum::http::StatusCode;

/// Messages per field: (field name, fluent id of the message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    errors: Vec<(&'static str, &'static str)>,
    texts: Vec<(&'static str, String)>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message (a fluent id) to a field; the first message per field wins.
    pub fn add(&mut self, field: &'static str, message_id: &'static str) {
        if !self.has(field) {
            self.errors.push((field, message_id));
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The fluent id of a field's message.
    pub fn id_of(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| *m)
    }

    /// Translates the messages for rendering.
    pub fn translated(mut self, page: &Page) -> Self {
        self.texts = self.errors.iter().map(|(f, id)| (*f, page.t(id))).collect();
        self
    }

    /// A field's translated message ("" when none).
    pub fn message(&self, field: &str) -> &str {
        self.texts
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }

    /// `Ok(value)` when no field has a message.
    pub fn result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// A form that parses itself into a typed value or field messages.
pub trait Validate {
    type Valid;
    fn validate(&self) -> Result<Self::Valid, FieldErrors>;
}

/// Status of a re-rendered form with errors.
pub const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
