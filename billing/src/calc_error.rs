//! The error type of the pure billing calculations (every variant names the input field at
//! fault). Rounding lives in `ewoda_common::units` (`Money::round`, `round_half_up`).

use rust_decimal::Decimal;

/// Why a calculation refused its input; `field` is the JSON path of the culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    /// The input does not have the expected shape (JSON syntax, missing field, wrong type).
    #[error("{field}: {message}")]
    Malformed { field: String, message: String },
    /// A value is out of range or inconsistent with another one.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The tariff versions overlap or do not cover a day that must be priced.
    #[error("{field}: {message}")]
    Tariff { field: String, message: String },
}

impl CalcError {
    /// The field (JSON path) the error is about, e.g. `volume.reads[1].value`.
    pub fn field(&self) -> &str {
        match self {
            CalcError::Malformed { field, .. }
            | CalcError::Invalid { field, .. }
            | CalcError::Tariff { field, .. } => field,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CalcError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn tariff(field: impl Into<String>, message: impl Into<String>) -> Self {
        CalcError::Tariff {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The error of `quote` (the same type as every other calculation's).
pub type QuoteError = CalcError;

/// The largest magnitude accepted for any input amount, price or volume (10¹²): far above
/// anything real, and low enough that no product or sum in the calculations can overflow.
pub const MAX_INPUT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// Rejects values beyond [`MAX_INPUT`] (so later arithmetic cannot overflow and panic).
pub(crate) fn check_magnitude(value: Decimal, field: &str) -> Result<(), CalcError> {
    if value.abs() > MAX_INPUT {
        return Err(CalcError::invalid(
            field,
            format!("{value} is implausibly large"),
        ));
    }
    Ok(())
}

/// Parses a JSON document into `T`, reporting the failing field's path.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(input: &str) -> Result<T, CalcError> {
    let de = &mut serde_json::Deserializer::from_str(input);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            "input".to_string()
        } else {
            path
        };
        let message = err.inner().to_string();
        // A `try_from` conversion's message starts with its own, more precise field.
        match message.split_once(": ") {
            Some((inner, rest)) if inner.starts_with(&field) && !inner.contains(' ') => {
                CalcError::Malformed {
                    field: inner.to_string(),
                    message: rest.to_string(),
                }
            }
            _ => CalcError::Malformed { field, message },
        }
    })
}

/// Serializes a calculation result, or turns the error into `{"error": "..."}` with exit code 2.
pub(crate) fn to_output<T: serde::Serialize>(
    result: Result<T, CalcError>,
) -> (serde_json::Value, u8) {
    match result.and_then(|value| {
        serde_json::to_value(value)
            .map_err(|e| CalcError::invalid("output", format!("cannot serialize: {e}")))
    }) {
        Ok(value) => (value, 0),
        Err(err) => (serde_json::json!({ "error": err.to_string() }), 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn max_input_is_ten_to_the_twelfth() {
        assert_eq!(MAX_INPUT, Decimal::from(1_000_000_000_000u64));
        assert!(check_magnitude(dec!(-1000000000000.001), "x").is_err());
        assert!(check_magnitude(dec!(1000000000000), "x").is_ok());
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            value: Decimal,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            reads: Vec<Inner>,
        }
        let err = from_json::<Outer>(r#"{"reads":[{"value":"1"},{"value":1.5}]}"#).unwrap_err();
        assert_eq!(err.field(), "reads[1].value");
        let err = from_json::<Outer>(r#"{"reads":[{}]}"#).unwrap_err();
        assert_eq!(err.field(), "reads[0]");
        assert!(err.to_string().contains("missing field `value`"), "{err}");
    }
}
