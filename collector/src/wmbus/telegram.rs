//! The decoded telegram: identity, status, data records and alarms (what `decode` returns).

use rust_decimal::Decimal;

/// One decoded telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telegram {
    /// Three-letter manufacturer code (FLAG association), e.g. "APA".
    pub manufacturer: String,
    /// Meter id as printed on the meter (8 characters).
    pub id: String,
    /// Version (generation) byte.
    pub version: u8,
    /// Device type (medium) byte, EN 13757-3 table.
    pub device_type: u8,
    /// Access number of the transport layer (or ELL / link layer when there is none).
    pub access_number: u8,
    /// Transport-layer status byte (0 when the frame has no TPL header).
    pub status: u8,
    /// OMS security mode of the payload (0 = none).
    pub security_mode: u8,
    /// Id of the radio module when it differs from the meter's (long TPL header).
    pub radio_id: Option<String>,
    /// Link layer the frame came in.
    pub link: super::LinkFormat,
    /// CI field of the application payload.
    pub ci: u8,
    /// Data records (standard DIF/VIF, and driver-decoded proprietary values).
    pub records: Vec<Record>,
    /// The meter's current volume register in m³.
    pub total_m3: Option<Decimal>,
    /// Alarms from the status byte and manufacturer bits.
    pub alarms: Vec<Alarm>,
    /// Checks that disagreed although the telegram still decoded (see [`Warning`]).
    pub warnings: Vec<Warning>,
}

/// A check that did not agree in a telegram that still decoded. The values are what the meter
/// sent, but a reading taken from such a telegram should be flagged, not trusted blindly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// More bytes arrived than the L-field announces; `decoded` of them were used (the
    /// L-field's frame when it decodes on its own, else everything received).
    LengthField {
        declared: usize,
        received: usize,
        decoded: usize,
    },
    /// A compact frame's CRC of the full records disagrees with the records rebuilt from its
    /// format and data (the format signature matched).
    CompactDataCrc { expected: u16, computed: u16 },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::LengthField {
                declared,
                received,
                decoded,
            } => write!(
                f,
                "length field says {declared} bytes but {received} were received; decoded {decoded}"
            ),
            Warning::CompactDataCrc { expected, computed } => write!(
                f,
                "compact frame data CRC {expected:#06x} does not match its data ({computed:#06x})"
            ),
        }
    }
}

impl Telegram {
    /// Human name of the device type ("water", "gas", …).
    pub fn device_type_name(&self) -> &'static str {
        device_type_name(self.device_type)
    }
}

/// Whether the device type is a water meter (water, warm, hot, cold, dual or waste water):
/// the devices water-meter alarms (leak, burst, dry, reverse flow) belong to.
pub fn is_water_meter(device_type: u8) -> bool {
    matches!(device_type, 0x06 | 0x07 | 0x15 | 0x16 | 0x17 | 0x28)
}

/// Whether a manufacturer's volume field can be the device's register: a water meter, or a
/// radio converter (0x36/0x37) that relays a meter it does not name. Heat cost allocators,
/// heat and cooling meters, sensors … have no such field.
pub fn may_carry_water_volume(device_type: u8) -> bool {
    is_water_meter(device_type) || matches!(device_type, 0x36 | 0x37)
}

/// EN 13757-3 device type names.
pub fn device_type_name(t: u8) -> &'static str {
    match t {
        0x00 => "other",
        0x01 => "oil",
        0x02 => "electricity",
        0x03 => "gas",
        0x04 => "heat",
        0x05 => "steam",
        0x06 => "warm_water",
        0x07 => "water",
        0x08 => "heat_cost_allocator",
        0x09 => "compressed_air",
        0x0A | 0x0B => "cooling",
        0x0C => "heat",
        0x0D => "heat_cooling",
        0x0E => "bus_system",
        0x0F => "unknown",
        0x15 => "hot_water",
        0x16 => "cold_water",
        0x17 => "dual_water",
        0x18 => "pressure",
        0x19 => "ad_converter",
        0x1A => "smoke_detector",
        0x1B => "room_sensor",
        0x1C => "gas_detector",
        0x20 => "breaker",
        0x21 => "valve",
        0x25 => "customer_unit",
        0x28 => "waste_water",
        0x29 => "garbage",
        0x31 => "communication_controller",
        0x32 => "unidirectional_repeater",
        0x33 => "bidirectional_repeater",
        0x36 | 0x37 => "radio_converter",
        _ => "reserved",
    }
}

