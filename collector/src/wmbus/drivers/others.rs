//! Smaller drivers: Zenner (ZRI) manufacturer data, Qundis (QDS) walk-by record, Diehl
//! (DWZ) status flags.

use super::litres;
use crate::wmbus::error::DecodeError;
use crate::wmbus::records::bcd;
use crate::wmbus::telegram::{
    is_water_meter, may_carry_water_volume, Alarm, Quantity, Telegram, Value,
};

/// Zenner type 0B manufacturer data: status (u32 LE), then the volume in litres at 9..13.
pub(super) fn zenner(data: &[u8], t: &mut Telegram) -> Result<(), DecodeError> {
    if data.len() < 13 {
        return Err(DecodeError::Truncated {
            what: "Zenner manufacturer data",
            offset: 0,
            needed: 13,
            available: data.len(),
        });
    }
    let status = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    if status != 0 {
        t.alarms.push(Alarm::ManufacturerStatus(status));
    }
    // The litres are a water meter's register; other Zenner devices have none there.
    if t.total_m3.is_none() && may_carry_water_volume(t.device_type) {
        let l = u32::from_le_bytes([data[9], data[10], data[11], data[12]]);
        t.total_m3 = Some(litres(i64::from(l)));
    }
    Ok(())
}

/// Qundis Q water walk-by telegrams carry the volume in a manufacturer record (VIF 7F/FF)
/// as BCD litres at bytes 12..16. Only water meters (or radio converters relaying one):
/// Qundis heat cost allocators send manufacturer records too, and theirs hold no litres.
pub(super) fn qundis(t: &mut Telegram) {
    if t.total_m3.is_some() || !may_carry_water_volume(t.device_type) {
        return;
    }
    let found = t.records.iter().find_map(|r| match r.value {
        Value::Bytes { data, len } if r.quantity == Quantity::ManufacturerSpecific && len >= 16 => {
            bcd(&data[12..16])
        }
        _ => None,
    });
    if let Some(l) = found.and_then(|l| i64::try_from(l).ok()) {
        t.total_m3 = Some(litres(l));
    }
}

/// Diehl/Sappel waterstarm: error flag 0x40 means leakage (or no usage) — of a water meter.
pub(super) fn waterstarm(t: &mut Telegram) {
    if !is_water_meter(t.device_type) {
        return;
    }
    let mut extra = None;
    for a in t.alarms.iter_mut() {
        if let Alarm::ErrorFlags(f) = a {
            if *f & 0x40 != 0 {
                *f &= !0x40;
                extra = Some(Alarm::Leak);
            }
        }
    }
    t.alarms.retain(|a| *a != Alarm::ErrorFlags(0));
    t.alarms.extend(extra);
}
