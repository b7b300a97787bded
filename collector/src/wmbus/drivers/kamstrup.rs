//! Kamstrup (KAM) Multical 21 / flowIQ: info codes in the manufacturer record (VIF FF 20 or
//! FF 23).

use crate::wmbus::telegram::{is_water_meter, Alarm, Quantity, Telegram, Value};

/// Info codes of the water meters: bit 0 dry, 1 reverse flow, 2 leak, 3 burst; for the
/// 2-byte code the higher bits are durations, for the 4-byte code they are error flags.
/// Kamstrup's heat and cooling meters (Multical 403/603, device types 0x04, 0x0C, 0x0D …)
/// give the same bits other meanings (voltage interruption, sensor errors), so for any
/// device that is not a water meter the code is kept raw as error flags, never as a leak.
pub(super) fn info_codes(t: &mut Telegram) {
    let code = t.records.iter().find_map(|r| match r.value {
        Value::Bytes { data, len }
            if r.quantity == Quantity::ManufacturerSpecific && r.storage == 0 =>
        {
            match len {
                2 => Some((u32::from(u16::from_le_bytes([data[0], data[1]])), false)),
                4 => Some((
                    u32::from_le_bytes([data[0], data[1], data[2], data[3]]),
                    true,
                )),
                _ => None,
            }
        }
        _ => None,
    });
    let Some((code, wide)) = code else { return };
    if !is_water_meter(t.device_type) {
        if code != 0 {
            t.alarms.push(Alarm::ErrorFlags(code));
        }
        return;
    }
    for (bit, alarm) in [
        (1, Alarm::Dry),
        (2, Alarm::Backflow),
        (4, Alarm::Leak),
        (8, Alarm::Burst),
    ] {
        if code & bit != 0 {
            t.alarms.push(alarm);
        }
    }
    if wide && code & !0x0F != 0 {
        t.alarms.push(Alarm::ErrorFlags(code & !0x0F));
    }
}
