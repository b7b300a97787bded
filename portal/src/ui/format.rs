//! Numbers, amounts and days as the page's language writes them: "1 234,56 zł", "258,44 m³",
//! "24.03.2026" in Polish; "PLN 1,234.56", "258.44 m³", "2026-03-24" in English.

use super::Lang;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The language's thousands separator (a no-break space in Polish) and decimal mark.
fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::Pl => ('\u{a0}', ','),
        Lang::En => (',', '.'),
    }
}

/// `value` (already rounded to the digits to show) with grouped thousands and the language's
/// decimal mark; a minus sign (U+2212) in front of a negative value.
fn digits(lang: Lang, value: Decimal) -> String {
    let (sep, dec) = separators(lang);
    let negative = value.is_sign_negative() && !value.is_zero();
    let text = value.abs().to_string();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::from(if negative { "−" } else { "" });
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push(dec);
        out.push_str(f);
    }
    out
}

/// A quantity with its own digits, trailing zeros dropped: "258,44" / "258.44".
pub fn number(lang: Lang, value: Decimal) -> String {
    digits(lang, value.normalize())
}

/// A volume in cubic metres: "258,44 m³".
pub fn m3(lang: Lang, value: Decimal) -> String {
    format!("{}\u{a0}m³", number(lang, value))
}

/// An amount in złoty rounded to the grosz: "1 234,56 zł" / "PLN 1,234.56".
pub fn money(lang: Lang, amount: Decimal) -> String {
    let grosz = ewoda_common::units::round_half_up(amount, 2);
    with_currency(lang, &digits(lang, grosz))
}

/// A unit price with the tariff's precision as stored (at least two digits): "7,9310 zł".
pub fn price(lang: Lang, amount: Decimal) -> String {
    let mut shown = amount;
    if shown.scale() < 2 {
        shown.rescale(2);
    }
    with_currency(lang, &digits(lang, shown))
}

fn with_currency(lang: Lang, amount: &str) -> String {
    match lang {
        Lang::Pl => format!("{amount}\u{a0}zł"),
        Lang::En => match amount.strip_prefix('−') {
            Some(abs) => format!("−PLN\u{a0}{abs}"),
            None => format!("PLN\u{a0}{amount}"),
        },
    }
}

/// A day as the language writes it: "24.03.2026" / "2026-03-24".
pub fn day(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Pl => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn polish_writes_a_decimal_comma_and_groups_with_no_break_spaces() {
        assert_eq!(number(Lang::Pl, dec!(258.440)), "258,44");
        assert_eq!(number(Lang::En, dec!(258.440)), "258.44");
        assert_eq!(number(Lang::Pl, dec!(12345.5)), "12\u{a0}345,5");
        assert_eq!(number(Lang::En, dec!(12345)), "12,345");
        assert_eq!(m3(Lang::Pl, dec!(7.000)), "7\u{a0}m³");
    }

    #[test]
    fn amounts_round_to_the_grosz_and_prices_keep_the_tariffs_digits() {
        assert_eq!(money(Lang::Pl, dec!(1234.565)), "1\u{a0}234,57\u{a0}zł");
        assert_eq!(money(Lang::En, dec!(-1234.5)), "−PLN\u{a0}1,234.50");
        assert_eq!(money(Lang::Pl, dec!(-0.001)), "0,00\u{a0}zł");
        assert_eq!(money(Lang::Pl, dec!(0)), "0,00\u{a0}zł");
        assert_eq!(price(Lang::Pl, dec!(7.9310)), "7,9310\u{a0}zł");
        assert_eq!(price(Lang::En, dec!(12)), "PLN\u{a0}12.00");
    }

    #[test]
    fn days_follow_the_language() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 24).unwrap();
        assert_eq!(day(Lang::Pl, d), "24.03.2026");
        assert_eq!(day(Lang::En, d), "2026-03-24");
    }
}