/// Record function field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Instantaneous value.
    Instantaneous,
    /// Maximum value.
    Maximum,
    /// Minimum value.
    Minimum,
    /// Value during error state.
    Error,
}

impl Function {
    /// JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Instantaneous => "instantaneous",
            Function::Maximum => "maximum",
            Function::Minimum => "minimum",
            Function::Error => "error",
        }
    }
}

/// What a record measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Energy.
    Energy,
    /// Volume (the register a water meter bills on).
    Volume,
    /// Volume counted only for forward flow.
    VolumeForward,
    /// Volume counted only for backward (reverse) flow.
    VolumeBackward,
    /// Mass.
    Mass,
    /// On time.
    OnTime,
    /// Operating time.
    OperatingTime,
    /// Power.
    Power,
    /// Volume flow.
    VolumeFlow,
    /// Mass flow.
    MassFlow,
    /// Flow temperature.
    FlowTemperature,
    /// Return temperature.
    ReturnTemperature,
    /// Temperature difference.
    TemperatureDifference,
    /// External temperature.
    ExternalTemperature,
    /// Pressure.
    Pressure,
    /// Date (type G).
    Date,
    /// Date and time (type F / I).
    DateTime,
    /// Heat cost allocator units.
    HcaUnits,
    /// Averaging or actuality duration.
    Duration,
    /// Fabrication number.
    FabricationNumber,
    /// Enhanced identification.
    EnhancedId,
    /// Bus address.
    BusAddress,
    /// Access number (VIF FD 08).
    AccessNumber,
    /// Error flags (VIF FD 17).
    ErrorFlags,
    /// Model/version, firmware, software or hardware version.
    Version,
    /// Customer location / customer / parameter set identifiers.
    Identifier,
    /// Digital input / output state.
    Digital,
    /// Remaining battery lifetime.
    BatteryLifetime,
    /// Voltage.
    Voltage,
    /// Current.
    Current,
    /// Dimensionless counter (reset, cumulation, …).
    Counter,
    /// Manufacturer-specific value.
    ManufacturerSpecific,
    /// A VIF we know the shape of but do not name.
    Other,
}

impl Quantity {
    /// JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Quantity::Energy => "energy",
            Quantity::Volume => "volume",
            Quantity::VolumeForward => "volume_forward",
            Quantity::VolumeBackward => "volume_backward",
            Quantity::Mass => "mass",
            Quantity::OnTime => "on_time",
            Quantity::OperatingTime => "operating_time",
            Quantity::Power => "power",
            Quantity::VolumeFlow => "volume_flow",
            Quantity::MassFlow => "mass_flow",
            Quantity::FlowTemperature => "flow_temperature",
            Quantity::ReturnTemperature => "return_temperature",
            Quantity::TemperatureDifference => "temperature_difference",
            Quantity::ExternalTemperature => "external_temperature",
            Quantity::Pressure => "pressure",
            Quantity::Date => "date",
            Quantity::DateTime => "datetime",
            Quantity::HcaUnits => "hca_units",
            Quantity::Duration => "duration",
            Quantity::FabricationNumber => "fabrication_number",
            Quantity::EnhancedId => "enhanced_id",
            Quantity::BusAddress => "bus_address",
            Quantity::AccessNumber => "access_number",
            Quantity::ErrorFlags => "error_flags",
            Quantity::Version => "version",
            Quantity::Identifier => "identifier",
            Quantity::Digital => "digital",
            Quantity::BatteryLifetime => "battery_lifetime",
            Quantity::Voltage => "voltage",
            Quantity::Current => "current",
            Quantity::Counter => "counter",
            Quantity::ManufacturerSpecific => "manufacturer_specific",
            Quantity::Other => "other",
        }
    }
}

/// A record's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A number already scaled to `unit`.
    Number(Decimal),
    /// A calendar date.
    Date {
        /// Year.
        year: u16,
        /// Month 1–12.
        month: u8,
        /// Day 1–31.
        day: u8,
    },
    /// Date and time (minute resolution; seconds when the meter sends them).
    DateTime {
        /// Year.
        year: u16,
        /// Month.
        month: u8,
        /// Day.
        day: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Second, when the meter sends it (type I); type F has minutes only.
        second: Option<u8>,
    },
    /// Raw bytes up to 16 (identifiers, variable-length data), stored inline.
    Bytes {
        /// Storage.
        data: [u8; 16],
        /// Number of valid bytes.
        len: u8,
    },
    /// The meter marked the value invalid (bad BCD digits, invalid date flag).
    Invalid,
}

