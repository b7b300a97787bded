//! The simulated meter fleet: who the meters are, what they register and what they report.
//!
//! Public API:
//! - [`Fleet::generate`]`(seed, size)` (default size [`DEFAULT_FLEET_SIZE`], simulation starting
//!   at [`default_epoch`]) and [`Fleet::generate_at`] with another start; deterministic by seed.
//! - [`Fleet::inject`] a [`Fault`] into a meter.
//! - [`Fleet::register_at`] (the register as the meter shows it, wrapped at 10^digits m³),
//!   [`Fleet::status_at`], [`Fleet::true_use`] and [`Fleet::registered_use`] over `[from, to)`.
//! - [`Fleet::readout`]: everything a telegram or a reading file needs at an instant, and
//!   [`Fleet::telegram`] the encrypted wM-Bus frame.
//!
//! Model: time is cut into hours from the epoch. Each hour a meter's true flow is its profile's
//! litres (plus its garden sub-meters' flow for a main meter; the sum of its customers' flow plus
//! network leakage for a district bulk meter), changed by hydraulic faults (dry pipe: nothing;
//! leak/burst: extra; backflow: reverse). What the register counts is the true flow changed by
//! device faults (stuck: nothing; magnetic tamper: a quarter). Within an hour the flow is
//! uniform, so the register at `t` = initial + Σ whole hours + the elapsed fraction of the
//! current hour (millilitres, truncated toward zero). Before the epoch nothing flows.

use crate::fault::{Fault, FaultKind, MeterStatus};
use crate::profile::{HourInfo, MeterKind, Profile};
use crate::wmbus::{
    Address, ConfigFlags, FrameFormat, Manufacturer, MeterNumber, Security, Telegram, Transport,
    WaterRecords, C_SND_NR, DEVICE_WATER,
};
use crate::SimError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{Europe::Warsaw, OffsetComponents};
use ewoda_common::{rng::Rng, Volume};
use std::collections::HashSet;
use std::sync::RwLock;

/// The size of the demo utility's fleet.
pub const DEFAULT_FLEET_SIZE: usize = 3_832;

/// Share of a tampered meter's flow that it still registers, per mille.
const TAMPER_REGISTERS_PER_MILLE: i64 = 250;

/// Seconds between a meter's transmissions (keys the access number).
pub const TX_INTERVAL_S: i64 = 30;

/// The default start of simulated time: 2026-01-01 00:00 Europe/Warsaw.
pub fn default_epoch() -> DateTime<Utc> {
    ewoda_common::time::day_start(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default())
}

const DISTRICTS: [(&str, [&str; 4]); 6] = [
    (
        "Centrum",
        ["Rynek", "Kościuszki", "Mickiewicza", "Słowackiego"],
    ),
    ("Zalesie", ["Leśna", "Brzozowa", "Sosnowa", "Dębowa"]),
    (
        "Osiedle Słoneczne",
        ["Słoneczna", "Różana", "Tulipanowa", "Lipowa"],
    ),
    ("Stare Miasto", ["Zamkowa", "Kościelna", "Młyńska", "Wodna"]),
    (
        "Przemysłowa",
        ["Fabryczna", "Kolejowa", "Składowa", "Polna"],
    ),
    ("Podgórze", ["Górska", "Widokowa", "Jasna", "Kwiatowa"]),
];

/// Manufacturers with their weight (of 100) and the version bytes they use.
const MAKERS: [(&[u8; 3], u64, [u8; 2]); 6] = [
    (b"APA", 70, [0x14, 0x15]),
    (b"DME", 8, [0x50, 0x51]),
    (b"HYD", 5, [0x8B, 0x8C]),
    (b"SEN", 7, [0x68, 0x68]),
    (b"KAM", 5, [0x1B, 0x1C]),
    (b"ZRI", 5, [0x01, 0x02]),
];

/// One physical meter in a meter position: the original or a replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The serial number as printed (used in reading-set files): 2-digit year + 8-digit id.
    pub serial: String,
    /// wM-Bus identity.
    pub address: Address,
    /// AES-128 key (OMS mode 5).
    pub key: [u8; 16],
    /// Hour (from the epoch) from which this meter is installed.
    pub from_hour: i64,
}

