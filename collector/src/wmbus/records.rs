//! EN 13757-3 data records: DIF/DIFE (function, storage, tariff, subunit, data type),
//! VIF/VIFE chains with the primary, 0xFD and 0xFB tables, and the value codings (integers,
//! BCD, reals, dates, variable length). Values are scaled exactly with `Decimal`.

use super::error::DecodeError;
use super::telegram::{Function, Quantity, Record, Value};
use rust_decimal::Decimal;

/// Where the standard records stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordsEnd {
    /// All bytes were records (or fillers).
    End,
    /// The last 1–2 bytes could not start a complete record (some meters append a checksum
    /// after the records); they were ignored. Holds their frame offset.
    TrailingBytes(usize),
    /// A 0x0F/0x1F DIF starts manufacturer data at this offset (first byte after the DIF).
    ManufacturerData(usize),
}

/// A record's VIF, reduced to what it means.
#[derive(Debug, Clone, Copy)]
struct Vif {
    quantity: Quantity,
    unit: &'static str,
    modifier: Option<u8>,
    /// Decimal exponent applied to the raw value.
    exp: i32,
    /// For VIFs whose data is a date/time rather than a number.
    kind: VifKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VifKind {
    Number,
    Date,
    DateTime,
    Raw,
}

fn vif(quantity: Quantity, unit: &'static str, exp: i32) -> Vif {
    Vif {
        modifier: None,
        quantity,
        unit,
        exp,
        kind: VifKind::Number,
    }
}

fn primary_vif(code: u8) -> Vif {
    let n = i32::from(code & 0x07);
    let n2 = i32::from(code & 0x03);
    match code & 0x7F {
        0x00..=0x07 => vif(Quantity::Energy, "Wh", n - 3),
        0x08..=0x0F => vif(Quantity::Energy, "J", n),
        0x10..=0x17 => vif(Quantity::Volume, "m3", n - 6),
        0x18..=0x1F => vif(Quantity::Mass, "kg", n - 3),
        0x20..=0x23 => duration(Quantity::OnTime, code),
        0x24..=0x27 => duration(Quantity::OperatingTime, code),
        0x28..=0x2F => vif(Quantity::Power, "W", n - 3),
        0x30..=0x37 => vif(Quantity::Power, "J/h", n),
        0x38..=0x3F => vif(Quantity::VolumeFlow, "m3/h", n - 6),
        0x40..=0x47 => vif(Quantity::VolumeFlow, "m3/min", n - 7),
        0x48..=0x4F => vif(Quantity::VolumeFlow, "m3/s", n - 9),
        0x50..=0x57 => vif(Quantity::MassFlow, "kg/h", n - 3),
        0x58..=0x5B => vif(Quantity::FlowTemperature, "C", n2 - 3),
        0x5C..=0x5F => vif(Quantity::ReturnTemperature, "C", n2 - 3),
        0x60..=0x63 => vif(Quantity::TemperatureDifference, "K", n2 - 3),
        0x64..=0x67 => vif(Quantity::ExternalTemperature, "C", n2 - 3),
        0x68..=0x6B => vif(Quantity::Pressure, "bar", n2 - 3),
        0x6C => Vif {
            modifier: None,
            quantity: Quantity::Date,
            unit: "",
            exp: 0,
            kind: VifKind::Date,
        },
        0x6D => Vif {
            modifier: None,
            quantity: Quantity::DateTime,
            unit: "",
            exp: 0,
            kind: VifKind::DateTime,
        },
        0x6E => vif(Quantity::HcaUnits, "", 0),
        0x70..=0x73 => duration(Quantity::Duration, code),
        0x74..=0x77 => duration(Quantity::Duration, code),
        0x78 => Vif {
            modifier: None,
            quantity: Quantity::FabricationNumber,
            unit: "",
            exp: 0,
            kind: VifKind::Raw,
        },
        0x79 => Vif {
            modifier: None,
            quantity: Quantity::EnhancedId,
            unit: "",
            exp: 0,
            kind: VifKind::Raw,
        },
        0x7A => vif(Quantity::BusAddress, "", 0),
        _ => vif(Quantity::Other, "", 0),
    }
}

fn duration(q: Quantity, code: u8) -> Vif {
    let unit = match code & 0x03 {
        0 => "s",
        1 => "min",
        2 => "h",
        _ => "d",
    };
    vif(q, unit, 0)
}

fn fd_vif(code: u8) -> Vif {
    let raw = |q| Vif {
        modifier: None,
        quantity: q,
        unit: "",
        exp: 0,
        kind: VifKind::Raw,
    };
    match code & 0x7F {
        0x08 => vif(Quantity::AccessNumber, "", 0),
        0x09..=0x0A => raw(Quantity::Identifier),
        0x0B => raw(Quantity::Identifier),
        0x0C..=0x0F => raw(Quantity::Version),
        0x10..=0x13 => raw(Quantity::Identifier),
        0x16 => raw(Quantity::Identifier),
        0x17 => vif(Quantity::ErrorFlags, "", 0),
        0x1A | 0x1B => vif(Quantity::Digital, "", 0),
        0x24..=0x27 => duration(Quantity::Duration, code),
        0x3A => vif(Quantity::Counter, "", 0),
        0x40..=0x4F => vif(Quantity::Voltage, "V", i32::from(code & 0x0F) - 9),
        0x50..=0x5F => vif(Quantity::Current, "A", i32::from(code & 0x0F) - 12),
        0x60..=0x61 => vif(Quantity::Counter, "", 0),
        0x74 => vif(Quantity::BatteryLifetime, "d", 0),
        _ => vif(Quantity::Other, "", 0),
    }
}

fn fb_vif(code: u8) -> Vif {
    let n = i32::from(code & 0x01);
    match code & 0x7F {
        0x00..=0x01 => vif(Quantity::Energy, "MWh", n - 1),
        0x08..=0x09 => vif(Quantity::Energy, "GJ", n - 1),
        0x10..=0x11 => vif(Quantity::Volume, "m3", n + 2),
        0x18..=0x19 => vif(Quantity::Mass, "t", n + 2),
        0x28..=0x29 => vif(Quantity::Power, "MW", n - 1),
        0x30..=0x31 => vif(Quantity::Power, "GJ/h", n - 1),
        0x58..=0x5B => vif(Quantity::FlowTemperature, "F", i32::from(code & 0x03) - 3),
        0x5C..=0x5F => vif(Quantity::ReturnTemperature, "F", i32::from(code & 0x03) - 3),
        0x64..=0x67 => vif(
            Quantity::ExternalTemperature,
            "F",
            i32::from(code & 0x03) - 3,
        ),
        _ => vif(Quantity::Other, "", 0),
    }
}

/// Byte cursor over the application data that reports offsets relative to the frame.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let b = *self.data.get(self.pos).ok_or(DecodeError::Truncated {
            what,
            offset: self.base + self.pos,
            needed: 1,
            available: 0,
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let s = self
            .data
            .get(self.pos..self.pos + n)
            .ok_or(DecodeError::Truncated {
                what,
                offset: self.base + self.pos,
                needed: n,
                available: self.data.len().saturating_sub(self.pos),
            })?;
        self.pos += n;
        Ok(s)
    }
}