/// One data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Function field.
    pub function: Function,
    /// Storage number (0 = current).
    pub storage: u64,
    /// Tariff.
    pub tariff: u32,
    /// Subunit.
    pub subunit: u16,
    /// What it measures.
    pub quantity: Quantity,
    /// The value.
    pub value: Value,
    /// Unit of `value` ("m3", "m3/h", "C", "" …).
    pub unit: &'static str,
    /// First VIFE that modifies the meaning (not a scale factor), if any.
    pub modifier: Option<u8>,
}

impl Record {
    /// The numeric value, when the record has one.
    pub fn number(&self) -> Option<Decimal> {
        match self.value {
            Value::Number(d) => Some(d),
            _ => None,
        }
    }
}

/// An alarm raised from status bytes or manufacturer bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alarm {
    /// Leak (continuous flow).
    Leak,
    /// A leak happened earlier and is no longer active.
    LeakPrevious,
    /// Burst (very high flow).
    Burst,
    /// Reverse flow.
    Backflow,
    /// Tamper (magnet, opened, removed).
    Tamper,
    /// Pipe dry / no water / air in pipe.
    Dry,
    /// Battery low.
    BatteryLow,
    /// Permanent error reported by the meter.
    PermanentError,
    /// Temporary error reported by the meter.
    TemporaryError,
    /// Application error (TPL status bits 0–1 = 10).
    ApplicationError,
    /// Application busy (TPL status bits 0–1 = 01).
    ApplicationBusy,
    /// Abnormal condition (TPL status bits 0–1 = 11).
    Abnormal,
    /// The meter blocked itself (e.g. measurement stopped).
    MeterBlocked,
    /// Flow below the meter's minimum (underflow).
    Underflow,
    /// Flow above the meter's maximum (overflow).
    Overflow,
    /// Error flags (VIF FD 17) with bits set that have no specific meaning here.
    ErrorFlags(u32),
    /// Manufacturer status bits that have no specific meaning here.
    ManufacturerStatus(u32),
}

impl Alarm {
    /// JSON name.
    pub fn name(&self) -> String {
        match self {
            Alarm::ErrorFlags(v) => format!("error_flags_{v:x}"),
            Alarm::ManufacturerStatus(v) => format!("manufacturer_status_{v:x}"),
            other => other.static_name().to_string(),
        }
    }

    fn static_name(&self) -> &'static str {
        match self {
            Alarm::Leak => "leak",
            Alarm::LeakPrevious => "leak_previous",
            Alarm::Burst => "burst",
            Alarm::Backflow => "backflow",
            Alarm::Tamper => "tamper",
            Alarm::Dry => "dry",
            Alarm::BatteryLow => "battery_low",
            Alarm::PermanentError => "permanent_error",
            Alarm::TemporaryError => "temporary_error",
            Alarm::ApplicationError => "application_error",
            Alarm::ApplicationBusy => "application_busy",
            Alarm::Abnormal => "abnormal",
            Alarm::MeterBlocked => "meter_blocked",
            Alarm::Underflow => "underflow",
            Alarm::Overflow => "overflow",
            Alarm::ErrorFlags(_) => "error_flags",
            Alarm::ManufacturerStatus(_) => "manufacturer_status",
        }
    }
}

/// Alarms from the generic TPL status bits 0–4 (EN 13757-3 / OMS); bits 5–7 belong to drivers.
pub fn status_alarms(status: u8, out: &mut Vec<Alarm>) {
    match status & 0x03 {
        0x01 => out.push(Alarm::ApplicationBusy),
        0x02 => out.push(Alarm::ApplicationError),
        0x03 => out.push(Alarm::Abnormal),
        _ => {}
    }
    if status & 0x04 != 0 {
        out.push(Alarm::BatteryLow);
    }
    if status & 0x08 != 0 {
        out.push(Alarm::PermanentError);
    }
    if status & 0x10 != 0 {
        out.push(Alarm::TemporaryError);
    }
}