/// A simulated meter position (a customer's connection or a district inlet).
#[derive(Debug, Clone)]
pub struct SimMeter {
    index: usize,
    kind: MeterKind,
    district: usize,
    main_meter: Option<usize>,
    sub_meters: Vec<usize>,
    street: String,
    house_number: u32,
    flat: Option<u32>,
    register_digits: u8,
    initial: Volume,
    profile: Profile,
    generations: Vec<Generation>,
    faults: Vec<Fault>,
}

impl SimMeter {
    /// Position in the fleet.
    pub fn index(&self) -> usize {
        self.index
    }
    /// Kind of customer.
    pub fn kind(&self) -> MeterKind {
        self.kind
    }
    /// District index.
    pub fn district(&self) -> usize {
        self.district
    }
    /// For a garden sub-meter: the index of its main meter.
    pub fn main_meter(&self) -> Option<usize> {
        self.main_meter
    }
    /// For a main meter: its sub-meters.
    pub fn sub_meters(&self) -> &[usize] {
        &self.sub_meters
    }
    /// Street name.
    pub fn street(&self) -> &str {
        &self.street
    }
    /// House (building) number.
    pub fn house_number(&self) -> u32 {
        self.house_number
    }
    /// Flat number in a block of flats.
    pub fn flat(&self) -> Option<u32> {
        self.flat
    }
    /// Register digits before the decimal point (wraps at 10^digits m³).
    pub fn register_digits(&self) -> u8 {
        self.register_digits
    }
    /// Register of the original meter at the epoch.
    pub fn initial_register(&self) -> Volume {
        self.initial
    }
    /// Consumption profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }
    /// The original meter and its replacements, oldest first.
    pub fn generations(&self) -> &[Generation] {
        &self.generations
    }
    /// The original meter's serial.
    pub fn serial(&self) -> &str {
        &self.generations[0].serial
    }
    /// The original meter's wM-Bus identity.
    pub fn address(&self) -> &Address {
        &self.generations[0].address
    }
    /// The original meter's AES key.
    pub fn key(&self) -> [u8; 16] {
        self.generations[0].key
    }
    /// Injected faults.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
    /// Register capacity in millilitres (10^digits m³).
    pub fn capacity_ml(&self) -> i64 {
        10i64.pow(u32::from(self.register_digits)) * 1_000_000
    }
}

/// A district: its inlet (bulk) meter and the customers it feeds.
#[derive(Debug, Clone)]
pub struct District {
    /// Index.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Index of the bulk meter.
    pub bulk_meter: usize,
    /// Main meters fed (sub-meters are behind their main meter, so not listed).
    pub customers: Vec<usize>,
    /// Mean network leakage, litres per hour.
    pub leakage_lph: i64,
}

/// Everything a meter reports at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readout {
    /// Meter index.
    pub meter: usize,
    /// True instant.
    pub at: DateTime<Utc>,
    /// The meter installed at `at`.
    pub generation: Generation,
    /// Register as displayed (millilitres).
    pub register: Volume,
    /// Status flags.
    pub status: MeterStatus,
    /// The meter's own clock, local time.
    pub meter_time: NaiveDateTime,
    /// Whether the meter's clock is in summer time.
    pub summer_time: bool,
    /// The last due date (last day of the previous month).
    pub due_date: NaiveDate,
    /// Register at the end of the due date.
    pub due_register: Volume,
}

impl Readout {
    /// The records of [`crate::wmbus::water_records`] (volumes in whole litres).
    pub fn water_records(&self) -> Result<WaterRecords, SimError> {
        let litres = |v: Volume, field| {
            u32::try_from(v.ml().div_euclid(1000)).map_err(|_| SimError::OutOfRange {
                field,
                value: v.ml(),
            })
        };
        Ok(WaterRecords {
            volume_l: litres(self.register, "volume")?,
            meter_time: self.meter_time,
            summer_time: self.summer_time,
            error_flags: self.status.error_flags(),
            due_volume_l: litres(self.due_register, "due-date volume")?,
            due_date: self.due_date,
        })
    }

