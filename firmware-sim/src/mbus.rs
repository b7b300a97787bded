//! Wired M-Bus (EN 13757-2 link layer) frames written independently of ewoda-collector:
//! the long frame `68 L L 68 C A CI … CS 16` a slave answers REQ_UD2 with, and the single
//! character `E5` acknowledgement.

use crate::SimError;

/// Single-character acknowledgement.
pub const ACK: u8 = 0xE5;
/// C-field of RSP_UD (slave to master, user data).
pub const C_RSP_UD: u8 = 0x08;

/// The checksum of the link layer: the arithmetic sum of the bytes modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

/// A long frame carrying `apdu` (CI onwards) with C-field `c` and primary address `a`.
pub fn long_frame(c: u8, a: u8, apdu: &[u8]) -> Result<Vec<u8>, SimError> {
    let l = u8::try_from(apdu.len() + 2).map_err(|_| SimError::TooLong {
        what: "M-Bus long frame",
        len: apdu.len() + 2,
        max: 255,
    })?;
    let mut out = Vec::with_capacity(apdu.len() + 8);
    out.extend_from_slice(&[0x68, l, l, 0x68, c, a]);
    out.extend_from_slice(apdu);
    out.push(checksum(&out[4..]));
    out.push(0x16);
    Ok(out)
}
