//! What the portal's scoped queries share across crates: the logged-in customer's id (taken
//! from the session, never from a URL), one page of a paged list, and a field-named refusal.

use serde::Serialize;

/// The customer a request acts for. Only the session extractor should build one from a
/// logged-in user; every eBOK query of billing, collector and portal takes it as its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CustomerId(i64);

impl CustomerId {
    /// Wraps a `customer.customer_id` read from the session or a trusted row.
    pub fn new(id: i64) -> Self {
        CustomerId(id)
    }

    /// The database key.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for CustomerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which page of a list to return (1-based), at most [`PageRequest::MAX_PER_PAGE`] rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

impl PageRequest {
    /// The most rows one page may hold.
    pub const MAX_PER_PAGE: u32 = 200;

    /// Page `page` (0 counts as 1) of `per_page` rows (clamped to 1..=MAX_PER_PAGE).
    pub fn new(page: u32, per_page: u32) -> Self {
        PageRequest {
            page: page.max(1),
            per_page: per_page.clamp(1, Self::MAX_PER_PAGE),
        }
    }

    /// SQL `limit`.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }

    /// SQL `offset`.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::new(1, 20)
    }
}

/// One page of a list with the total row count, for the pager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows over all pages.
    pub total: i64,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

impl<T> Page<T> {
    /// A page of `items` out of `total` for `req`.
    pub fn new(items: Vec<T>, total: i64, req: PageRequest) -> Self {
        Page {
            items,
            total,
            page: req.page,
            per_page: req.per_page,
        }
    }

    /// How many pages there are (at least 1).
    pub fn pages(&self) -> i64 {
        ((self.total + i64::from(self.per_page) - 1) / i64::from(self.per_page)).max(1)
    }
}

/// A form field a value was refused for, with the reason (English; the UI translates by
/// `code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the form posts it, e.g. `email` or `fields.plot_address`.
    pub field: String,
    /// A stable code for the UI's message catalogue, e.g. `required`, `invalid`, `too_large`.
    pub code: &'static str,
    /// What is wrong, in English.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field` with `code` and `message`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_clamp_and_offset() {
        let r = PageRequest::new(0, 0);
        assert_eq!((r.page, r.per_page, r.offset()), (1, 1, 0));
        let r = PageRequest::new(3, 1000);
        assert_eq!((r.per_page, r.offset()), (200, 400));
        let p = Page::new(vec![1, 2], 41, PageRequest::new(1, 20));
        assert_eq!(p.pages(), 3);
        assert_eq!(
            Page::<i32>::new(vec![], 0, PageRequest::default()).pages(),
            1
        );
    }
}