    /// The telegram this meter sends: SND_NR, short header, mode 5 with its key.
    pub fn telegram(&self, access_number: u8) -> Result<Telegram, SimError> {
        Ok(Telegram {
            c_field: C_SND_NR,
            link: self.generation.address.clone(),
            ell: None,
            transport: Transport::Short,
            access_number,
            status: self.status.status_byte(),
            flags: ConfigFlags {
                synchronous: true,
                ..Default::default()
            },
            security: Security::Mode5 {
                key: self.generation.key,
            },
            records: crate::wmbus::water_records(&self.water_records()?)?,
            clear_tail: Vec::new(),
        })
    }
}

/// The fleet.
#[derive(Debug, Clone)]
pub struct Fleet {
    seed: u64,
    epoch: DateTime<Utc>,
    meters: Vec<SimMeter>,
    districts: Vec<District>,
    used_ids: HashSet<u32>,
    cache: Cache,
}

/// Memoised hour facts and per-meter day-block sums; cleared whenever a fault is injected.
#[derive(Debug, Default)]
struct Cache {
    hours: RwLock<Vec<HourInfo>>,
    blocks: RwLock<Vec<Vec<(i64, i64)>>>,
}

impl Clone for Cache {
    fn clone(&self) -> Self {
        Cache::default()
    }
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The memo holds only complete entries, so a panic elsewhere cannot leave it torn.
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn draw_maker(rng: &mut Rng) -> (Manufacturer, u8) {
    let mut roll = rng.below(100);
    for (code, weight, versions) in MAKERS {
        if roll < weight {
            return (Manufacturer(*code), *rng.pick(&versions));
        }
        roll -= weight;
    }
    (Manufacturer(*b"APA"), 0x14)
}

impl Fleet {
    /// A fleet of `size` meters (customers plus one bulk meter per district), starting at
    /// [`default_epoch`].
    pub fn generate(seed: u64, size: usize) -> Fleet {
        Self::generate_at(seed, size, default_epoch())
    }

    /// A fleet whose simulated time starts at `epoch` (truncated to the hour).
    pub fn generate_at(seed: u64, size: usize, epoch: DateTime<Utc>) -> Fleet {
        let epoch =
            DateTime::from_timestamp(epoch.timestamp().div_euclid(3600) * 3600, 0).unwrap_or(epoch);
        let n_districts = if size == 0 {
            0
        } else {
            (size / 700).clamp(1, 6)
        };
        let n_customers = size - n_districts;
        let root = Rng::new(seed);
        let mut fleet = Fleet {
            seed,
            epoch,
            meters: Vec::with_capacity(size),
            districts: Vec::with_capacity(n_districts),
            used_ids: HashSet::with_capacity(size),
            cache: Cache::default(),
        };
        let mut houses_by_district: Vec<Vec<usize>> = vec![Vec::new(); n_districts];
        for i in 0..n_customers {
            let mut rng = root.fork(i as u64 + 1);
            let district = rng.below(n_districts as u64) as usize;
            let roll = rng.below(100);
            let mut kind = match roll {
                0..=44 => MeterKind::Flat,
                45..=82 => MeterKind::House,
                83..=91 => MeterKind::Business,
                _ => MeterKind::Garden,
            };
            let mut main_meter = None;
            if kind == MeterKind::Garden {
                let houses = &houses_by_district[district];
                if houses.is_empty() {
                    kind = MeterKind::House;
                } else {
                    main_meter = Some(*rng.pick(houses));
                }
            }
            let meter = fleet.new_meter(i, kind, district, main_meter, &mut rng);
            if kind == MeterKind::House {
                houses_by_district[district].push(i);
            }
            if let Some(main) = main_meter {
                fleet.meters[main].sub_meters.push(i);
            }
            fleet.meters.push(meter);
        }
        for (d, (name, _)) in DISTRICTS.iter().enumerate().take(n_districts) {
            let index = n_customers + d;
            let mut rng = root.fork(index as u64 + 1);
            let meter = fleet.new_meter(index, MeterKind::Bulk, d, None, &mut rng);
            fleet.meters.push(meter);
            let customers = fleet.meters[..n_customers]
                .iter()
                .filter(|m| m.district == d && m.kind != MeterKind::Garden)
                .map(|m| m.index)
                .collect();
            fleet.districts.push(District {
                index: d,
                name: name.to_string(),
                bulk_meter: index,
                customers,
                leakage_lph: rng.range(600, 1800),
            });
        }
        fleet
    }

