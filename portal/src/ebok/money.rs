//! What the money pages share: formatting amounts and days for the page's language, today's
//! date, mapping the data layer's errors, and the payment QR drawn as SVG.

use crate::error::AppError;
use crate::ui::{Lang, Page};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::borrow::Borrow;

/// Today in the utility's time zone (the data layer takes it as a parameter).
pub fn today() -> NaiveDate {
    ewoda_common::time::local_day(chrono::Utc::now())
}

/// A data-layer failure: logged and hidden (500).
pub fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

pub use crate::ui::format::{day, money};

/// Formatters bound to a page, for templates.
pub struct Fmt(pub Lang);

impl Fmt {
    pub fn of(page: &Page) -> Fmt {
        Fmt(page.lang)
    }
    // Templates pass fields by reference and locals by value: take either.
    pub fn money(&self, amount: impl Borrow<Decimal>) -> String {
        money(self.0, *amount.borrow())
    }
    pub fn day(&self, d: impl Borrow<NaiveDate>) -> String {
        day(self.0, *d.borrow())
    }
    /// A unit price with the tariff's digits ("7,9310 zł").
    pub fn price(&self, amount: impl Borrow<Decimal>) -> String {
        crate::ui::format::price(self.0, *amount.borrow())
    }
    /// A quantity with its own digits ("258,44").
    pub fn number(&self, value: impl Borrow<Decimal>) -> String {
        crate::ui::format::number(self.0, *value.borrow())
    }
    pub fn positive(&self, amount: impl Borrow<Decimal>) -> bool {
        *amount.borrow() > Decimal::ZERO
    }
}

/// The payment QR as an SVG (one path of dark modules, 4-module quiet zone), or None when the
/// text cannot be encoded. Built from booleans only, so it is safe to insert unescaped.
pub fn qr_svg(text: &str, title: &str) -> Option<String> {
    let m = ewoda_billing::invoice::qr::matrix(text).ok()?;
    let mut path = String::new();
    for (i, dark) in m.dark.iter().enumerate() {
        if *dark {
            let (x, y) = (i % m.width + 4, i / m.width + 4);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let size = m.width + 8;
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {size} {size}\" \
         width=\"200\" height=\"200\" role=\"img\" aria-label=\"{title}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_groups_thousands_per_language() {
        assert_eq!(money(Lang::Pl, dec!(1234.5)), "1\u{a0}234,50\u{a0}zł");
        assert_eq!(
            money(Lang::En, dec!(-1234567.891)),
            "−PLN\u{a0}1,234,567.89"
        );
    }

    #[test]
    fn qr_svg_draws_dark_modules() {
        let svg = qr_svg(
            "7711002238|PL|PL79109010141234000000004711|000012345|ZWiK|FV 1|||",
            "QR",
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("h1v1h-1z"));
    }
}