/// Parses records from `data` (which starts at frame offset `base`) into `out`.
pub fn parse(data: &[u8], base: usize, out: &mut Vec<Record>) -> Result<RecordsEnd, DecodeError> {
    let mut c = Cursor { data, pos: 0, base };
    while c.pos < data.len() {
        let start = c.pos;
        match parse_one(&mut c, out) {
            Ok(Some(end)) => return Ok(end),
            Ok(None) => {}
            // A record needs DIF, VIF and data; 1–2 leftover bytes that do not parse can only
            // be a trailer (some meters append a checksum after the records).
            Err(_) if data.len() - start <= 2 => {
                return Ok(RecordsEnd::TrailingBytes(base + start))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(RecordsEnd::End)
}

/// One record (or filler). `Some` when the records end here.
fn parse_one(c: &mut Cursor<'_>, out: &mut Vec<Record>) -> Result<Option<RecordsEnd>, DecodeError> {
    let base = c.base;
    let start = c.pos;
    let dif = c.byte("DIF")?;
    match dif {
        0x2F => return Ok(None),
        0x0F | 0x1F => return Ok(Some(RecordsEnd::ManufacturerData(c.pos))),
        0x7F | 0xFF => {
            return Err(DecodeError::Record {
                offset: base + start,
                reason: "global readout request DIF in a response",
            });
        }
        _ => {}
    }
    let function = match (dif >> 4) & 0x03 {
        0 => Function::Instantaneous,
        1 => Function::Maximum,
        2 => Function::Minimum,
        _ => Function::Error,
    };
    let mut storage = u64::from((dif >> 6) & 1);
    let mut tariff = 0u32;
    let mut subunit = 0u16;
    let mut ext = dif & 0x80 != 0;
    let mut i = 0u32;
    while ext {
        if i >= 10 {
            return Err(DecodeError::Record {
                offset: base + start,
                reason: "more than 10 DIFEs",
            });
        }
        let dife = c.byte("DIFE")?;
        storage |= u64::from(dife & 0x0F) << (1 + 4 * i);
        tariff |= u32::from((dife >> 4) & 0x03) << (2 * i);
        subunit |= u16::from((dife >> 6) & 1) << i;
        ext = dife & 0x80 != 0;
        i += 1;
    }
    let vif_byte = c.byte("VIF")?;
    let mut v = match vif_byte {
        0xFD => fd_vif(c.byte("VIFE of table FD")?),
        0xFB => fb_vif(c.byte("VIFE of table FB")?),
        0x7C | 0xFC => {
            let len = usize::from(c.byte("plain-text VIF length")?);
            c.take(len, "plain-text VIF")?;
            vif(Quantity::Other, "", 0)
        }
        0x7F | 0xFF => Vif {
            modifier: None,
            quantity: Quantity::ManufacturerSpecific,
            unit: "",
            exp: 0,
            kind: VifKind::Raw,
        },
        b => primary_vif(b),
    };
    // Table FD/FB codes carry their own extension bit in the code byte just read.
    let mut more = match vif_byte {
        0xFD | 0xFB => c.data.get(c.pos - 1).is_some_and(|b| b & 0x80 != 0),
        b => b & 0x80 != 0,
    };
    let mut n_vife = 0;
    while more {
        if n_vife >= 10 {
            return Err(DecodeError::Record {
                offset: base + start,
                reason: "more than 10 VIFEs",
            });
        }
        let vife = c.byte("VIFE")?;
        apply_vife(&mut v, vife);
        more = vife & 0x80 != 0;
        n_vife += 1;
    }
    let value = read_value(c, dif & 0x0F, &v, base + start)?;
    out.push(Record {
        function,
        storage,
        tariff,
        subunit,
        quantity: v.quantity,
        value,
        unit: v.unit,
        modifier: v.modifier,
    });
    Ok(None)
}

/// Fixed data length of a DIF data field, `None` for variable length and special functions.
fn data_len(df: u8) -> Option<usize> {
    match df & 0x0F {
        0x0 | 0x8 => Some(0),
        0x1 | 0x9 => Some(1),
        0x2 | 0xA => Some(2),
        0x3 | 0xB => Some(3),
        0x4 | 0x5 | 0xC => Some(4),
        0x6 | 0xE => Some(6),
        0x7 => Some(8),
        _ => None,
    }
}

/// Length of the DIF…VIFE header of the record starting at `format[pos]`, and its data length.
fn header_shape(format: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut i = pos;
    let dif = *format.get(i)?;
    let len = data_len(dif)?;
    i += 1;
    let mut ext = dif & 0x80 != 0;
    while ext {
        ext = format.get(i)? & 0x80 != 0;
        i += 1;
    }
    let vif = *format.get(i)?;
    i += 1;
    let mut ext = match vif {
        0x7C | 0xFC => return None,
        0xFD | 0xFB => {
            let code = *format.get(i)?;
            i += 1;
            code & 0x80 != 0
        }
        v => v & 0x80 != 0,
    };
    while ext {
        ext = format.get(i)? & 0x80 != 0;
        i += 1;
    }
    Some((i - pos, len))
}

/// The DIF/VIF bytes of the records in `data` (fill bytes 0x2F skipped, up to manufacturer
/// data or the end): the format a compact frame names by its CRC. `None` when a record has
/// no fixed length (it cannot be sent compact) or is cut short.
pub fn format_of(data: &[u8]) -> Option<Vec<u8>> {
    let mut format = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            0x2F => i += 1,
            0x0F | 0x1F => break,
            _ => {
                let (h, n) = header_shape(data, i)?;
                if i + h + n > data.len() {
                    return None;
                }
                format.extend_from_slice(&data[i..i + h]);
                i += h + n;
            }
        }
    }
    Some(format)
}

/// Rebuilds full records from a compact frame: the DIF/VIF `format` of a full frame and the
/// bare `data` (which starts at frame offset `base`). Writes into `out`; returns the bytes
/// written and the data bytes consumed.
pub fn expand_compact(
    format: &[u8],
    data: &[u8],
    base: usize,
    out: &mut [u8],
) -> Result<(usize, usize), DecodeError> {
    let (mut f, mut d, mut o) = (0, 0, 0);
    while f < format.len() {
        let (h, n) = header_shape(format, f).ok_or(DecodeError::Record {
            offset: base,
            reason: "compact format not expandable",
        })?;
        let src = data.get(d..d + n).ok_or(DecodeError::Truncated {
            what: "compact frame data",
            offset: base + d,
            needed: n,
            available: data.len().saturating_sub(d),
        })?;
        let dst = out.get_mut(o..o + h + n).ok_or(DecodeError::Record {
            offset: base + d,
            reason: "compact frame too long",
        })?;
        dst[..h].copy_from_slice(&format[f..f + h]);
        dst[h..].copy_from_slice(src);
        f += h;
        d += n;
        o += h + n;
    }
    Ok((o, d))
}

fn apply_vife(v: &mut Vif, vife: u8) {
    match vife & 0x7F {
        0x3B if v.quantity == Quantity::Volume => {
            v.quantity = Quantity::VolumeForward;
            v.modifier = Some(0x3B);
        }
        0x3C if v.quantity == Quantity::Volume => {
            v.quantity = Quantity::VolumeBackward;
            v.modifier = Some(0x3C);
        }
        // Multiplicative correction factors 10^(nnn-6) and 10^3.
        c @ 0x70..=0x77 => v.exp += i32::from(c & 0x07) - 6,
        0x7D => v.exp += 3,
        c => {
            if v.modifier.is_none() {
                v.modifier = Some(c);
            }
        }
    }
}

fn read_value(c: &mut Cursor<'_>, df: u8, v: &Vif, offset: usize) -> Result<Value, DecodeError> {
    let bytes: &[u8] = match df {
        0x0 | 0x8 => return Ok(Value::Invalid),
        0x1 => c.take(1, "int8 data")?,
        0x2 => c.take(2, "int16 data")?,
        0x3 => c.take(3, "int24 data")?,
        0x4 => c.take(4, "int32 data")?,
        0x5 => c.take(4, "real32 data")?,
        0x6 => c.take(6, "int48 data")?,
        0x7 => c.take(8, "int64 data")?,
        0x9 => c.take(1, "BCD2 data")?,
        0xA => c.take(2, "BCD4 data")?,
        0xB => c.take(3, "BCD6 data")?,
        0xC => c.take(4, "BCD8 data")?,
        0xE => c.take(6, "BCD12 data")?,
        0xD => {
            let lvar = c.byte("LVAR")?;
            let len = match lvar {
                0x00..=0xBF => usize::from(lvar),
                0xC0..=0xCF => usize::from(lvar - 0xC0),
                0xD0..=0xDF => usize::from(lvar - 0xD0),
                0xE0..=0xEF => usize::from(lvar - 0xE0),
                0xF0..=0xFA => 4 * usize::from(lvar - 0xEC),
                _ => {
                    return Err(DecodeError::Record {
                        offset,
                        reason: "reserved LVAR value",
                    })
                }
            };
            let data = c.take(len, "variable-length data")?;
            return Ok(raw_bytes(data));
        }
        _ => {
            return Err(DecodeError::Record {
                offset,
                reason: "special-function data field",
            })
        }
    };
    match v.kind {
        VifKind::Date if bytes.len() == 2 => return Ok(date_g(bytes)),
        VifKind::DateTime if bytes.len() == 4 => return Ok(datetime_f(bytes)),
        VifKind::DateTime if bytes.len() == 6 => return Ok(datetime_i(bytes)),
        VifKind::Raw => return Ok(raw_bytes(bytes)),
        _ => {}
    }
    let mantissa: i128 = match df {
        0x5 => {
            let f = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            return Ok(real_decimal(f).map_or(Value::Invalid, |d| scale(d, v.exp)));
        }
        0x9..=0xE => match bcd(bytes) {
            Some(m) => m,
            None => return Ok(Value::Invalid),
        },
        _ => signed_le(bytes),
    };
    Ok(Decimal::try_from_i128_with_scale(mantissa, 0).map_or(Value::Invalid, |d| scale(d, v.exp)))
}

/// The decimal a meter meant by an f32 register: the shortest decimal that reads back as the
/// same float (the meter's own digits; the float's exact binary value, e.g. 28504.26953125 for
/// 28504.27, carries digits no meter counted). `None` for NaN, infinities and floats beyond
/// `Decimal`'s range.
fn real_decimal(f: f32) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    // f32's Display is the shortest round-trip representation, never in exponent form.
    f.to_string().parse::<Decimal>().ok()
}

