//! The quality bit set of `reading.quality` (see the migration comment on `reading`): the
//! one place these values are defined.

/// Passed validation (no implausible, reverse-flow or clock flag).
pub const VALIDATED: i16 = 1;
/// Estimated, not read from the meter.
pub const ESTIMATED: i16 = 2;
/// Edited by a person after reading.
pub const EDITED: i16 = 4;
/// The register wrapped around (e.g. 99 999 → 00 012 on a 5-digit register).
pub const ROLLOVER: i16 = 8;
/// First reading of a meter that replaced another at the same premises.
pub const REPLACEMENT: i16 = 16;
/// Flow since the previous reading above the meter's plausible maximum.
pub const IMPLAUSIBLE: i16 = 32;
/// The register went down without a rollover.
pub const REVERSE_FLOW: i16 = 64;
/// The reading's timestamp is in the future beyond the tolerance.
pub const CLOCK_SUSPECT: i16 = 128;

/// Names of the bits set in `q`, lowest bit first (for reports and logs).
pub fn names(q: i16) -> Vec<&'static str> {
    [
        (VALIDATED, "validated"),
        (ESTIMATED, "estimated"),
        (EDITED, "edited"),
        (ROLLOVER, "rollover"),
        (REPLACEMENT, "replacement"),
        (IMPLAUSIBLE, "implausible"),
        (REVERSE_FLOW, "reverse_flow"),
        (CLOCK_SUSPECT, "clock_suspect"),
    ]
    .into_iter()
    .filter(|(bit, _)| q & bit != 0)
    .map(|(_, n)| n)
    .collect()
}
