//! Per-bank layouts of the MT940 `:86:` field: which subfield carries the title, the payer and
//! the credited (virtual) account. Data, not code: a new bank is a new table row.

/// Where one bank puts the details of a transfer inside `:86:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mt940Profile {
    /// Name used in configuration, e.g. "tilde".
    pub name: &'static str,
    /// Subfield separator, e.g. '~' in `~20TITLE`.
    pub separator: char,
    /// Title subfields, joined in this order.
    pub title: &'static [u8],
    /// What goes between non-empty title subfields.
    pub title_joiner: &'static str,
    /// Payer name subfields, joined with a space.
    pub payer_name: &'static [u8],
    /// Payer address subfields, joined with a space.
    pub payer_address: &'static [u8],
    /// Subfield with the payer's full account (IBAN or NRB).
    pub payer_account: Option<u8>,
    /// Fallback: subfields with the payer's bank sort code and account number, concatenated.
    pub payer_bank_and_account: Option<(u8, u8)>,
    /// Subfield with the credited (virtual) account.
    pub virtual_account: Option<u8>,
}

/// `~`-separated layout (the shared sample's bank): title ~20..~25, payer name ~32, address ~33,
/// payer IBAN ~38 (or sort code ~30 + account ~31), virtual account ~63.
pub const TILDE: Mt940Profile = Mt940Profile {
    name: "tilde",
    separator: '~',
    title: &[20, 21, 22, 23, 24, 25],
    title_joiner: " ",
    payer_name: &[32],
    payer_address: &[33],
    payer_account: Some(38),
    payer_bank_and_account: Some((30, 31)),
    virtual_account: Some(63),
};

/// `<`-separated layout (the mBank/BRE family): title <20..<25, payer name <27..<28,
/// address <29, payer account <38 (or <30 + <31), virtual account <63.
pub const ANGLE: Mt940Profile = Mt940Profile {
    name: "angle",
    separator: '<',
    title: &[20, 21, 22, 23, 24, 25],
    title_joiner: " ",
    payer_name: &[27, 28],
    payer_address: &[29],
    payer_account: Some(38),
    payer_bank_and_account: Some((30, 31)),
    virtual_account: Some(63),
};

/// `^`-separated layout with the same subfield numbering as [`TILDE`].
pub const CARET: Mt940Profile = Mt940Profile {
    name: "caret",
    separator: '^',
    title: &[20, 21, 22, 23, 24, 25],
    title_joiner: " ",
    payer_name: &[32],
    payer_address: &[33],
    payer_account: Some(38),
    payer_bank_and_account: Some((30, 31)),
    virtual_account: Some(63),
};

/// PKO BP (iPKO biznes): `~` subfields as [`TILDE`] — title ~20..~25, payer name ~32,
/// address ~33, payer IBAN ~38 or ~30 + ~31, virtual account ~63 — in Windows-1250, with empty
/// subfields filled by 0xFF bytes (removed when read).
pub const PKO_BP: Mt940Profile = Mt940Profile {
    name: "pko",
    ..TILDE
};

/// Bank Pekao (PekaoBIZNES 24): `^` subfields, title ^20..^25, payer name ^32 ^33, payer
/// account ^38 (or ^30 + ^31); ^62 and ^63 are the payer's address lines, not accounts, so
/// there is no virtual account in `:86:` (matching falls back to the invoice number).
pub const PEKAO: Mt940Profile = Mt940Profile {
    name: "pekao",
    separator: '^',
    payer_name: &[32, 33],
    payer_address: &[62, 63],
    virtual_account: None,
    ..TILDE
};

/// ING Bank Śląski: the transaction code alone in a first `:86:`, then `~` subfields in a
/// second one — title ~20..~25 cut at a fixed width (joined without spaces), payer name and
/// address together in ~32 ~33, payer account ~29 (or ~30 + ~31), virtual account ~63.
pub const ING: Mt940Profile = Mt940Profile {
    name: "ing",
    title_joiner: "",
    payer_name: &[32, 33],
    payer_address: &[],
    payer_account: Some(29),
    ..TILDE
};

