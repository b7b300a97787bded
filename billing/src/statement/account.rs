//! Account-number normalisation for the money paths: a small private mod-97 check so that
//! malformed numbers in bank files and refund orders are rejected, not passed on.

/// Normalises an account number: Polish numbers (26 digits, with or without "PL") become the
/// bare 26-digit NRB; foreign IBANs stay as upper-case IBANs. Spaces and a leading '/' go.
pub(crate) fn normalize_account(raw: &str) -> Result<String, String> {
    let compact: String = raw
        .trim()
        .trim_start_matches('/')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let bare = compact.strip_prefix("PL").unwrap_or(&compact);
    if bare.len() == 26 && bare.bytes().all(|b| b.is_ascii_digit()) {
        if iban_checksum_ok("PL", bare) {
            return Ok(bare.to_string());
        }
        return Err(format!("account number \"{raw}\" fails the mod-97 check"));
    }
    let b = compact.as_bytes();
    let looks_iban = (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric);
    if !looks_iban {
        return Err(format!("\"{raw}\" is not an account number (NRB or IBAN)"));
    }
    let (country, rest) = compact.split_at(2);
    if iban_checksum_ok(country, rest) {
        Ok(compact)
    } else {
        Err(format!("account number \"{raw}\" fails the mod-97 check"))
    }
}

/// Validates a bare 26-digit Polish NRB (no "PL", no spaces).
pub(crate) fn is_valid_nrb(nrb: &str) -> bool {
    nrb.len() == 26 && nrb.bytes().all(|b| b.is_ascii_digit()) && iban_checksum_ok("PL", nrb)
}

/// ISO 13616 check: `rest` is check digits + BBAN.
fn iban_checksum_ok(country: &str, rest: &str) -> bool {
    let (check, bban) = match (rest.get(..2), rest.get(2..)) {
        (Some(c), Some(b)) => (c, b),
        _ => return false,
    };
    let mut remainder: u32 = 0;
    for c in bban.chars().chain(country.chars()).chain(check.chars()) {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_numbers_normalise_to_nrb() {
        assert_eq!(
            normalize_account("PL61 1090 1014 0000 0712 1981 2874").as_deref(),
            Ok("61109010140000071219812874")
        );
        assert_eq!(
            normalize_account("/PL61109010140000071219812874").as_deref(),
            Ok("61109010140000071219812874")
        );
    }

    #[test]
    fn foreign_iban_kept_and_bad_digits_rejected() {
        assert_eq!(
            normalize_account("DE89 3704 0044 0532 0130 00").as_deref(),
            Ok("DE89370400440532013000")
        );
        assert!(normalize_account("61109010140000071219812875").is_err());
        assert!(normalize_account("12345").is_err());
        assert!(is_valid_nrb("35114020040000999900001234"));
        assert!(!is_valid_nrb("35114020040000999900001235"));
    }
}
