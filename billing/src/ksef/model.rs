//! The invoice as the FA(3) structure sees it: parties, dates, lines, VAT summary per rate,
//! payment terms and, for a correction, what it corrects.

use chrono::{DateTime, NaiveDate, Utc};
use ewoda_common::Money;
use rust_decimal::Decimal;

/// A VAT invoice or a correction ready for KSeF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsefInvoice {
    /// When the XML was produced (DataWytworzeniaFa).
    pub created_at: DateTime<Utc>,
    /// Name of the producing system (SystemInfo).
    pub system_info: Option<String>,
    /// The seller (Podmiot1).
    pub seller: Seller,
    /// The buyer (Podmiot2).
    pub buyer: Buyer,
    /// Further parties, e.g. the municipal unit that issues for the municipality (Podmiot3).
    pub third_parties: Vec<ThirdParty>,
    /// Currency code (KodWaluty), e.g. "PLN".
    pub currency: String,
    /// Issue date (P_1).
    pub issue_date: NaiveDate,
    /// Invoice number (P_2).
    pub number: String,
    /// Date or period of supply (P_6 or OkresFa).
    pub sale: SaleDate,
    /// Net and VAT per rate (P_13_x, P_14_x); for a correction, the differences.
    pub vat_summary: Vec<VatSummary>,
    /// Gross total (P_15); for a correction, the difference.
    pub total: Decimal,
    /// Split payment mechanism applies (P_18A).
    pub split_payment: bool,
    /// Legal basis of a VAT exemption; required when any line is exempt (P_19).
    pub exemption: Option<Exemption>,
    /// Plain invoice or correction (RodzajFaktury).
    pub kind: InvoiceKind,
    /// Extra key/value notes (DodatkowyOpis), e.g. meter number and readings.
    pub notes: Vec<Note>,
    /// Invoice lines (FaWiersz); numbered 1.. in order.
    pub lines: Vec<InvoiceLine>,
    /// Payment terms (Platnosc).
    pub payment: Option<Payment>,
}

/// The seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    /// Tax id, 10 digits.
    pub nip: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
}

/// A postal address in FA(3)'s two-line form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// ISO country code, e.g. "PL".
    pub country: String,
    /// First line (street and number).
    pub line1: String,
    /// Second line (postcode and town).
    pub line2: Option<String>,
}

/// How the buyer is identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyerId {
    /// A company or sole trader with a Polish NIP.
    Nip(String),
    /// A consumer without a tax id (FA(3) `BrakID`).
    None,
}

/// The buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    /// NIP or none.
    pub id: BuyerId,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Option<Address>,
    /// Our customer number (NrKlienta).
    pub customer_number: Option<String>,
    /// The invoice concerns a subordinate unit of a local government (JST = 1).
    pub jst_subunit: bool,
    /// The buyer is a member of a VAT group (GV = 1).
    pub vat_group_member: bool,
}

/// A further party (Podmiot3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThirdParty {
    /// Tax id, 10 digits.
    pub nip: String,
    /// Name.
    pub name: String,
    /// Role on the invoice.
    pub role: ThirdPartyRole,
}

/// Role of a further party (FA(3) `Rola`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThirdPartyRole {
    /// 1: factor.
    Factor,
    /// 2: recipient (internal unit of the buyer).
    Recipient,
    /// 3: original entity.
    OriginalEntity,
    /// 4: additional buyer.
    AdditionalBuyer,
    /// 5: issuer of the invoice.
    Issuer,
    /// 6: payer.
    Payer,
    /// 7: local-government unit that issues the invoice.
    LocalGovernmentIssuer,
    /// 8: local-government unit that receives the invoice.
    LocalGovernmentRecipient,
    /// 9: VAT group member, issuer.
    VatGroupIssuer,
    /// 10: VAT group member, recipient.
    VatGroupRecipient,
    /// 11: employee.
    Employee,
}