/// mBank CompanyNet: SOH/ETX-framed messages per account in ISO-8859-2, `<` subfields as
/// [`ANGLE`].
pub const MBANK: Mt940Profile = Mt940Profile {
    name: "mbank",
    ..ANGLE
};

/// Santander Bank Polska (formerly BZ WBK): MultiCash numbering — title 20..25, payer name 27
/// 28 (files in use also carry it in 32), address 29, payer account 38 (or 30 + 31), virtual
/// account 63. Files as they are in use (an open-source importer of BZ WBK statements, 2024)
/// open `:86:` straight with `>20`: the separator is read from the text (`>` or `<`, see
/// `mt940::subfield_separator`), and an account of the utility's found in the payer's subfield
/// is taken as the account credited (`payments::import`). No format description of the bank's
/// own was found in the public material searched (December 2026).
pub const SANTANDER: Mt940Profile = Mt940Profile {
    name: "santander",
    payer_name: &[27, 28, 32, 33],
    ..ANGLE
};

/// Bank Millennium (Millenet): `<` subfields, title <20..<26, payer name <27 <28, address
/// <29, payer account <38 (or <30 + <31), virtual account <63.
pub const MILLENNIUM: Mt940Profile = Mt940Profile {
    name: "millennium",
    title: &[20, 21, 22, 23, 24, 25, 26],
    ..ANGLE
};

/// BNP Paribas Bank Polska (BiznesPl@net): `^` subfields after the 3-digit operation code.
///
/// Verified against the bank's "MT940 statement file" description for BiznesPl@net (BNP
/// Paribas Bank Polska SA; public copies at pdfcoffee.com/description-of-mt940-statement-file-
/// pdf-free.html and scribd.com/document/424580801): no header or footer, `:20:` always `1`,
/// `:25:/PL…` IBAN, `:28C:` `number/year/BPL`, `:61:` with a 3-character booking code after
/// `N` and the customer reference (`NONREF` when none) with no `//` part, `:86:` opening with
/// the operation code and `^` (e.g. `225^`), `^10` the operation's sequence number, `^20` the
/// first payment-details line. The copies end there: the numbering of the payer's name
/// (^27 ^28), address (^29), account (^38 or ^30 + ^31) and virtual account (^63) follows the
/// MultiCash numbering of [`ANGLE`] and is not verified against the document.
pub const BNP_PARIBAS: Mt940Profile = Mt940Profile {
    name: "bnp",
    separator: '^',
    ..ANGLE
};

/// Alior Bank: `<` subfields in the MultiCash numbering of [`ANGLE`] — payer name <27 <28,
/// address <29, payer account <38.
pub const ALIOR: Mt940Profile = Mt940Profile {
    name: "alior",
    ..ANGLE
};

/// Credit Agricole Bank Polska: `~` subfields, title ~20..~25, payer name ~32 ~33, address
/// ~62, payer account ~38 (or ~30 + ~31), virtual account ~63. Not verified: no format
/// description or sample file of Credit Agricole Bank Polska (CA24 Biznes) could be found in
/// the public material searched (December 2026). What a different layout would break is
/// guarded for every profile: the separator is read from the text, and an account of the
/// utility's in the payer's subfield is taken as the account credited.
pub const CREDIT_AGRICOLE: Mt940Profile = Mt940Profile {
    name: "credit_agricole",
    payer_name: &[32, 33],
    payer_address: &[62],
    ..TILDE
};

/// Every built-in profile, looked up by name in configuration.
pub const MT940_PROFILES: &[Mt940Profile] = &[
    TILDE,
    ANGLE,
    CARET,
    PKO_BP,
    PEKAO,
    ING,
    MBANK,
    SANTANDER,
    MILLENNIUM,
    BNP_PARIBAS,
    ALIOR,
    CREDIT_AGRICOLE,
];

impl Mt940Profile {
    /// The built-in profile with this name.
    pub fn by_name(name: &str) -> Option<&'static Mt940Profile> {
        MT940_PROFILES.iter().find(|p| p.name == name)
    }
}
