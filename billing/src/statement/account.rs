//! Account-number normalisation for the money paths, on top of `crate::account`'s `Iban` and
//! `Nrb`: malformed numbers in bank files and refund orders are rejected, not passed on.

use crate::account::{Iban, Nrb};

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
        return Nrb::parse(bare)
            .map(|n| n.as_str().to_string())
            .map_err(|_| format!("account number \"{raw}\" fails the mod-97 check"));
    }
    let looks_iban = compact.len() >= 4
        && compact.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
        && compact.as_bytes()[2..4].iter().all(u8::is_ascii_digit);
    if !looks_iban {
        return Err(format!("\"{raw}\" is not an account number (NRB or IBAN)"));
    }
    Iban::parse(&compact)
        .map(|i| i.as_str().to_string())
        .map_err(|_| format!("account number \"{raw}\" fails the mod-97 check"))
}

/// Validates a bare 26-digit Polish NRB (no "PL", no spaces).
pub(crate) fn is_valid_nrb(nrb: &str) -> bool {
    nrb.len() == 26 && !nrb.contains(' ') && Nrb::parse(nrb).is_ok()
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
