//! SPEC §5 JSON lines, written by hand so field order is fixed and numbers stay exact.

use super::error::DecodeError;
use super::telegram::{Telegram, Value};
use std::fmt::Write;

fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Number(d) => {
            let _ = write!(out, "\"{d}\"");
        }
        Value::Date { year, month, day } => {
            let _ = write!(out, "\"{year:04}-{month:02}-{day:02}\"");
        }
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        } => {
            let _ = write!(out, "\"{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}");
            if let Some(s) = second {
                let _ = write!(out, ":{s:02}");
            }
            out.push('"');
        }
        Value::Bytes { data, len } => {
            out.push('"');
            for b in &data[..usize::from(*len)] {
                let _ = write!(out, "{b:02x}");
            }
            out.push('"');
        }
        Value::Invalid => out.push_str("null"),
    }
}

/// `{"id":…,"manufacturer":…,"version":…,"device_type":…,"total_m3":…,"records":[…],
/// "alarms":[…],"error":null}`
pub fn telegram_line(t: &Telegram) -> String {
    let mut out = String::with_capacity(160 + 110 * t.records.len());
    out.push_str("{\"id\":");
    push_str(&mut out, &t.id);
    out.push_str(",\"manufacturer\":");
    push_str(&mut out, &t.manufacturer);
    let _ = write!(out, ",\"version\":{},\"device_type\":", t.version);
    push_str(&mut out, t.device_type_name());
    out.push_str(",\"total_m3\":");
    match t.total_m3 {
        Some(v) => {
            let _ = write!(out, "{}", v.normalize());
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"records\":[");
    for (i, r) in t.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"function\":\"{}\",\"storage\":{},\"tariff\":{},\"subunit\":{},\"quantity\":\"{}\",\"value\":",
            r.function.as_str(),
            r.storage,
            r.tariff,
            r.subunit,
            r.quantity.as_str()
        );
        push_value(&mut out, &r.value);
        out.push_str(",\"unit\":");
        push_str(&mut out, r.unit);
        out.push('}');
    }
    out.push_str("],\"alarms\":[");
    for (i, a) in t.alarms.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, &a.name());
    }
    out.push(']');
    // Only present when a check disagreed, so ordinary lines keep the SPEC §5 shape.
    if !t.warnings.is_empty() {
        out.push_str(",\"warnings\":[");
        for (i, w) in t.warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(&mut out, &w.to_string());
        }
        out.push(']');
    }
    out.push_str(",\"error\":null}");
    out
}

/// `{"id":…,"error":"…"}` (id null when unknown).
pub fn error_line(id: Option<&str>, e: &DecodeError) -> String {
    let mut out = String::from("{\"id\":");
    match id {
        Some(id) => push_str(&mut out, id),
        None => out.push_str("null"),
    }
    out.push_str(",\"error\":");
    push_str(&mut out, &e.to_string());
    out.push('}');
    out
}
