//! Techem (TCH) radio water meters MK Radio 3/4 (CI 0xA2): volume of the previous billing
//! period plus the volume since, both in 0.1 m³.

use super::{field, unsupported};
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::telegram::Telegram;
use rust_decimal::Decimal;

/// MK Radio 3 (version 0x74) and 4 (0x95), water device types 0x62/0x72.
pub(super) fn mkradio(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    if !matches!(ctx.addr.a[4], 0x74 | 0x95) {
        return Err(unsupported(ctx, 0xA2, pos, "unknown MK Radio version"));
    }
    let p = field(b, pos + 1, 9, "MK Radio payload")?;
    let prev = i64::from(u16::from_le_bytes([p[3], p[4]]));
    let curr = i64::from(u16::from_le_bytes([p[7], p[8]]));
    t.total_m3 = Some(Decimal::new(prev + curr, 1));
    Ok(())
}
