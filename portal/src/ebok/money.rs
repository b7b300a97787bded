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

/// An amount in złoty: "1 234,56 zł" in Polish, "PLN 1,234.56" in English.
pub fn money(lang: Lang, amount: Decimal) -> String {
    let rounded = amount.round_dp(2);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.2}", rounded.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let (sep, dec) = match lang {
        Lang::Pl => ('\u{a0}', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(sep);
        }
        grouped.push(ch);
    }
    let sign = if negative { "−" } else { "" };
    match lang {
        Lang::Pl => format!("{sign}{grouped}{dec}{cents}\u{a0}zł"),
        Lang::En => format!("{sign}PLN\u{a0}{grouped}{dec}{cents}"),
    }
}

/// A day as the language writes it: "24.03.2026" / "2026-03-24".
pub fn day(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Pl => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

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
        assert_eq!(money(Lang::Pl, dec!(0)), "0,00\u{a0}zł");
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
