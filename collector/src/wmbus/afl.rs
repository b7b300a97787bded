//! Authentication and fragmentation layer (CI 0x90, EN 13757-7 / OMS Vol. 2): message
//! counter and MAC used by security mode 7. Fragmented messages are refused.

use super::error::DecodeError;

/// What the AFL carried that later layers need.
#[derive(Debug, Clone, Copy, Default)]
pub struct Afl {
    /// Message control byte.
    pub mcl: Option<u8>,
    /// Message counter (little-endian as sent).
    pub mcr: Option<[u8; 4]>,
    /// Message length field.
    pub ml: Option<[u8; 2]>,
    /// MAC: frame offset and length.
    pub mac: Option<(usize, usize)>,
}

fn short(what: &'static str, offset: usize, needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        what,
        offset,
        needed,
        available,
    }
}

/// Parses the AFL starting at `pos` (its CI). Returns the AFL and the offset after it.
pub fn parse(b: &[u8], pos: usize) -> Result<(Afl, usize), DecodeError> {
    let afll = usize::from(*b.get(pos + 1).ok_or(short("AFL length", pos + 1, 1, 0))?);
    let end = pos + 2 + afll;
    if end > b.len() {
        return Err(short("AFL", pos, 2 + afll, b.len() - pos));
    }
    let body = &b[pos + 2..end];
    if body.len() < 2 {
        return Err(short("AFL fragmentation control", pos + 2, 2, body.len()));
    }
    let fcl = u16::from_le_bytes([body[0], body[1]]);
    if fcl & 0x4000 != 0 {
        return Err(DecodeError::Fragmented { offset: pos });
    }
    let mut afl = Afl::default();
    let mut i = 2;
    let mut field = |n: usize, what: &'static str| -> Result<usize, DecodeError> {
        if i + n > body.len() {
            return Err(short(what, pos + 2 + i, n, body.len().saturating_sub(i)));
        }
        let at = i;
        i += n;
        Ok(at)
    };
    if fcl & 0x2000 != 0 {
        afl.mcl = Some(body[field(1, "AFL message control")?]);
    }
    if fcl & 0x0200 != 0 {
        field(2, "AFL key information")?;
    }
    if fcl & 0x0800 != 0 {
        let at = field(4, "AFL message counter")?;
        afl.mcr = Some([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    }
    if fcl & 0x0400 != 0 {
        let len = match afl.mcl.map(|m| m & 0x0F) {
            Some(4) => 4,
            Some(5) => 8,
            Some(6) => 12,
            Some(7) => 16,
            _ => {
                return Err(DecodeError::UnsupportedSecurity {
                    mode: afl.mcl.unwrap_or(0) & 0x0F,
                    offset: pos,
                })
            }
        };
        let at = field(len, "AFL MAC")?;
        afl.mac = Some((pos + 2 + at, len));
    }
    if fcl & 0x1000 != 0 {
        let at = field(2, "AFL message length")?;
        afl.ml = Some([body[at], body[at + 1]]);
    }
    Ok((afl, end))
}
