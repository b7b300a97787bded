//! Bank account numbers: the `Iban` and `Nrb` types (ISO 13616 mod-97 checked on parsing) and
//! the customers' individual (virtual) accounts: settlement number + client prefix + customer
//! number, as Polish banks lay out collection accounts.

use crate::calc_error::CalcError;
use std::fmt;
use std::str::FromStr;

/// Digits of the account part after the 8-digit settlement number.
const ACCOUNT_PART_DIGITS: usize = 16;
/// Weights of the settlement number's check digit (numer rozliczeniowy jednostki banku).
const SETTLEMENT_WEIGHTS: [u32; 7] = [3, 9, 7, 1, 3, 9, 7];

/// An IBAN in electronic form (upper case, no spaces) whose check digits are valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN in electronic or print form (spaces ignored, any letter case); checks the
    /// country code, the length (28 for PL, 15–34 elsewhere) and the mod-97 check digits.
    pub fn parse(text: &str) -> Result<Self, CalcError> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let bad = |message: String| CalcError::invalid("iban", message);
        let country = compact.get(..2).unwrap_or_default();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(bad(format!("{text:?} does not start with a country code")));
        }
        let check = compact.get(2..4).unwrap_or_default();
        if check.len() != 2 || !check.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(format!(
                "{text:?} has no two check digits after the country code"
            )));
        }
        if !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(format!(
                "{text:?} has characters other than letters and digits"
            )));
        }
        let expected_len = if country == "PL" { 28..=28 } else { 15..=34 };
        if !expected_len.contains(&compact.len()) {
            return Err(bad(format!(
                "{text:?} has {} characters, {country} needs {expected_len:?}",
                compact.len()
            )));
        }
        if country == "PL" && !compact.chars().skip(2).all(|c| c.is_ascii_digit()) {
            return Err(bad(format!("{text:?}: a PL account number is all digits")));
        }
        if mod97(&compact[4..], &compact[..4]) != 1 {
            return Err(bad(format!("{text:?}: check digits do not match (mod 97)")));
        }
        Ok(Iban(compact))
    }

    /// Electronic form, e.g. `PL79109010141234000000004711`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter country code.
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// Print form in groups of four, e.g. `PL79 1090 1014 1234 0000 0000 4711`.
    pub fn to_print(&self) -> String {
        group(&self.0, 4)
    }

    /// The Polish 26-digit account number (NRB), for PL IBANs.
    pub fn nrb(&self) -> Option<Nrb> {
        (self.country() == "PL").then(|| Nrb(self.0[2..].to_string()))
    }
}