fn scale(d: Decimal, exp: i32) -> Value {
    if exp >= 0 {
        let mut d = d;
        for _ in 0..exp {
            match d.checked_mul(Decimal::TEN) {
                Some(x) => d = x,
                None => return Value::Invalid,
            }
        }
        Value::Number(d)
    } else {
        let mut d = d;
        match d.set_scale(d.scale() + exp.unsigned_abs()) {
            Ok(()) => Value::Number(d),
            Err(_) => Value::Invalid,
        }
    }
}

fn raw_bytes(data: &[u8]) -> Value {
    let mut buf = [0u8; 16];
    let n = data.len().min(16);
    buf[..n].copy_from_slice(&data[..n]);
    Value::Bytes {
        data: buf,
        len: n as u8,
    }
}

/// Little-endian two's complement integer of 1–8 bytes.
pub fn signed_le(bytes: &[u8]) -> i128 {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(8) {
        v |= u64::from(b) << (8 * i);
    }
    let bits = 8 * bytes.len().min(8) as u32;
    if bits == 64 {
        i128::from(v as i64)
    } else if bits > 0 && v & (1 << (bits - 1)) != 0 {
        i128::from(v) - (1i128 << bits)
    } else {
        i128::from(v)
    }
}

/// Little-endian BCD; a high nibble F in the last byte means negative. `None` on bad digits.
pub fn bcd(bytes: &[u8]) -> Option<i128> {
    let mut v: i128 = 0;
    let mut negative = false;
    for (i, &b) in bytes.iter().enumerate().rev() {
        let hi = b >> 4;
        let lo = b & 0x0F;
        let hi = if i == bytes.len() - 1 && hi == 0x0F {
            negative = true;
            0
        } else {
            hi
        };
        if hi > 9 || lo > 9 {
            return None;
        }
        v = v * 100 + i128::from(hi) * 10 + i128::from(lo);
    }
    Some(if negative { -v } else { v })
}

