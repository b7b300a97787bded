//! Statement text encodings as Polish banks deliver them: UTF-8, Windows-1250 (PKO BP, most
//! exports), ISO-8859-2 (mBank CompanyNet) or CP852 (DOS Latin-2, older bank exports),
//! detected from the bytes and reported.

/// The encoding a statement file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (a leading BOM is dropped).
    Utf8,
    /// Windows-1250 (CP1250).
    Windows1250,
    /// ISO-8859-2 (Latin-2).
    Iso8859_2,
    /// IBM code page 852 (DOS Latin-2).
    Cp852,
}

impl TextEncoding {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Windows1250 => "windows-1250",
            TextEncoding::Iso8859_2 => "ISO-8859-2",
            TextEncoding::Cp852 => "IBM852",
        }
    }
}

/// Code page 852, bytes 0x80–0xFF (0x00–0x7F are ASCII), as published by Unicode in
/// MAPPINGS/VENDORS/MICSFT/PC/CP852.TXT (encoding_rs has no DOS code pages).
const CP852_HIGH: [char; 128] = [
    '\u{00C7}', '\u{00FC}', '\u{00E9}', '\u{00E2}', '\u{00E4}', '\u{016F}', '\u{0107}',
    '\u{00E7}', // 0x80
    '\u{0142}', '\u{00EB}', '\u{0150}', '\u{0151}', '\u{00EE}', '\u{0179}', '\u{00C4}',
    '\u{0106}', // 0x88
    '\u{00C9}', '\u{0139}', '\u{013A}', '\u{00F4}', '\u{00F6}', '\u{013D}', '\u{013E}',
    '\u{015A}', // 0x90
    '\u{015B}', '\u{00D6}', '\u{00DC}', '\u{0164}', '\u{0165}', '\u{0141}', '\u{00D7}',
    '\u{010D}', // 0x98
    '\u{00E1}', '\u{00ED}', '\u{00F3}', '\u{00FA}', '\u{0104}', '\u{0105}', '\u{017D}',
    '\u{017E}', // 0xA0
    '\u{0118}', '\u{0119}', '\u{00AC}', '\u{017A}', '\u{010C}', '\u{015F}', '\u{00AB}',
    '\u{00BB}', // 0xA8
    '\u{2591}', '\u{2592}', '\u{2593}', '\u{2502}', '\u{2524}', '\u{00C1}', '\u{00C2}',
    '\u{011A}', // 0xB0
    '\u{015E}', '\u{2563}', '\u{2551}', '\u{2557}', '\u{255D}', '\u{017B}', '\u{017C}',
    '\u{2510}', // 0xB8
    '\u{2514}', '\u{2534}', '\u{252C}', '\u{251C}', '\u{2500}', '\u{253C}', '\u{0102}',
    '\u{0103}', // 0xC0
    '\u{255A}', '\u{2554}', '\u{2569}', '\u{2566}', '\u{2560}', '\u{2550}', '\u{256C}',
    '\u{00A4}', // 0xC8
    '\u{0111}', '\u{0110}', '\u{010E}', '\u{00CB}', '\u{010F}', '\u{0147}', '\u{00CD}',
    '\u{00CE}', // 0xD0
    '\u{011B}', '\u{2518}', '\u{250C}', '\u{2588}', '\u{2584}', '\u{0162}', '\u{016E}',
    '\u{2580}', // 0xD8
    '\u{00D3}', '\u{00DF}', '\u{00D4}', '\u{0143}', '\u{0144}', '\u{0148}', '\u{0160}',
    '\u{0161}', // 0xE0
    '\u{0154}', '\u{00DA}', '\u{0155}', '\u{0170}', '\u{00FD}', '\u{00DD}', '\u{0163}',
    '\u{00B4}', // 0xE8
    '\u{00AD}', '\u{02DD}', '\u{02DB}', '\u{02C7}', '\u{02D8}', '\u{00A7}', '\u{00F7}',
    '\u{00B8}', // 0xF0
    '\u{00B0}', '\u{00A8}', '\u{02D9}', '\u{0171}', '\u{0158}', '\u{0159}', '\u{25A0}',
    '\u{00A0}', // 0xF8
];

/// The Polish letters, the only non-ASCII characters a Polish statement normally holds.
const POLISH: &str = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ";