impl ThirdPartyRole {
    /// FA(3) code.
    pub fn code(self) -> u8 {
        match self {
            ThirdPartyRole::Factor => 1,
            ThirdPartyRole::Recipient => 2,
            ThirdPartyRole::OriginalEntity => 3,
            ThirdPartyRole::AdditionalBuyer => 4,
            ThirdPartyRole::Issuer => 5,
            ThirdPartyRole::Payer => 6,
            ThirdPartyRole::LocalGovernmentIssuer => 7,
            ThirdPartyRole::LocalGovernmentRecipient => 8,
            ThirdPartyRole::VatGroupIssuer => 9,
            ThirdPartyRole::VatGroupRecipient => 10,
            ThirdPartyRole::Employee => 11,
        }
    }
}

/// When the supply happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleDate {
    /// Not stated (same as the issue date).
    NotStated,
    /// One date (P_6).
    Date(NaiveDate),
    /// A billing period (OkresFa: P_6_Od, P_6_Do).
    Period {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
}

/// A VAT rate as FA(3) names it (P_12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VatRate {
    /// 23 %.
    R23,
    /// 22 %.
    R22,
    /// 8 % (water and sewage).
    R8,
    /// 7 %.
    R7,
    /// 5 %.
    R5,
    /// 4 % (flat-rate taxi).
    R4,
    /// 3 % (flat-rate taxi).
    R3,
    /// 0 % domestic ("0 KR").
    ZeroDomestic,
    /// 0 % intra-EU supply ("0 WDT").
    ZeroIntraEu,
    /// 0 % export ("0 EX").
    ZeroExport,
    /// Exempt ("zw").
    Exempt,
    /// Reverse charge ("oo").
    ReverseCharge,
    /// Outside the scope of VAT in Poland ("np I").
    NotTaxable,
    /// Services under art. 100 sec. 1 item 4 ("np II").
    NotTaxableArt100,
}

impl VatRate {
    /// The P_12 code.
    pub fn code(self) -> &'static str {
        match self {
            VatRate::R23 => "23",
            VatRate::R22 => "22",
            VatRate::R8 => "8",
            VatRate::R7 => "7",
            VatRate::R5 => "5",
            VatRate::R4 => "4",
            VatRate::R3 => "3",
            VatRate::ZeroDomestic => "0 KR",
            VatRate::ZeroIntraEu => "0 WDT",
            VatRate::ZeroExport => "0 EX",
            VatRate::Exempt => "zw",
            VatRate::ReverseCharge => "oo",
            VatRate::NotTaxable => "np I",
            VatRate::NotTaxableArt100 => "np II",
        }
    }

    /// The rate as a fraction, for rates that carry tax.
    pub fn fraction(self) -> Option<Decimal> {
        let percent = match self {
            VatRate::R23 => 23,
            VatRate::R22 => 22,
            VatRate::R8 => 8,
            VatRate::R7 => 7,
            VatRate::R5 => 5,
            VatRate::R4 => 4,
            VatRate::R3 => 3,
            _ => return None,
        };
        Some(Decimal::new(percent, 2))
    }

    /// The suffix of the summary fields: P_13_{suffix} (and P_14_{suffix} when taxed).
    pub fn summary_suffix(self) -> &'static str {
        match self {
            VatRate::R23 | VatRate::R22 => "1",
            VatRate::R8 | VatRate::R7 => "2",
            VatRate::R5 => "3",
            VatRate::R4 | VatRate::R3 => "4",
            VatRate::ZeroDomestic => "6_1",
            VatRate::ZeroIntraEu => "6_2",
            VatRate::ZeroExport => "6_3",
            VatRate::Exempt => "7",
            VatRate::NotTaxable => "8",
            VatRate::NotTaxableArt100 => "9",
            VatRate::ReverseCharge => "10",
        }
    }
}

/// Net and VAT for one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatSummary {
    /// The rate.
    pub rate: VatRate,
    /// Net sum of the lines at this rate (P_13_x).
    pub net: Decimal,
    /// VAT on that net sum (P_14_x); zero for untaxed rates.
    pub vat: Decimal,
}

