//! Statement text encodings as Polish banks deliver them: UTF-8, Windows-1250 (PKO BP, most
//! exports) or ISO-8859-2 (mBank CompanyNet), detected from the bytes and reported.

/// The encoding a statement file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (a leading BOM is dropped).
    Utf8,
    /// Windows-1250 (CP1250).
    Windows1250,
    /// ISO-8859-2 (Latin-2).
    Iso8859_2,
}

impl TextEncoding {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Windows1250 => "windows-1250",
            TextEncoding::Iso8859_2 => "ISO-8859-2",
        }
    }
}

/// Bytes of Polish letters that only Windows-1250 uses (Ą Ś Ź ą ś ź) and their ISO-8859-2
/// counterparts; the other Polish letters share their bytes in both.
const CP1250_ONLY: [u8; 6] = [0xA5, 0x8C, 0x8F, 0xB9, 0x9C, 0x9F];
const ISO_ONLY: [u8; 6] = [0xA1, 0xA6, 0xAC, 0xB1, 0xB6, 0xBC];

/// Decodes a statement file: UTF-8 when it is valid UTF-8, otherwise whichever of the two
/// Polish 8-bit code pages its letters point to. Bytes 0x80–0x9F are control characters in
/// ISO-8859-2, so any of them (outside the PKO 0xFF filler) also means Windows-1250.
pub fn decode(bytes: &[u8]) -> (String, TextEncoding) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        return (text.to_string(), TextEncoding::Utf8);
    }
    let count = |set: &[u8]| bytes.iter().filter(|b| set.contains(b)).count();
    let c1_controls = bytes.iter().any(|b| (0x80..0xA0).contains(b));
    let (encoding, name) = if !c1_controls && count(&ISO_ONLY) > count(&CP1250_ONLY) {
        (encoding_rs::ISO_8859_2, TextEncoding::Iso8859_2)
    } else {
        (encoding_rs::WINDOWS_1250, TextEncoding::Windows1250)
    };
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (text.into_owned(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_encodings() {
        let word = "Źródło wód, ąś";
        assert_eq!(
            decode(word.as_bytes()),
            (word.to_string(), TextEncoding::Utf8)
        );
        let (cp, _, _) = encoding_rs::WINDOWS_1250.encode(word);
        assert_eq!(decode(&cp), (word.to_string(), TextEncoding::Windows1250));
        let (iso, _, _) = encoding_rs::ISO_8859_2.encode(word);
        assert_eq!(decode(&iso), (word.to_string(), TextEncoding::Iso8859_2));
    }
}
