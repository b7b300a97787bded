//! IMST iM871A USB radio dongle framing (WiMOD HCI) and the "raw hex lines" format of other
//! receivers: streaming decoders that take bytes as a serial port delivers them (any chunking)
//! and yield received wM-Bus frames. Pure code; the serial I/O lives elsewhere.
//!
//! HCI frame: `A5 | ctrl<<4 | endpoint | msg id | length | payload | [timestamp u32 LE] |
//! [RSSI u8] | [CRC16 LE]`, where ctrl bit 3 (0x80 of the byte) = CRC present, bit 2 (0x40) =
//! RSSI present, bit 1 (0x20) = timestamp present. The CRC is CRC-16/X-25 (CCITT reflected,
//! init and final XOR 0xFFFF) over everything after the start byte. In a radio-link
//! `WMBUSMSG_IND` (endpoint 0x02, message 0x03) the payload is the wM-Bus frame from its
//! C-field on (the dongle drops the L-field and the link CRCs); we put the L-field back.

use thiserror::Error;

/// Start-of-frame byte.
pub const SOF: u8 = 0xA5;
/// Radio link endpoint.
pub const ENDPOINT_RADIOLINK: u8 = 0x02;
/// Radio link message id of a received wM-Bus telegram (WMBUSMSG_IND).
pub const MSG_WMBUS_RX_IND: u8 = 0x03;

const FLAG_CRC: u8 = 0x80;
const FLAG_RSSI: u8 = 0x40;
const FLAG_TIMESTAMP: u8 = 0x20;
/// Header bytes after SOF: control/endpoint, message id, length.
const HEADER: usize = 3;
/// Bytes kept while waiting for the rest of a frame (longest possible frame, with margin).
const MAX_BUFFER: usize = 4096;

/// Why bytes were dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Bytes before a start-of-frame byte.
    #[error("{0} bytes of garbage before a start-of-frame byte")]
    Garbage(usize),
    /// A frame's CRC did not match.
    #[error("CRC mismatch in HCI frame (endpoint {endpoint:#04x}, message {msg_id:#04x}): got {got:#06x}, computed {computed:#06x}")]
    BadCrc {
        /// Endpoint id.
        endpoint: u8,
        /// Message id.
        msg_id: u8,
        /// CRC carried by the frame.
        got: u16,
        /// CRC computed.
        computed: u16,
    },
    /// The endpoint id is not one the iM871A uses.
    #[error("unknown HCI endpoint {0:#04x}")]
    BadEndpoint(u8),
    /// A radio message with an empty payload.
    #[error("empty wM-Bus payload in a radio message")]
    EmptyPayload,
}

/// A wM-Bus frame received by the dongle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    /// The frame with its L-field restored and no link CRCs (ready for `wmbus::decode`).
    pub frame: Vec<u8>,
    /// Raw RSSI byte, when the dongle sent one.
    pub rssi: Option<u8>,
    /// Dongle timestamp (ticks), when sent.
    pub timestamp: Option<u32>,
}

/// What the decoder produced from the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A received wM-Bus telegram.
    Frame(RxFrame),
    /// Any other well-formed HCI message (confirmations, device management).
    Message {
        /// Endpoint id.
        endpoint: u8,
        /// Message id.
        msg_id: u8,
        /// Payload.
        payload: Vec<u8>,
    },
    /// Bytes that were dropped, and why.
    Dropped(FrameError),
}

