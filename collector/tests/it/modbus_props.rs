//! Property tests of the collector's register decoding: any words under any valid or invalid
//! map decode or fail with a typed error, never panic; integer values survive the trip
//! through words in either word order; floats round half-up to the resolution.

use ewoda_collector::modbus::{DataType, RawValue, RegisterMap, Table, VolumeUnit, WordOrder};
use ewoda_common::Volume;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn data_type() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::U16),
        Just(DataType::U32),
        Just(DataType::I32),
        Just(DataType::F32),
        Just(DataType::U64),
    ]
}

fn word_order() -> impl Strategy<Value = WordOrder> {
    prop_oneof![Just(WordOrder::Big), Just(WordOrder::Little)]
}

fn unit() -> impl Strategy<Value = VolumeUnit> {
    prop_oneof![
        Just(VolumeUnit::Millilitre),
        Just(VolumeUnit::Litre),
        Just(VolumeUnit::CubicMetre),
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s))
}

fn map(dt: DataType, wo: WordOrder, scale: Decimal, unit: VolumeUnit) -> RegisterMap {
    RegisterMap {
        table: Table::Holding,
        address: 0,
        count: dt.registers(),
        data_type: dt,
        word_order: wo,
        scale,
        unit,
        resolution: None,
    }
}

/// `bits` (the low `n` words of it) as registers in `order`.
fn words(bits: u64, n: usize, order: WordOrder) -> Vec<u16> {
    let mut w: Vec<u16> = (0..n).map(|i| (bits >> (16 * i)) as u16).collect();
    if order == WordOrder::Big {
        w.reverse();
    }
    w
}

proptest! {
    #[test]
    fn decoding_never_panics(
        dt in data_type(),
        wo in word_order(),
        scale in decimal(),
        unit in unit(),
        resolution in proptest::option::of(decimal()),
        count in 0u16..6,
        ws in proptest::collection::vec(any::<u16>(), 0..6),
    ) {
        let mut m = map(dt, wo, scale, unit);
        m.resolution = resolution;
        m.count = count;
        // Valid or not, the map answers with a value or a typed error.
        let _ = m.validate();
        let _ = m.raw(&ws);
        let _ = m.decode(&ws);
    }

    #[test]
    fn u32_round_trips_in_both_word_orders(v in any::<u32>(), wo in word_order()) {
        let m = map(DataType::U32, wo, Decimal::ONE, VolumeUnit::Millilitre);
        let w = words(u64::from(v), 2, wo);
        prop_assert_eq!(m.raw(&w).unwrap(), RawValue::Int(i128::from(v)));
        prop_assert_eq!(m.decode(&w).unwrap(), Volume::from_ml(i64::from(v)));
        // The other word order reads the words swapped.
        let other = match wo { WordOrder::Big => WordOrder::Little, WordOrder::Little => WordOrder::Big };
        let swapped = v.rotate_right(16);
        prop_assert_eq!(
            map(DataType::U32, other, Decimal::ONE, VolumeUnit::Millilitre).decode(&w).unwrap(),
            Volume::from_ml(i64::from(swapped))
        );
    }

    #[test]
    fn i32_and_u64_round_trip(a in any::<i32>(), b in 0u64..(1 << 62), wo in word_order()) {
        let m = map(DataType::I32, wo, Decimal::ONE, VolumeUnit::Litre);
        prop_assert_eq!(m.decode(&words(u64::from(a as u32), 2, wo)).unwrap(), Volume::from_litres(i64::from(a)));
        let m = map(DataType::U64, wo, Decimal::ONE, VolumeUnit::Millilitre);
        prop_assert_eq!(m.decode(&words(b, 4, wo)).unwrap(), Volume::from_ml(b as i64));
    }

    #[test]
    fn scaled_integers_are_exact(v in any::<u32>(), tens in 0u32..4) {
        // Units of 10^tens litres.
        let scale = Decimal::from(10u32.pow(tens));
        let m = map(DataType::U32, WordOrder::Big, scale, VolumeUnit::Litre);
        prop_assert_eq!(
            m.decode(&words(u64::from(v), 2, WordOrder::Big)).unwrap(),
            Volume::from_litres(i64::from(v) * 10i64.pow(tens))
        );
        // And in thousandths of m³ it is litres again.
        let m = map(DataType::U32, WordOrder::Big, Decimal::new(1, 3), VolumeUnit::CubicMetre);
        prop_assert_eq!(
            m.decode(&words(u64::from(v), 2, WordOrder::Big)).unwrap(),
            Volume::from_litres(i64::from(v))
        );
    }

    #[test]
    fn floats_round_half_up_to_the_litre(f in -1.0e9f32..1.0e9f32, wo in word_order(), m3 in any::<bool>()) {
        // An f32 times 1000 is exact in f64 (24 + 10 bits), and f64::round rounds halves away
        // from zero: an independent reference.
        let (unit, litres) = if m3 {
            (VolumeUnit::CubicMetre, (f64::from(f) * 1000.0).round())
        } else {
            (VolumeUnit::Litre, f64::from(f).round())
        };
        let mut m = map(DataType::F32, wo, Decimal::ONE, unit);
        m.resolution = Some(if m3 { Decimal::new(1, 3) } else { Decimal::ONE });
        let w = words(u64::from(f.to_bits()), 2, wo);
        prop_assert_eq!(m.decode(&w).unwrap(), Volume::from_litres(litres as i64));
    }

    #[test]
    fn whole_litre_floats_are_exact(l in -(1i64 << 24)..(1i64 << 24)) {
        let m = map(DataType::F32, WordOrder::Big, Decimal::ONE, VolumeUnit::Litre);
        let w = words(u64::from((l as f32).to_bits()), 2, WordOrder::Big);
        prop_assert_eq!(m.decode(&w).unwrap(), Volume::from_litres(l));
    }
}
