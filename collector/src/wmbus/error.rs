//! The decoder's one error type: what went wrong and where (byte offsets count from the first
//! byte of the frame as given, after link-layer CRCs were removed).

use thiserror::Error;

/// Why a telegram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input was not hexadecimal.
    #[error("invalid hex at character {position}")]
    InvalidHex {
        /// Character index of the first bad digit (or the length when it was odd).
        position: usize,
    },
    /// The frame ends before a field that it announces.
    #[error(
        "truncated frame: {what} needs {needed} bytes at offset {offset}, only {available} left"
    )]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Byte offset of the field.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes actually left.
        available: usize,
    },
    /// The length field does not match the number of bytes received.
    #[error("length field says {declared} bytes but {actual} were received")]
    LengthMismatch {
        /// Length derived from the L-field.
        declared: usize,
        /// Length actually received.
        actual: usize,
    },
    /// A link-layer CRC block did not check out.
    #[error("link-layer CRC mismatch in block {block} (bytes {offset}..)")]
    Crc {
        /// Block number (0 = first block).
        block: usize,
        /// Offset of the block in the received frame.
        offset: usize,
    },
    /// A wired long frame's checksum byte is wrong.
    #[error("wired M-Bus checksum mismatch: frame says {expected:#04x}, computed {computed:#04x}")]
    Checksum {
        /// Checksum carried by the frame.
        expected: u8,
        /// Checksum computed over C..data.
        computed: u8,
    },
    /// Start/stop bytes of a wired frame are wrong.
    #[error("malformed wired M-Bus frame: {0}")]
    WiredFrame(&'static str),
    /// A CI field we do not decode.
    #[error("unsupported CI field {ci:#04x} at offset {offset}")]
    UnsupportedCi {
        /// The CI byte.
        ci: u8,
        /// Its offset.
        offset: usize,
    },
    /// A security mode we do not implement.
    #[error("unsupported security mode {mode} at offset {offset}")]
    UnsupportedSecurity {
        /// OMS security mode number.
        mode: u8,
        /// Offset of the configuration word.
        offset: usize,
    },
    /// The payload is encrypted and no key is known for this meter.
    #[error("payload is encrypted (mode {mode}) and no key is known for {manufacturer} {id}")]
    MissingKey {
        /// Security mode.
        mode: u8,
        /// Manufacturer code.
        manufacturer: String,
        /// Meter id.
        id: String,
    },
    /// Decryption produced no valid plaintext (2F2F marker, CRC or MAC failed): wrong key.
    #[error(
        "wrong key for {manufacturer} {id}: {check} failed after decryption at offset {offset}"
    )]
    WrongKey {
        /// Manufacturer code.
        manufacturer: String,
        /// Meter id.
        id: String,
        /// Which check failed ("2F2F marker", "ELL payload CRC", "AFL MAC").
        check: &'static str,
        /// Offset of the encrypted data.
        offset: usize,
    },
    /// The encrypted part does not end on an AES block boundary.
    #[error("encrypted length {length} at offset {offset} is not whole AES blocks")]
    BadEncryptedLength {
        /// Length in bytes.
        length: usize,
        /// Offset of the encrypted part.
        offset: usize,
    },
    /// The ELL payload CRC of plaintext data is wrong (corrupt frame).
    #[error("ELL payload CRC mismatch at offset {offset}")]
    EllCrc {
        /// Offset of the CRC field.
        offset: usize,
    },
    /// The AFL MAC does not match (corrupt frame or wrong key).
    #[error("AFL MAC mismatch at offset {offset}")]
    Mac {
        /// Offset of the MAC field.
        offset: usize,
    },
    /// A data record is malformed.
    #[error("bad data record at offset {offset}: {reason}")]
    Record {
        /// Offset of the DIF.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A manufacturer payload we cannot interpret.
    #[error("unsupported manufacturer payload ({manufacturer} version {version:#04x}, CI {ci:#04x}) at offset {offset}: {reason}")]
    UnsupportedPayload {
        /// Manufacturer code.
        manufacturer: String,
        /// Version byte.
        version: u8,
        /// CI of the payload.
        ci: u8,
        /// Offset of the payload.
        offset: usize,
        /// What is missing.
        reason: &'static str,
    },
    /// A fragmented AFL message (more fragments follow); reassembly is not supported.
    #[error("fragmented AFL message at offset {offset}: reassembly is not supported")]
    Fragmented {
        /// Offset of the AFL.
        offset: usize,
    },
    /// A compact frame whose format signature is not known: neither built in nor learned
    /// from a full frame of the meter decoded before.
    #[error("compact frame format {signature:#06x} not yet learned (no full frame with this format decoded before) at offset {offset}")]
    UnknownFormat {
        /// Format signature.
        signature: u16,
        /// Offset of the signature.
        offset: usize,
    },
}
