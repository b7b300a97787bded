//! Faults a simulated meter can suffer, and the status it reports, with the exact bits it sends.
//!
//! Status bits emitted (documented here because the collector's Apator driver is checked
//! against them):
//!
//! Transport status byte (EN 13757-3; bits 0–1 application error stay 00):
//! | bit | mask | meaning |
//! |---|---|---|
//! | 2 | 0x04 | power low (battery) |
//! | 3 | 0x08 | permanent error: magnetic tamper latched |
//! | 4 | 0x10 | temporary error: dry pipe (no measurement) |
//! | 5 | 0x20 | manufacturer: leak |
//! | 6 | 0x40 | manufacturer: backflow |
//! | 7 | 0x80 | manufacturer: burst |
//!
//! Error-flags record `02 FD 17` (16 bits, little-endian; Apator-style layout of this simulator,
//! not a copy of Apator's proprietary map):
//! | mask | meaning |
//! |---|---|
//! | 0x0001 | leak (continuous flow) |
//! | 0x0002 | burst (very large flow) |
//! | 0x0004 | backflow (reverse volume) |
//! | 0x0008 | magnetic tamper |
//! | 0x0010 | dry pipe |
//! | 0x0020 | battery low |

use chrono::{DateTime, Utc};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Constant extra flow (so no zero-flow hour) in the customer's installation.
    Leak {
        /// Extra litres every hour (≥ 1).
        litres_per_hour: i64,
    },
    /// A very large extra flow.
    Burst {
        /// Extra litres every hour (≥ 1).
        litres_per_hour: i64,
    },
    /// Water flows back: the hour's volume is this many litres in reverse; the register falls.
    Backflow {
        /// Reverse litres every hour (≥ 1).
        litres_per_hour: i64,
    },
    /// A magnet on the meter: it registers only a quarter of the flow and flags tamper.
    MagneticTamper,
    /// No water in the pipe: no flow at all, dry flag.
    DryPipe,
    /// Battery low flag only.
    LowBattery,
    /// Sets the initial register so that it wraps past 10^digits m³ exactly at the start.
    Rollover,
    /// A new meter (new id, serial and key) from the start, register from 0.
    Replacement,
    /// The register stops; water still flows.
    Stuck,
    /// The meter's clock runs fast (positive) or slow.
    ClockDrift {
        /// Seconds gained per day.
        seconds_per_day: i64,
    },
}

impl FaultKind {
    /// Faults of the meter itself, which a replacement cures.
    pub fn is_device_fault(self) -> bool {
        matches!(
            self,
            FaultKind::MagneticTamper
                | FaultKind::LowBattery
                | FaultKind::Stuck
                | FaultKind::ClockDrift { .. }
        )
    }
}

/// A fault with its time window. It acts from the first whole hour starting at or after
/// `start` until the first whole hour starting at or after `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What.
    pub kind: FaultKind,
    /// From when.
    pub start: DateTime<Utc>,
    /// Until when (None: for ever).
    pub end: Option<DateTime<Utc>>,
}

impl Fault {
    /// An open-ended fault.
    pub fn new(kind: FaultKind, start: DateTime<Utc>) -> Self {
        Fault {
            kind,
            start,
            end: None,
        }
    }

    /// The same fault ending at `end`.
    pub fn until(self, end: DateTime<Utc>) -> Self {
        Fault {
            end: Some(end),
            ..self
        }
    }
}

/// What the meter knows about itself at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterStatus {
    /// Leak detected.
    pub leak: bool,
    /// Burst detected.
    pub burst: bool,
    /// Reverse flow.
    pub backflow: bool,
    /// Magnetic tamper.
    pub tamper: bool,
    /// Dry pipe.
    pub dry: bool,
    /// Battery low.
    pub battery_low: bool,
    /// How far the meter's clock is ahead of true time, seconds.
    pub clock_offset_s: i64,
}

impl MeterStatus {
    /// The EN 13757-3 transport status byte (layout in the module doc).
    pub fn status_byte(&self) -> u8 {
        let mut b = 0u8;
        if self.battery_low {
            b |= 0x04;
        }
        if self.tamper {
            b |= 0x08;
        }
        if self.dry {
            b |= 0x10;
        }
        if self.leak {
            b |= 0x20;
        }
        if self.backflow {
            b |= 0x40;
        }
        if self.burst {
            b |= 0x80;
        }
        b
    }

    /// The 16-bit error flags of the `02 FD 17` record (layout in the module doc).
    pub fn error_flags(&self) -> u16 {
        let mut f = 0u16;
        for (on, bit) in [
            (self.leak, 0x0001),
            (self.burst, 0x0002),
            (self.backflow, 0x0004),
            (self.tamper, 0x0008),
            (self.dry, 0x0010),
            (self.battery_low, 0x0020),
        ] {
            if on {
                f |= bit;
            }
        }
        f
    }

    /// True when any alarm flag is set.
    pub fn any_alarm(&self) -> bool {
        self.error_flags() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_distinct() {
        let all = MeterStatus {
            leak: true,
            burst: true,
            backflow: true,
            tamper: true,
            dry: true,
            battery_low: true,
            clock_offset_s: 0,
        };
        assert_eq!(all.status_byte(), 0xFC);
        assert_eq!(all.error_flags(), 0x003F);
        let leak = MeterStatus {
            leak: true,
            ..Default::default()
        };
        assert_eq!((leak.status_byte(), leak.error_flags()), (0x20, 0x0001));
        assert!(!MeterStatus::default().any_alarm());
    }
}