/// Decodes a statement file: UTF-8 when it is valid UTF-8, otherwise the 8-bit Polish code
/// page (Windows-1250, ISO-8859-2, CP852) in which most of its non-ASCII bytes are Polish
/// letters; a tie goes to the earlier of them (the letters both share decode alike). Bytes
/// 0x80–0x9F are control characters in ISO-8859-2, so any of them rules it out.
pub fn decode(bytes: &[u8]) -> (String, TextEncoding) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        return (text.to_string(), TextEncoding::Utf8);
    }
    let c1_controls = bytes.iter().any(|b| (0x80..0xA0).contains(b));
    let candidates = [
        TextEncoding::Windows1250,
        TextEncoding::Iso8859_2,
        TextEncoding::Cp852,
    ];
    let mut best = (TextEncoding::Windows1250, 0usize);
    for encoding in candidates {
        if encoding == TextEncoding::Iso8859_2 && c1_controls {
            continue;
        }
        let letters = polish_letters(bytes, encoding);
        if letters > best.1 {
            best = (encoding, letters);
        }
    }
    (decode_8bit(bytes, best.0), best.0)
}

/// How many non-ASCII bytes decode to a Polish letter in `encoding`.
fn polish_letters(bytes: &[u8], encoding: TextEncoding) -> usize {
    bytes
        .iter()
        .filter(|b| **b >= 0x80)
        .filter(|b| char_8bit(**b, encoding).is_some_and(|c| POLISH.contains(c)))
        .count()
}

/// One byte ≥ 0x80 in an 8-bit encoding (None for UTF-8).
fn char_8bit(byte: u8, encoding: TextEncoding) -> Option<char> {
    let one = [byte];
    let (text, _) = match encoding {
        TextEncoding::Utf8 => return None,
        TextEncoding::Cp852 => {
            return usize::from(byte)
                .checked_sub(0x80)
                .and_then(|i| CP852_HIGH.get(i))
                .copied()
        }
        TextEncoding::Windows1250 => encoding_rs::WINDOWS_1250.decode_without_bom_handling(&one),
        TextEncoding::Iso8859_2 => encoding_rs::ISO_8859_2.decode_without_bom_handling(&one),
    };
    text.chars().next()
}

fn decode_8bit(bytes: &[u8], encoding: TextEncoding) -> String {
    match encoding {
        TextEncoding::Cp852 => bytes
            .iter()
            .map(|&b| match b {
                0..=0x7F => char::from(b),
                _ => CP852_HIGH[usize::from(b) - 0x80],
            })
            .collect(),
        TextEncoding::Iso8859_2 => {
            let (text, _) = encoding_rs::ISO_8859_2.decode_without_bom_handling(bytes);
            text.into_owned()
        }
        TextEncoding::Windows1250 | TextEncoding::Utf8 => {
            let (text, _) = encoding_rs::WINDOWS_1250.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes text into CP852 with the table, for the tests.
    fn cp852(text: &str) -> Vec<u8> {
        text.chars()
            .map(|c| match u8::try_from(u32::from(c)) {
                Ok(b) if b < 0x80 => b,
                _ => {
                    let i = CP852_HIGH.iter().position(|t| *t == c).unwrap();
                    u8::try_from(0x80 + i).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn detects_the_four_encodings() {
        let word = "Źródło wód, ąś";
        assert_eq!(
            decode(word.as_bytes()),
            (word.to_string(), TextEncoding::Utf8)
        );
        let (cp, _, _) = encoding_rs::WINDOWS_1250.encode(word);
        assert_eq!(decode(&cp), (word.to_string(), TextEncoding::Windows1250));
        let (iso, _, _) = encoding_rs::ISO_8859_2.encode(word);
        assert_eq!(decode(&iso), (word.to_string(), TextEncoding::Iso8859_2));
        let dos = cp852(word);
        assert_eq!(decode(&dos), (word.to_string(), TextEncoding::Cp852));
    }

    #[test]
    fn cp852_polish_letters_sit_where_the_code_page_puts_them() {
        // CP852.TXT: 0xA5 ą, 0x86 ć, 0xA9 ę, 0x88 ł, 0xE4 ń, 0xA2 ó, 0x98 ś, 0xAB ź, 0xBE ż.
        let bytes = [0xA5, 0x86, 0xA9, 0x88, 0xE4, 0xA2, 0x98, 0xAB, 0xBE];
        assert_eq!(decode(&bytes), ("ąćęłńóśźż".into(), TextEncoding::Cp852));
        let upper = [0xA4, 0x8F, 0xA8, 0x9D, 0xE3, 0xE0, 0x97, 0x8D, 0xBD];
        assert_eq!(decode(&upper), ("ĄĆĘŁŃÓŚŹŻ".into(), TextEncoding::Cp852));
    }

    #[test]
    fn shared_letters_alone_stay_windows_1250() {
        // ó ł ę ż have the same bytes in CP1250 and ISO-8859-2: the tie keeps CP1250.
        let (cp, _, _) = encoding_rs::WINDOWS_1250.encode("żółw ęł");
        assert_eq!(decode(&cp).1, TextEncoding::Windows1250);
    }
}