    fn new_generation(
        &mut self,
        rng: &mut Rng,
        maker: (Manufacturer, u8),
        from_hour: i64,
    ) -> Generation {
        let id = loop {
            let id = rng.range(10_000_000, 99_999_999) as u32;
            if self.used_ids.insert(id) {
                break id;
            }
        };
        let number = MeterNumber(format!("{id:08}"));
        let year = 15 + rng.below(11);
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        Generation {
            serial: format!("{year:02}{number}"),
            address: Address {
                manufacturer: maker.0,
                id: number,
                version: maker.1,
                device_type: DEVICE_WATER,
            },
            key,
            from_hour,
        }
    }

    fn new_meter(
        &mut self,
        index: usize,
        kind: MeterKind,
        district: usize,
        main_meter: Option<usize>,
        rng: &mut Rng,
    ) -> SimMeter {
        let maker = if kind == MeterKind::Bulk {
            (Manufacturer(*b"KAM"), 0x1B)
        } else {
            draw_maker(rng)
        };
        let generation = self.new_generation(rng, maker, 0);
        let (digits, max_m3) = match kind {
            MeterKind::House => (5, 3_000),
            MeterKind::Flat => (5, 1_500),
            MeterKind::Business => (6, 50_000),
            MeterKind::Garden => (5, 300),
            MeterKind::Bulk => (7, 2_000_000),
        };
        let initial = Volume::from_litres(rng.range(0, max_m3 * 1000));
        let streets = &DISTRICTS[district % DISTRICTS.len()].1;
        let (street, house_number, flat) = match main_meter {
            Some(main) => {
                let m = &self.meters[main];
                (m.street.clone(), m.house_number, None)
            }
            None => (
                rng.pick(streets).to_string(),
                rng.range(1, 80) as u32,
                (kind == MeterKind::Flat).then(|| rng.range(1, 60) as u32),
            ),
        };
        SimMeter {
            index,
            kind,
            district,
            main_meter,
            sub_meters: Vec::new(),
            street,
            house_number,
            flat,
            register_digits: digits,
            initial,
            profile: Profile::draw(kind, rng),
            generations: vec![generation],
            faults: Vec::new(),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Start of simulated time (hour 0).
    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }
    /// Number of meters (bulk meters included).
    pub fn len(&self) -> usize {
        self.meters.len()
    }
    /// True for an empty fleet.
    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }
    /// All meters, by index.
    pub fn meters(&self) -> &[SimMeter] {
        &self.meters
    }
    /// The districts.
    pub fn districts(&self) -> &[District] {
        &self.districts
    }
    /// One meter.
    pub fn meter(&self, index: usize) -> Result<&SimMeter, SimError> {
        self.meters.get(index).ok_or(SimError::NoSuchMeter {
            index,
            size: self.meters.len(),
        })
    }
    /// The meter position whose original or replacement meter has this serial.
    pub fn find_serial(&self, serial: &str) -> Option<usize> {
        self.meters
            .iter()
            .find(|m| m.generations.iter().any(|g| g.serial == serial))
            .map(|m| m.index)
    }

    /// Hour index containing `t` (negative before the epoch).
    pub fn hour_of(&self, t: DateTime<Utc>) -> i64 {
        (t - self.epoch).num_seconds().div_euclid(3600)
    }

    /// First whole hour starting at or after `t`.
    fn hour_ceil(&self, t: DateTime<Utc>) -> i64 {
        let s = (t - self.epoch).num_seconds();
        s.div_euclid(3600) + i64::from(s.rem_euclid(3600) != 0)
    }