impl VatSummary {
    /// Net per rate from the lines and VAT on each net sum rounded half-up to the grosz; for a
    /// correction the "before" lines count negatively, so the result is the difference.
    pub fn from_lines(lines: &[InvoiceLine]) -> Vec<VatSummary> {
        let mut by_rate: std::collections::BTreeMap<VatRate, (Decimal, Decimal)> =
            Default::default();
        for line in lines {
            let entry = by_rate.entry(line.rate).or_default();
            if line.before_correction {
                entry.0 += line.net;
            } else {
                entry.1 += line.net;
            }
        }
        let vat_on = |rate: VatRate, net: Decimal| {
            rate.fraction()
                .map_or(Decimal::ZERO, |f| Money::round(net * f).amount())
        };
        by_rate
            .into_iter()
            .map(|(rate, (before, after))| VatSummary {
                rate,
                net: after - before,
                vat: vat_on(rate, after) - vat_on(rate, before),
            })
            .collect()
    }
}

/// Legal basis of a VAT exemption (P_19A/B/C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    /// A provision of the Polish VAT act (P_19A).
    Act(String),
    /// A provision of directive 2006/112/EC (P_19B).
    Directive(String),
    /// Another legal basis (P_19C).
    Other(String),
}

/// Plain invoice or correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceKind {
    /// A basic VAT invoice.
    Vat,
    /// A corrective invoice (KOR).
    Correction(Correction),
}

/// What a corrective invoice corrects and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// Reason (PrzyczynaKorekty).
    pub reason: Option<String>,
    /// When the correction takes effect in the VAT records (TypKorekty).
    pub effect: Option<CorrectionEffect>,
    /// The corrected invoices (DaneFaKorygowanej), at least one.
    pub corrected: Vec<CorrectedInvoice>,
}

/// TypKorekty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionEffect {
    /// 1: in the period of the original invoice.
    OriginalDate,
    /// 2: in the period of the correction.
    CorrectionDate,
    /// 3: on another date.
    OtherDate,
}

impl CorrectionEffect {
    /// FA(3) code.
    pub fn code(self) -> u8 {
        match self {
            CorrectionEffect::OriginalDate => 1,
            CorrectionEffect::CorrectionDate => 2,
            CorrectionEffect::OtherDate => 3,
        }
    }
}

/// Reference to a corrected invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedInvoice {
    /// Its issue date.
    pub issue_date: NaiveDate,
    /// Its number.
    pub number: String,
    /// Its KSeF number, if it went through KSeF.
    pub ksef_number: Option<String>,
}

/// A key/value note (DodatkowyOpis), optionally about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Line number it refers to (NrWiersza).
    pub line: Option<u32>,
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One invoice line (FaWiersz).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// Name of the good or service (P_7).
    pub name: String,
    /// Unit (P_8A), e.g. "m3".
    pub unit: String,
    /// Quantity (P_8B), written with the scale it has (e.g. 12.345, 1, 10.000).
    pub quantity: Decimal,
    /// Unit net price (P_9A), written with the scale it has.
    pub unit_net_price: Decimal,
    /// Net value (P_11), 2 decimals.
    pub net: Decimal,
    /// VAT rate (P_12).
    pub rate: VatRate,
    /// In a correction: the line as it stood before (StanPrzed).
    pub before_correction: bool,
}

/// Payment terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Due date (Termin).
    pub due_date: NaiveDate,
    /// Form of payment.
    pub form: PaymentForm,
    /// Accounts to pay to (RachunekBankowy).
    pub accounts: Vec<BankAccount>,
}

/// FormaPlatnosci.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentForm {
    /// 1: cash.
    Cash,
    /// 2: card.
    Card,
    /// 3: voucher.
    Voucher,
    /// 4: cheque.
    Cheque,
    /// 5: credit.
    Credit,
    /// 6: bank transfer.
    Transfer,
    /// 7: mobile.
    Mobile,
}

impl PaymentForm {
    /// FA(3) code.
    pub fn code(self) -> u8 {
        match self {
            PaymentForm::Cash => 1,
            PaymentForm::Card => 2,
            PaymentForm::Voucher => 3,
            PaymentForm::Cheque => 4,
            PaymentForm::Credit => 5,
            PaymentForm::Transfer => 6,
            PaymentForm::Mobile => 7,
        }
    }
}

/// A bank account to pay to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// NRB or IBAN (NrRB).
    pub number: String,
    /// Bank name (NazwaBanku).
    pub bank_name: Option<String>,
    /// Description (OpisRachunku), e.g. "individual account of customer 4711".
    pub description: Option<String>,
}