impl FromStr for Iban {
    type Err = CalcError;
    fn from_str(s: &str) -> Result<Self, CalcError> {
        Iban::parse(s)
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Polish account number (NRB, 26 digits: check digits, settlement number, account part).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nrb(String);

impl Nrb {
    /// Parses 26 digits (spaces ignored) and checks them as the IBAN `PL` + NRB.
    pub fn parse(text: &str) -> Result<Self, CalcError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() != 26 || !compact.chars().all(|c| c.is_ascii_digit()) {
            return Err(CalcError::invalid(
                "nrb",
                format!("{text:?} is not 26 digits"),
            ));
        }
        Iban::parse(&format!("PL{compact}"))
            .map(|_| Nrb(compact))
            .map_err(|_| CalcError::invalid("nrb", format!("{text:?}: check digits do not match")))
    }

    /// The 26 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Print form: two check digits, then groups of four (`79 1090 1014 1234 0000 0000 4711`).
    pub fn to_print(&self) -> String {
        let (check, rest) = self.0.split_at(2);
        format!("{check} {}", group(rest, 4))
    }

    /// The same account as an IBAN.
    pub fn to_iban(&self) -> Iban {
        Iban(format!("PL{}", self.0))
    }
}

impl fmt::Display for Nrb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn group(s: &str, size: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(size)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// ISO 7064 mod 97-10 of `bban` followed by `tail` (letters as 10..35), computed digit by digit.
fn mod97(bban: &str, tail: &str) -> u32 {
    bban.chars()
        .chain(tail.chars())
        .fold(0u32, |acc, c| match c.to_digit(36) {
            Some(v) if v >= 10 => (acc * 100 + v) % 97,
            Some(v) => (acc * 10 + v) % 97,
            None => acc,
        })
}

/// A bank's layout of individual collection accounts: the 8-digit settlement number of the
/// utility's bank branch and the client prefix the bank assigned to the utility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAccountLayout {
    /// Numer rozliczeniowy (8 digits, the last a check digit).
    pub settlement: String,
    /// The utility's client prefix (digits, fewer than 16).
    pub prefix: String,
}

impl VirtualAccountLayout {
    /// The customer's IBAN: `PL` + check digits + settlement + prefix + customer number
    /// zero-padded to fill the 16-digit account part.
    pub fn account_for(&self, customer_number: u64) -> Result<Iban, CalcError> {
        check_settlement(&self.settlement)?;
        if self.prefix.len() >= ACCOUNT_PART_DIGITS
            || !self.prefix.chars().all(|c| c.is_ascii_digit())
        {
            return Err(CalcError::invalid(
                "prefix",
                format!(
                    "{:?} is not up to {} digits",
                    self.prefix,
                    ACCOUNT_PART_DIGITS - 1
                ),
            ));
        }
        let width = ACCOUNT_PART_DIGITS - self.prefix.len();
        let customer = format!("{customer_number:0width$}");
        if customer.len() > width {
            return Err(CalcError::invalid(
                "customer",
                format!(
                    "{customer_number} does not fit the {width} digits left after prefix {}",
                    self.prefix
                ),
            ));
        }
        let bban = format!("{}{}{customer}", self.settlement, self.prefix);
        let check = 98 - mod97(&bban, "PL00");
        Ok(Iban(format!("PL{check:02}{bban}")))
    }
}

fn check_settlement(settlement: &str) -> Result<(), CalcError> {
    let digits: Vec<u32> = settlement.chars().filter_map(|c| c.to_digit(10)).collect();
    if settlement.len() != 8 || digits.len() != 8 {
        return Err(CalcError::invalid(
            "settlement",
            format!("{settlement:?} is not 8 digits"),
        ));
    }
    let sum: u32 = digits
        .iter()
        .zip(SETTLEMENT_WEIGHTS)
        .map(|(d, w)| d * w)
        .sum();
    let expected = (10 - sum % 10) % 10;
    if digits.get(7) != Some(&expected) {
        return Err(CalcError::invalid(
            "settlement",
            format!("{settlement:?}: the check digit should be {expected}"),
        ));
    }
    Ok(())
}

/// What `ewoda billing account --settlement --prefix --customer` prints: the IBAN as a JSON
/// string and 0, or `{"error":…}` and 2.
pub fn run_account(settlement: &str, prefix: &str, customer: u64) -> (serde_json::Value, u8) {
    let layout = VirtualAccountLayout {
        settlement: settlement.to_string(),
        prefix: prefix.to_string(),
    };
    match layout.account_for(customer) {
        Ok(iban) => (serde_json::Value::String(iban.to_string()), 0),
        Err(e) => (serde_json::json!({ "error": e.to_string() }), 2),
    }
}

/// What `ewoda billing account --check IBAN` prints and its exit code: 0 valid, 1 not.
pub fn run_check(iban: &str) -> (serde_json::Value, u8) {
    match Iban::parse(iban) {
        Ok(iban) => (
            serde_json::json!({ "valid": true, "iban": iban.as_str() }),
            0,
        ),
        Err(e) => (
            serde_json::json!({ "valid": false, "error": e.to_string() }),
            1,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_account_matches_the_acceptance_case() {
        let layout = VirtualAccountLayout {
            settlement: "10901014".into(),
            prefix: "1234".into(),
        };
        let iban = layout.account_for(4711).unwrap();
        assert_eq!(iban.as_str(), "PL79109010141234000000004711");
        assert_eq!(iban.to_print(), "PL79 1090 1014 1234 0000 0000 4711");
        assert_eq!(
            iban.nrb().unwrap().to_print(),
            "79 1090 1014 1234 0000 0000 4711"
        );
        assert_eq!(iban.nrb().unwrap().to_iban(), iban);
    }

    #[test]
    fn layout_errors_name_the_field() {
        let l = |s: &str, p: &str| VirtualAccountLayout {
            settlement: s.into(),
            prefix: p.into(),
        };
        assert_eq!(
            l("10901015", "1234").account_for(1).unwrap_err().field(),
            "settlement"
        );
        assert_eq!(
            l("1090101", "1234").account_for(1).unwrap_err().field(),
            "settlement"
        );
        assert_eq!(
            l("10901014", "12a").account_for(1).unwrap_err().field(),
            "prefix"
        );
        assert_eq!(
            l("10901014", "1234567890123456")
                .account_for(1)
                .unwrap_err()
                .field(),
            "prefix"
        );
        assert_eq!(
            l("10901014", "1234")
                .account_for(1_000_000_000_000)
                .unwrap_err()
                .field(),
            "customer"
        );
        assert!(l("10901014", "1234").account_for(999_999_999_999).is_ok());
    }

    #[test]
    fn parse_accepts_print_form_and_lower_case() {
        assert!(Iban::parse("pl79 1090 1014 1234 0000 0000 4711").is_ok());
        assert!(Iban::parse("GB82WEST12345698765432").is_ok());
        assert!(Iban::parse("gb82 west 1234 5698 7654 32").is_ok());
        assert!(Nrb::parse("79 1090 1014 1234 0000 0000 4711").is_ok());
    }

    #[test]
    fn parse_rejects_bad_numbers() {
        for bad in [
            "PL78109010141234000000004711",  // wrong check digits
            "PL7910901014123400000000471",   // too short
            "PL79109010141234000000004711X", // too long
            "PL79-1090-1014-1234-0000-0000-4711",
            "7910901014123400000000471100",
            "",
        ] {
            assert!(Iban::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(run_check("PL79109010141234000000004711").1, 0);
        assert_eq!(run_check("PL79109010141234000000004712").1, 1);
    }
}
