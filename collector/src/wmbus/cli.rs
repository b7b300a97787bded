//! `ewoda decode` as a library function: telegrams from arguments or one per input line, one
//! SPEC §5 JSON object per output line. The binary only wires stdin/stdout to this.

use super::keys::parse_key;
use super::{decode_learning, error_json_line, hex_to_bytes, peek_id, Formats};
use std::io::{BufRead, Write};
use thiserror::Error;

/// Why `ewoda decode` stopped before finishing.
#[derive(Debug, Error)]
pub enum CliError {
    /// `--key` was not 32 hex digits.
    #[error("--key must be 32 hex digits (an AES-128 key) or 16 (a DES key), got {0:?}")]
    BadKey(String),
    /// Reading input or writing output failed.
    #[error("cannot read input or write output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// Process exit code: 2 for bad usage, 1 for I/O failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadKey(_) => 2,
            CliError::Io(_) => 1,
        }
    }
}

/// Decodes every telegram in `hex_args`, or, when there are none, every non-empty line of
/// `input`, writing one JSON line each to `out`.
pub fn run_decode(
    key: Option<&str>,
    hex_args: &[String],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let key = match key {
        Some(k) => Some(parse_key(k).ok_or_else(|| CliError::BadKey(k.to_string()))?),
        None => None,
    };
    // Compact frames decode from the formats of the full frames before them in the input.
    let formats = Formats::new();
    if !hex_args.is_empty() {
        for h in hex_args {
            decode_one(h, &key, &formats, out)?;
        }
        return Ok(());
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        decode_one(&text, &key, &formats, out)?;
    }
    out.flush()?;
    Ok(())
}

fn decode_one(
    text: &str,
    key: &Option<[u8; 16]>,
    formats: &Formats,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut buf = [0u8; 1024];
    let line = match hex_to_bytes(&cleaned, &mut buf) {
        Ok(bytes) => match decode_learning(bytes, key, formats) {
            Ok(t) => t.to_json_line(),
            Err(e) => error_json_line(peek_id(bytes).as_deref(), &e),
        },
        Err(e) => error_json_line(None, &e),
    };
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}
