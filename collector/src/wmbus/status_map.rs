//! Meter-specific meaning of the bits EN 13757-3 leaves to the manufacturer: status bits 5–7
//! and the error-flags record (`02 FD 17`). The decoder reports them raw
//! (`Alarm::ManufacturerStatus`, `Alarm::ErrorFlags`); a meter's configured status profile
//! turns them into named alarms (leak, burst, …). Bits a profile does not name stay raw. A
//! profile names the bits of water meters only: other devices on the same source (a heat
//! meter, a pressure sensor) keep their bits raw.

use super::{is_water_meter, Alarm, Telegram};

/// How one meter model encodes its alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusProfile {
    /// Profile name as configured per meter model.
    pub name: &'static str,
    /// Status-byte bits (of 0xE0) and their alarms.
    pub status_bits: &'static [(u8, Alarm)],
    /// Error-flags record bits and their alarms.
    pub error_flags: &'static [(u32, Alarm)],
}

/// The layout of ewoda's reference water meter (and of the simulated fleet): status bit 0x20
/// leak, 0x40 backflow, 0x80 burst (the standard bits carry battery 0x04, permanent error 0x08
/// for magnetic tamper, temporary error 0x10 for a dry pipe), and the 16-bit error-flags record
/// 0x0001 leak, 0x0002 burst, 0x0004 backflow, 0x0008 tamper, 0x0010 dry, 0x0020 battery low.
pub const WATER_FLAGS: StatusProfile = StatusProfile {
    name: "water-flags",
    status_bits: &[
        (0x20, Alarm::Leak),
        (0x40, Alarm::Backflow),
        (0x80, Alarm::Burst),
    ],
    error_flags: &[
        (0x0001, Alarm::Leak),
        (0x0002, Alarm::Burst),
        (0x0004, Alarm::Backflow),
        (0x0008, Alarm::Tamper),
        (0x0010, Alarm::Dry),
        (0x0020, Alarm::BatteryLow),
    ],
};

/// Every profile by name.
pub const PROFILES: &[StatusProfile] = &[WATER_FLAGS];

impl StatusProfile {
    pub fn by_name(name: &str) -> Option<&'static StatusProfile> {
        PROFILES.iter().find(|p| p.name == name)
    }

    /// Replaces the raw manufacturer alarms of `t` by named ones; unnamed bits stay raw.
    /// Telegrams of devices that are not water meters are left as they are.
    pub fn apply(&self, t: &mut Telegram) {
        if !is_water_meter(t.device_type) {
            return;
        }
        let mut named = Vec::new();
        t.alarms.retain_mut(|a| match a {
            Alarm::ManufacturerStatus(bits) => {
                let mut rest = *bits;
                for &(bit, alarm) in self.status_bits {
                    if rest & u32::from(bit) != 0 {
                        named.push(alarm);
                        rest &= !u32::from(bit);
                    }
                }
                *bits = rest;
                rest != 0
            }
            Alarm::ErrorFlags(bits) => {
                let mut rest = *bits;
                for &(bit, alarm) in self.error_flags {
                    if rest & bit != 0 {
                        named.push(alarm);
                        rest &= !bit;
                    }
                }
                *bits = rest;
                rest != 0
            }
            _ => true,
        });
        for a in named {
            if !t.alarms.contains(&a) {
                t.alarms.push(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_bits_become_alarms_and_the_rest_stays_raw() {
        let mut t = Telegram {
            alarms: vec![
                Alarm::BatteryLow,
                Alarm::ManufacturerStatus(0x20 | 0x100),
                Alarm::ErrorFlags(0x0001 | 0x0004 | 0x8000),
            ],
            manufacturer: "APA".into(),
            id: "12345678".into(),
            version: 1,
            device_type: 7,
            access_number: 0,
            status: 0,
            security_mode: 0,
            radio_id: None,
            link: crate::wmbus::LinkFormat::WirelessNoCrc,
            ci: 0x7A,
            records: Vec::new(),
            total_m3: None,
            warnings: Vec::new(),
        };
        WATER_FLAGS.apply(&mut t);
        assert_eq!(
            t.alarms,
            vec![
                Alarm::BatteryLow,
                Alarm::ManufacturerStatus(0x100),
                Alarm::ErrorFlags(0x8000),
                Alarm::Leak,
                Alarm::Backflow,
            ]
        );
        assert_eq!(StatusProfile::by_name("water-flags"), Some(&WATER_FLAGS));
        assert!(StatusProfile::by_name("nope").is_none());
    }
}
