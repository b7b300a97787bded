//! What the money pages share: formatting amounts and days for the page's language, today's
//! date, mapping the data layer's errors, and the payment QR drawn as SVG.

use crate::error::AppError;
use crate::ui::{Lang, Page};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// The payment QR codes drawn so far, by the text they encode. Drawing one (choosing the
/// best of eight masks) costs more CPU than the rest of the dashboard, and a customer's
/// payment text stays the same until what they owe changes, so each text is drawn once. A
/// drawing depends on its text alone, so a kept one is never stale; at `CAPACITY` texts the
/// memo starts over, which bounds its memory (a few kB a text).
pub struct QrImages {
    drawn: Mutex<HashMap<String, Arc<QrPath>>>,
}

/// One QR symbol as an SVG path of its dark modules, with the quiet zone counted in `size`.
pub struct QrPath {
    size: usize,
    d: String,
}

impl QrImages {
    const CAPACITY: usize = 20_000;

    pub fn new() -> Self {
        QrImages {
            drawn: Mutex::new(HashMap::new()),
        }
    }

    /// The symbol of `text`, drawn now or earlier; None when the text cannot be encoded.
    fn path(&self, text: &str) -> Option<Arc<QrPath>> {
        let kept = self.drawn.lock().ok().and_then(|m| m.get(text).cloned());
        if kept.is_some() {
            return kept;
        }
        let drawn = Arc::new(draw(text)?);
        if let Ok(mut m) = self.drawn.lock() {
            if m.len() >= Self::CAPACITY {
                m.clear();
            }
            m.insert(text.to_string(), drawn.clone());
        }
        Some(drawn)
    }

    /// The QR code of a transfer's text as an inline SVG (`aria-label` = `title`). Built from
    /// booleans and the escaped title only, so it is safe to insert unescaped.
    pub fn svg(&self, text: &str, title: &str) -> Option<String> {
        let p = self.path(text)?;
        let title = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        let (size, d) = (p.size, &p.d);
        Some(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {size} {size}\" \
             width=\"200\" height=\"200\" role=\"img\" aria-label=\"{title}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{d}\" fill=\"#000\"/></svg>"
        ))
    }
}

impl Default for QrImages {
    fn default() -> Self {
        Self::new()
    }
}

/// Encodes `text` and draws each row's runs of dark modules as one rectangle, inside a
/// quiet zone of 4 modules.
fn draw(text: &str) -> Option<QrPath> {
    use std::fmt::Write;
    let m = ewoda_billing::invoice::qr::matrix(text).ok()?;
    let mut d = String::new();
    for (y, row) in m.dark.chunks(m.width).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if !row[x] {
                x += 1;
                continue;
            }
            let run = row[x..].iter().take_while(|dark| **dark).count();
            let _ = write!(d, "M{} {}h{run}v1h-{run}z", x + 4, y + 4);
            x += run;
        }
    }
    Some(QrPath {
        size: m.width + 8,
        d,
    })
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
    fn qr_svg_draws_every_dark_module_once() {
        let text = "7711002238|PL|PL79109010141234000000004711|000012345|ZWiK|FV 1|||";
        let images = QrImages::new();
        let svg = images.svg(text, "QR \"kod\"").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("aria-label=\"QR &quot;kod&quot;\""));
        // The runs, laid back on a grid, are exactly the symbol's dark modules.
        let m = ewoda_billing::invoice::qr::matrix(text).unwrap();
        let d = svg.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut grid = vec![false; m.width * m.width];
        for run in d.split('M').skip(1) {
            let (at, rest) = run.split_once('h').unwrap();
            let (x, y) = at.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let len: usize = rest.split('v').next().unwrap().parse().unwrap();
            for cell in &mut grid[(y - 4) * m.width + x - 4..][..len] {
                assert!(!*cell, "a module drawn twice");
                *cell = true;
            }
        }
        assert_eq!(grid, m.dark);
        // Drawn once: the second call returns the kept drawing.
        let again = images.svg(text, "QR \"kod\"").unwrap();
        assert_eq!(svg, again);
        assert_eq!(images.drawn.lock().unwrap().len(), 1);
    }
}