    /// Adds a fault to a meter. A replacement installs a new meter (new id, serial, key;
    /// same manufacturer); a rollover recomputes the original meter's initial register so that
    /// it wraps exactly at the fault's start.
    pub fn inject(&mut self, meter: usize, fault: Fault) -> Result<(), SimError> {
        self.meter(meter)?;
        let bad = |reason: &str| SimError::Fault {
            meter,
            reason: reason.to_string(),
        };
        match fault.kind {
            FaultKind::Leak { litres_per_hour }
            | FaultKind::Burst { litres_per_hour }
            | FaultKind::Backflow { litres_per_hour }
                if litres_per_hour < 1 =>
            {
                return Err(bad("litres_per_hour must be at least 1"))
            }
            _ => {}
        }
        if let Some(end) = fault.end {
            if end <= fault.start {
                return Err(bad("end must be after start"));
            }
        }
        let start_hour = self.hour_ceil(fault.start);
        match fault.kind {
            FaultKind::Replacement => {
                if start_hour <= 0 {
                    return Err(bad("a replacement must start after the epoch"));
                }
                let last = self.meters[meter].generations.len();
                let mut rng = Rng::new(self.seed)
                    .fork(0x4E57_0000 + meter as u64)
                    .fork(last as u64);
                let old = &self.meters[meter].generations[last - 1];
                if old.from_hour >= start_hour {
                    return Err(bad("replacements must be injected in time order"));
                }
                let maker = (old.address.manufacturer, old.address.version);
                let generation = self.new_generation(&mut rng, maker, start_hour);
                self.meters[meter].generations.push(generation);
                self.meters[meter].faults.push(fault);
            }
            FaultKind::Rollover => {
                if start_hour <= 0 {
                    return Err(bad("a rollover must start after the epoch"));
                }
                if self.meters[meter].generations.len() > 1 {
                    return Err(bad("rollover applies to the original meter only"));
                }
                self.meters[meter].faults.push(fault);
                self.cache = Cache::default();
                let used = self.cum(meter, self.epoch + Duration::hours(start_hour)).1;
                let cap = self.meters[meter].capacity_ml();
                self.meters[meter].initial = Volume::from_ml((cap - used.rem_euclid(cap)) % cap);
            }
            _ => self.meters[meter].faults.push(fault),
        }
        // Faults change flows: what was memoised no longer holds (also for the bulk meters).
        self.cache = Cache::default();
        Ok(())
    }

    fn fault_active(&self, m: &SimMeter, fault: &Fault, h: i64) -> bool {
        let start = self.hour_ceil(fault.start);
        let end = fault.end.map(|e| self.hour_ceil(e)).unwrap_or(i64::MAX);
        if h < start || h >= end {
            return false;
        }
        // A replacement cures the old meter's own faults.
        !(fault.kind.is_device_fault()
            && m.generations
                .iter()
                .any(|g| g.from_hour > start && g.from_hour <= h))
    }

    /// (true litres, registered litres) in hour `h`.
    fn flows(&self, meter: usize, h: i64, info: &HourInfo) -> (i64, i64) {
        let m = &self.meters[meter];
        if h < 0 {
            return (0, 0);
        }
        let (mut dry, mut extra, mut backflow, mut stuck, mut tamper) =
            (false, 0, None, false, false);
        for f in m.faults.iter().filter(|f| self.fault_active(m, f, h)) {
            match f.kind {
                FaultKind::DryPipe => dry = true,
                FaultKind::Leak { litres_per_hour } | FaultKind::Burst { litres_per_hour } => {
                    extra += litres_per_hour
                }
                FaultKind::Backflow { litres_per_hour } => backflow = Some(litres_per_hour),
                FaultKind::Stuck => stuck = true,
                FaultKind::MagneticTamper => tamper = true,
                _ => {}
            }
        }
        let mut flow = if dry {
            0
        } else {
            let base = match m.kind {
                MeterKind::Bulk => {
                    let d = &self.districts[m.district];
                    d.customers
                        .iter()
                        .map(|&c| self.flows(c, h, info).0)
                        .sum::<i64>()
                        + self.leakage_litres(m.district, h)
                }
                _ => {
                    m.profile.litres(self.seed, meter, h, info)
                        + m.sub_meters
                            .iter()
                            .map(|&s| self.flows(s, h, info).0)
                            .sum::<i64>()
                }
            };
            base + extra
        };
        if let Some(reverse) = backflow {
            flow = -reverse;
        }
        let registered = if stuck {
            0
        } else if tamper {
            flow * TAMPER_REGISTERS_PER_MILLE / 1000
        } else {
            flow
        };
        (flow, registered)
    }