/// CRC-16/X-25 as the WiMOD HCI uses it.
pub fn crc16_x25(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Builds an HCI frame (used by tests and by anything that sends commands to the dongle).
pub fn encode(
    endpoint: u8,
    msg_id: u8,
    payload: &[u8],
    timestamp: Option<u32>,
    rssi: Option<u8>,
    with_crc: bool,
) -> Vec<u8> {
    let mut ctrl = endpoint & 0x0F;
    if with_crc {
        ctrl |= FLAG_CRC;
    }
    if rssi.is_some() {
        ctrl |= FLAG_RSSI;
    }
    if timestamp.is_some() {
        ctrl |= FLAG_TIMESTAMP;
    }
    let len = u8::try_from(payload.len()).unwrap_or(u8::MAX);
    let mut out = vec![SOF, ctrl, msg_id, len];
    out.extend_from_slice(&payload[..usize::from(len)]);
    if let Some(ts) = timestamp {
        out.extend_from_slice(&ts.to_le_bytes());
    }
    if let Some(r) = rssi {
        out.push(r);
    }
    if with_crc {
        let crc = crc16_x25(&out[1..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// Streaming HCI decoder: feed chunks with [`Im871aDecoder::push`], collect events.
#[derive(Debug, Default)]
pub struct Im871aDecoder {
    buf: Vec<u8>,
}

impl Im871aDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event now complete (incomplete frames stay buffered).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut pos = 0;
        loop {
            let Some(start) = self.buf[pos..]
                .iter()
                .position(|&b| b == SOF)
                .map(|i| pos + i)
            else {
                if self.buf.len() > pos {
                    events.push(Event::Dropped(FrameError::Garbage(self.buf.len() - pos)));
                }
                pos = self.buf.len();
                break;
            };
            if start > pos {
                events.push(Event::Dropped(FrameError::Garbage(start - pos)));
                pos = start;
            }
            match self.frame_at(pos) {
                Parse::Incomplete => break,
                Parse::Bad(e) => {
                    events.push(Event::Dropped(e));
                    // Resynchronise on the next start byte after this (false) one.
                    pos += 1;
                }
                Parse::Ok(event, used) => {
                    events.push(event);
                    pos += used;
                }
            }
        }
        self.buf.drain(..pos);
        if self.buf.len() > MAX_BUFFER {
            let n = self.buf.len();
            self.buf.clear();
            events.push(Event::Dropped(FrameError::Garbage(n)));
        }
        events
    }

    fn frame_at(&self, pos: usize) -> Parse {
        let b = &self.buf[pos..];
        if b.len() < 1 + HEADER {
            return Parse::Incomplete;
        }
        let ctrl = b[1];
        let endpoint = ctrl & 0x0F;
        let msg_id = b[2];
        if !(0x01..=0x04).contains(&endpoint) || ctrl & 0x10 != 0 {
            return Parse::Bad(FrameError::BadEndpoint(ctrl));
        }
        let len = usize::from(b[3]);
        let ts = if ctrl & FLAG_TIMESTAMP != 0 { 4 } else { 0 };
        let rssi = usize::from(ctrl & FLAG_RSSI != 0);
        let crc = if ctrl & FLAG_CRC != 0 { 2 } else { 0 };
        let total = 1 + HEADER + len + ts + rssi + crc;
        if b.len() < total {
            return Parse::Incomplete;
        }
        if crc == 2 {
            let got = u16::from_le_bytes([b[total - 2], b[total - 1]]);
            let computed = crc16_x25(&b[1..total - 2]);
            if got != computed {
                return Parse::Bad(FrameError::BadCrc {
                    endpoint,
                    msg_id,
                    got,
                    computed,
                });
            }
        }
        let payload = &b[4..4 + len];
        let mut at = 4 + len;
        let timestamp = (ts == 4).then(|| {
            let v = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            at += 4;
            v
        });
        let rssi = (rssi == 1).then(|| b[at]);
        if endpoint == ENDPOINT_RADIOLINK && msg_id == MSG_WMBUS_RX_IND {
            if payload.is_empty() {
                return Parse::Bad(FrameError::EmptyPayload);
            }
            let mut frame = Vec::with_capacity(len + 1);
            frame.push(b[3]);
            frame.extend_from_slice(payload);
            return Parse::Ok(
                Event::Frame(RxFrame {
                    frame,
                    rssi,
                    timestamp,
                }),
                total,
            );
        }
        Parse::Ok(
            Event::Message {
                endpoint,
                msg_id,
                payload: payload.to_vec(),
            },
            total,
        )
    }
}

enum Parse {
    Incomplete,
    Bad(FrameError),
    Ok(Event, usize),
}

/// A bad line in a raw hex stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// The line is not an even number of hex digits.
    #[error("line {line}: not hex ({reason})")]
    NotHex {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The line exceeds the longest possible telegram.
    #[error("line {line}: longer than {max} characters")]
    TooLong {
        /// 1-based line number.
        line: u64,
        /// Limit.
        max: usize,
    },
}

/// Longest accepted hex line (a 255-byte frame with format A CRCs is < 600 digits).
pub const MAX_HEX_LINE: usize = 1200;

/// Streaming decoder for receivers that print one hex telegram per line.
#[derive(Debug, Default)]
pub struct HexLineDecoder {
    partial: Vec<u8>,
    line: u64,
    overlong: bool,
}

impl HexLineDecoder {
    /// A decoder at line 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; returns each complete non-empty line as frame bytes or an error.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut out = Vec::new();
        for &c in chunk {
            if c == b'\n' {
                self.line += 1;
                if self.overlong {
                    out.push(Err(LineError::TooLong {
                        line: self.line,
                        max: MAX_HEX_LINE,
                    }));
                } else if let Some(r) = self.finish_line() {
                    out.push(r);
                }
                self.partial.clear();
                self.overlong = false;
            } else if !self.overlong {
                if self.partial.len() >= MAX_HEX_LINE {
                    self.overlong = true;
                    self.partial.clear();
                } else {
                    self.partial.push(c);
                }
            }
        }
        out
    }

    fn finish_line(&self) -> Option<Result<Vec<u8>, LineError>> {
        let text = self.partial.trim_ascii();
        if text.is_empty() {
            return None;
        }
        let line = self.line;
        let text = text.strip_prefix(b"0x").unwrap_or(text);
        if text.len() % 2 != 0 {
            return Some(Err(LineError::NotHex {
                line,
                reason: "odd number of digits",
            }));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut bytes = Vec::with_capacity(text.len() / 2);
        for pair in text.chunks_exact(2) {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => bytes.push(h << 4 | l),
                _ => {
                    return Some(Err(LineError::NotHex {
                        line,
                        reason: "non-hex character",
                    }))
                }
            }
        }
        Some(Ok(bytes))
    }
}