fn date_g(b: &[u8]) -> Value {
    let day = b[0] & 0x1F;
    let month = b[1] & 0x0F;
    let year = 2000 + u16::from(((b[0] & 0xE0) >> 5) | ((b[1] & 0xF0) >> 1));
    if day == 0 || month == 0 || month > 12 {
        return Value::Invalid;
    }
    Value::Date { year, month, day }
}

fn datetime_f(b: &[u8]) -> Value {
    if b[0] & 0x80 != 0 {
        return Value::Invalid;
    }
    let minute = b[0] & 0x3F;
    let hour = b[1] & 0x1F;
    let day = b[2] & 0x1F;
    let month = b[3] & 0x0F;
    let year = 2000 + u16::from(((b[2] & 0xE0) >> 5) | ((b[3] & 0xF0) >> 1));
    if day == 0 || month == 0 || month > 12 || hour > 23 || minute > 59 {
        return Value::Invalid;
    }
    Value::DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second: None,
    }
}

fn datetime_i(b: &[u8]) -> Value {
    let second = b[0] & 0x3F;
    match datetime_f(&b[1..5]) {
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            ..
        } => Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second: Some(second),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_n_records() {
        let data = hex::decode("0C1427048502046D32371F1502FD170000").expect("hex");
        let mut out = Vec::new();
        assert_eq!(parse(&data, 0, &mut out), Ok(RecordsEnd::End));
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].quantity, Quantity::Volume);
        assert_eq!(out[0].value, Value::Number(Decimal::new(2850427, 2)));
        assert_eq!(
            out[1].value,
            Value::DateTime {
                year: 2008,
                month: 5,
                day: 31,
                hour: 23,
                minute: 50,
                second: None
            }
        );
        assert_eq!(out[2].quantity, Quantity::ErrorFlags);
    }

    #[test]
    fn storage_tariff_from_dife() {
        // DIF 0x84 (storage bit 0, ext) DIFE 0x01 → storage 2.
        let data = hex::decode("840113AE2D0100").expect("hex");
        let mut out = Vec::new();
        parse(&data, 0, &mut out).expect("parse");
        assert_eq!(out[0].storage, 2);
    }

    #[test]
    fn real_volumes_keep_the_meters_digits() {
        // DIF 0x05 (real), VIF 0x16 (m³) and VIF 0x13 (litres); a NaN is invalid, not garbage.
        let mut data = vec![0x05, 0x16];
        data.extend(28504.27f32.to_le_bytes());
        data.extend([0x05, 0x13]);
        data.extend(1_234_567.8f32.to_le_bytes());
        data.extend([0x05, 0x13]);
        data.extend(f32::NAN.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(parse(&data, 0, &mut out), Ok(RecordsEnd::End));
        assert_eq!(out[0].value, Value::Number(Decimal::new(2850427, 2)));
        assert_eq!(out[1].value, Value::Number(Decimal::new(12345678, 4)));
        assert_eq!(out[2].value, Value::Invalid);
    }

    #[test]
    fn truncated_record_is_an_error() {
        let data = hex::decode("0C1427").expect("hex");
        let mut out = Vec::new();
        assert!(matches!(
            parse(&data, 5, &mut out),
            Err(DecodeError::Truncated { offset: 7, .. })
        ));
    }
}