    /// Network leakage of a district in hour `h` (litres).
    fn leakage_litres(&self, district: usize, h: i64) -> i64 {
        let d = &self.districts[district];
        let mut rng = Rng::new(self.seed)
            .fork(0xB01C_0000 + district as u64)
            .fork(h as u64);
        d.leakage_lph * rng.range(900, 1100) / 1000
    }

    /// Network leakage of a district over the whole hours in `[from, to)` (the bulk meter's
    /// true use minus its customers' over the same whole hours).
    pub fn district_leakage(
        &self,
        district: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Volume, SimError> {
        check_period(from, to)?;
        if district >= self.districts.len() {
            return Err(SimError::OutOfRange {
                field: "district",
                value: district as i64,
            });
        }
        let litres: i64 = (self.hour_of(from).max(0)..self.hour_of(to).max(0))
            .map(|h| self.leakage_litres(district, h))
            .sum();
        Ok(Volume::from_litres(litres))
    }

    /// Calendar facts of hour `h`, memoised (the time-zone lookup dominates otherwise).
    fn info(&self, h: i64) -> HourInfo {
        let Ok(idx) = usize::try_from(h) else {
            return HourInfo::of(self.epoch, h);
        };
        if let Some(i) = read_lock(&self.cache.hours).get(idx) {
            return *i;
        }
        let mut hours = write_lock(&self.cache.hours);
        while hours.len() <= idx {
            let next = HourInfo::of(self.epoch, hours.len() as i64);
            hours.push(next);
        }
        hours[idx]
    }

    /// Cumulative (true, registered) millilitres from the epoch to the start of day-block `k`
    /// (24-hour blocks from the epoch), memoised per meter.
    fn block_prefix(&self, meter: usize, k: usize) -> (i64, i64) {
        if let Some(x) = read_lock(&self.cache.blocks)
            .get(meter)
            .and_then(|v| v.get(k))
        {
            return *x;
        }
        let mut computed: Vec<(i64, i64)> = read_lock(&self.cache.blocks)
            .get(meter)
            .cloned()
            .unwrap_or_default();
        if computed.is_empty() {
            computed.push((0, 0));
        }
        while computed.len() <= k {
            let block = (computed.len() - 1) as i64;
            let mut acc = computed[computed.len() - 1];
            for h in block * 24..block * 24 + 24 {
                let (a, b) = self.flows(meter, h, &self.info(h));
                acc.0 += a * 1000;
                acc.1 += b * 1000;
            }
            computed.push(acc);
        }
        let result = computed[k];
        let mut blocks = write_lock(&self.cache.blocks);
        if blocks.len() < self.meters.len() {
            blocks.resize(self.meters.len(), Vec::new());
        }
        if blocks[meter].len() < computed.len() {
            blocks[meter] = computed;
        }
        result
    }

    /// Cumulative (true, registered) millilitres from the epoch to `t`; within an hour the
    /// flow is uniform (truncated toward zero).
    fn cum(&self, meter: usize, t: DateTime<Utc>) -> (i64, i64) {
        let h_t = self.hour_of(t);
        if h_t < 0 {
            return (0, 0);
        }
        let k = h_t / 24;
        let (mut tr, mut rg) = self.block_prefix(meter, k as usize);
        for h in k * 24..h_t {
            let (a, b) = self.flows(meter, h, &self.info(h));
            tr += a * 1000;
            rg += b * 1000;
        }
        let secs = (t - self.epoch).num_seconds().rem_euclid(3600);
        if secs > 0 {
            let (a, b) = self.flows(meter, h_t, &self.info(h_t));
            tr += a * 1000 * secs / 3600;
            rg += b * 1000 * secs / 3600;
        }
        (tr, rg)
    }

    /// (true, registered) millilitres in `[from, to)`.
    fn between(&self, meter: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64) {
        let (a, b) = (self.cum(meter, from), self.cum(meter, to));
        (b.0 - a.0, b.1 - a.1)
    }

    /// Index of the meter generation installed at `t`.
    fn generation_index(&self, m: &SimMeter, t: DateTime<Utc>) -> usize {
        let h = self.hour_of(t);
        m.generations
            .iter()
            .rposition(|g| g.from_hour <= h)
            .unwrap_or(0)
    }

    /// The meter (original or replacement) installed at `t`.
    pub fn generation_at(&self, meter: usize, t: DateTime<Utc>) -> Result<&Generation, SimError> {
        let m = self.meter(meter)?;
        Ok(&m.generations[self.generation_index(m, t)])
    }

    /// The register as the installed meter shows it at `t` (millilitres, wrapped at
    /// 10^digits m³; a replacement starts from 0).
    pub fn register_at(&self, meter: usize, t: DateTime<Utc>) -> Result<Volume, SimError> {
        let m = self.meter(meter)?;
        let g = self.generation_index(m, t);
        let from_hour = m.generations[g].from_hour;
        let start = if g == 0 { m.initial.ml() } else { 0 };
        let installed = self.epoch + Duration::hours(from_hour);
        let raw = start + self.cum(meter, t).1 - self.cum(meter, installed).1;
        Ok(Volume::from_ml(raw.rem_euclid(m.capacity_ml())))
    }

    /// Water that truly flowed through the meter position in `[from, to)` (negative for
    /// backflow). For a main meter this includes its sub-meters.
    pub fn true_use(
        &self,
        meter: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Volume, SimError> {
        self.meter(meter)?;
        check_period(from, to)?;
        Ok(Volume::from_ml(self.between(meter, from, to).0))
    }

    /// What the registers counted in `[from, to)`, across replacements and without wrapping.
    pub fn registered_use(
        &self,
        meter: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Volume, SimError> {
        self.meter(meter)?;
        check_period(from, to)?;
        Ok(Volume::from_ml(self.between(meter, from, to).1))
    }

    /// The meter's status flags at `t` (faults act per whole hour, see [`Fault`]).
    pub fn status_at(&self, meter: usize, t: DateTime<Utc>) -> Result<MeterStatus, SimError> {
        let m = self.meter(meter)?;
        let h = self.hour_of(t);
        let mut s = MeterStatus::default();
        for f in m.faults.iter().filter(|f| self.fault_active(m, f, h)) {
            match f.kind {
                FaultKind::Leak { .. } => s.leak = true,
                FaultKind::Burst { .. } => s.burst = true,
                FaultKind::Backflow { .. } => s.backflow = true,
                FaultKind::MagneticTamper => s.tamper = true,
                FaultKind::DryPipe => s.dry = true,
                FaultKind::LowBattery => s.battery_low = true,
                FaultKind::ClockDrift { seconds_per_day } => {
                    let since =
                        (t - (self.epoch + Duration::hours(self.hour_ceil(f.start)))).num_seconds();
                    s.clock_offset_s += seconds_per_day * since / 86_400;
                }
                FaultKind::Rollover | FaultKind::Replacement | FaultKind::Stuck => {}
            }
        }
        Ok(s)
    }

    /// Everything the meter reports at `t`.
    pub fn readout(&self, meter: usize, t: DateTime<Utc>) -> Result<Readout, SimError> {
        let status = self.status_at(meter, t)?;
        let register = self.register_at(meter, t)?;
        let generation = self.generation_at(meter, t)?.clone();
        let clock = (t + Duration::seconds(status.clock_offset_s)).with_timezone(&Warsaw);
        let summer_time = clock.offset().dst_offset() != Duration::zero();
        let today = t.with_timezone(&Warsaw).date_naive();
        let first = today.with_day(1).unwrap_or(today);
        let due_date = first.pred_opt().unwrap_or(first);
        let due_instant = ewoda_common::time::day_start(first);
        // A meter replaced after the due date does not know the old meter's due value.
        let due_register = if self.generation_at(meter, due_instant)? == &generation {
            self.register_at(meter, due_instant)?
        } else {
            Volume::ZERO
        };
        Ok(Readout {
            meter,
            at: t,
            generation,
            register,
            status,
            meter_time: clock.naive_local(),
            summer_time,
            due_date,
            due_register,
        })
    }

    /// Injects random faults into about `per_mille`/1000 of the customer meters, each starting
    /// at a random whole hour in `[from, to)` (deterministic by the fleet's seed). Returns what
    /// was injected.
    pub fn inject_random_faults(
        &mut self,
        per_mille: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(usize, Fault)>, SimError> {
        check_period(from, to)?;
        let hours = ((to - from).num_seconds() / 3600).max(1);
        let root = Rng::new(self.seed).fork(0xFA17_0000);
        let mut injected = Vec::new();
        for i in 0..self.meters.len() {
            if self.meters[i].kind == MeterKind::Bulk {
                continue;
            }
            let mut rng = root.fork(i as u64);
            if !rng.chance(per_mille) {
                continue;
            }
            let start = from + Duration::hours(rng.range(0, hours - 1));
            let kind = match rng.below(10) {
                0 => FaultKind::Leak {
                    litres_per_hour: rng.range(2, 30),
                },
                1 => FaultKind::Burst {
                    litres_per_hour: rng.range(300, 2000),
                },
                2 => FaultKind::Backflow {
                    litres_per_hour: rng.range(1, 20),
                },
                3 => FaultKind::MagneticTamper,
                4 => FaultKind::DryPipe,
                5 => FaultKind::LowBattery,
                6 => FaultKind::Rollover,
                7 => FaultKind::Replacement,
                8 => FaultKind::Stuck,
                _ => FaultKind::ClockDrift {
                    seconds_per_day: rng.range(-120, 120),
                },
            };
            // Bursts and backflows are events, not states: they last a few hours.
            let fault = match kind {
                FaultKind::Burst { .. } | FaultKind::Backflow { .. } => {
                    Fault::new(kind, start).until(start + Duration::hours(rng.range(1, 6)))
                }
                _ => Fault::new(kind, start),
            };
            if self.inject(i, fault).is_ok() {
                injected.push((i, fault));
            }
        }
        Ok(injected)
    }

    /// Customer meters (no bulk meters) of one district or all, in walking order: by street,
    /// house number and flat.
    pub fn route_by_address(&self, district: Option<usize>) -> Vec<usize> {
        let mut route: Vec<&SimMeter> = self
            .meters
            .iter()
            .filter(|m| m.kind != MeterKind::Bulk && district.is_none_or(|d| m.district == d))
            .collect();
        route.sort_by(|a, b| {
            (a.district, &a.street, a.house_number, a.flat, a.index).cmp(&(
                b.district,
                &b.street,
                b.house_number,
                b.flat,
                b.index,
            ))
        });
        route.into_iter().map(|m| m.index).collect()
    }

    /// The access number a meter uses at `t` (it counts transmissions).
    pub fn access_number(&self, meter: usize, t: DateTime<Utc>) -> u8 {
        let n = (t - self.epoch).num_seconds().div_euclid(TX_INTERVAL_S) + meter as i64 * 37;
        n.rem_euclid(256) as u8
    }

    /// The meter's wM-Bus telegram at `t` (SND_NR, CI 0x7A, mode 5 with its key).
    pub fn telegram(
        &self,
        meter: usize,
        t: DateTime<Utc>,
        format: FrameFormat,
    ) -> Result<Vec<u8>, SimError> {
        self.readout(meter, t)?
            .telegram(self.access_number(meter, t))?
            .encode(format)
    }
}

fn check_period(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), SimError> {
    if to < from {
        return Err(SimError::Period {
            from: from.to_rfc3339(),
            to: to.to_rfc3339(),
        });
    }
    Ok(())
}

/// Local midnight of a date, as UTC (re-exported for callers building periods).
pub fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    ewoda_common::time::day_start(date)
}

/// A local (Europe/Warsaw) wall-clock time as UTC; the earlier instant when ambiguous.
pub fn local_to_utc(t: NaiveDateTime) -> Option<DateTime<Utc>> {
    Warsaw
        .from_local_datetime(&t)
        .earliest()
        .map(|x| x.with_timezone(&Utc))
}
