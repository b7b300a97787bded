//! The payment QR code of Polish banks ("Rekomendacja Związku Banków Polskich dotycząca
//! standardu 2D dla płatności"): `NIP|PL|account (26 digits)|amount in grosze (6 digits)|
//! recipient name (≤ 20)|title (≤ 32)|||`, encoded as a QR symbol whose modules the PDF draws.

use crate::account::Iban;
use ewoda_common::Money;
use qrcode::{Color, EcLevel, QrCode};
use rust_decimal::Decimal;

/// Longest recipient name the format allows.
const NAME_MAX: usize = 20;
/// Longest title the format allows.
const TITLE_MAX: usize = 32;

/// What a payment QR code carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferData {
    /// The recipient's NIP (10 digits).
    pub recipient_nip: String,
    /// The account to pay to (a PL IBAN).
    pub account: Iban,
    /// Amount in PLN.
    pub amount: Decimal,
    /// Recipient's name (cut to 20 characters).
    pub recipient_name: String,
    /// Transfer title (cut to 32 characters), e.g. the invoice number.
    pub title: String,
}

/// Why no QR code could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// A field cannot be encoded in the format.
    #[error("qr.{field}: {message}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The symbol could not be built.
    #[error("qr: {0}")]
    Encode(String),
}

fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The text of the QR code. Amounts above 9,999.99 zł do not fit six digits; they are encoded
/// as `000000` so the payer types the amount (the bank app asks for it).
pub fn payload(t: &TransferData) -> Result<String, QrError> {
    if t.recipient_nip.len() != 10 || !t.recipient_nip.chars().all(|c| c.is_ascii_digit()) {
        return Err(QrError::Field {
            field: "recipient_nip",
            message: format!("{:?} is not 10 digits", t.recipient_nip),
        });
    }
    let nrb = t.account.nrb().ok_or_else(|| QrError::Field {
        field: "account",
        message: format!("{} is not a Polish account", t.account),
    })?;
    let grosze = Money::round(t.amount).grosze().unwrap_or(i64::MAX);
    if grosze < 0 {
        return Err(QrError::Field {
            field: "amount",
            message: format!("{} is negative", t.amount),
        });
    }
    let amount = if grosze > 999_999 {
        "000000".to_string()
    } else {
        format!("{grosze:06}")
    };
    Ok(format!(
        "{}|PL|{}|{}|{}|{}|||",
        t.recipient_nip,
        nrb.as_str(),
        amount,
        clean(&t.recipient_name, NAME_MAX),
        clean(&t.title, TITLE_MAX)
    ))
}

/// A QR symbol: `width` × `width` modules, row-major, true = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// Modules per side.
    pub width: usize,
    /// Row-major module colours.
    pub dark: Vec<bool>,
}

/// Encodes text as a QR symbol (error correction level M).
pub fn matrix(text: &str) -> Result<QrMatrix, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| QrError::Encode(e.to_string()))?;
    Ok(QrMatrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn data(amount: Decimal) -> TransferData {
        TransferData {
            recipient_nip: "7711002238".into(),
            account: Iban::parse("PL79109010141234000000004711").unwrap(),
            amount,
            recipient_name: "ZWiK Przykładowo|Sp. z o.o.".into(),
            title: "Faktura FW/2026/10/000123 za wodę i ścieki".into(),
        }
    }

    #[test]
    fn payload_follows_the_bank_format() {
        assert_eq!(
            payload(&data(dec!(123.45))).unwrap(),
            "7711002238|PL|79109010141234000000004711|012345|ZWiK Przykładowo Sp.|Faktura FW/2026/10/000123 za wod|||"
        );
        assert!(payload(&data(dec!(10000.00))).unwrap().contains("|000000|"));
        assert!(payload(&data(dec!(-1))).is_err());
        let m = matrix(&payload(&data(dec!(1))).unwrap()).unwrap();
        assert_eq!(m.dark.len(), m.width * m.width);
        assert!(m.width >= 21);
    }
}
