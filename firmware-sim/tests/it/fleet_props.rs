//! Invariants of the fleet model over random meters and instants.

use chrono::{DateTime, Duration, Utc};
use ewoda_sim::{Fleet, MeterKind};
use proptest::prelude::*;
use std::sync::OnceLock;

fn fleet() -> &'static Fleet {
    static F: OnceLock<Fleet> = OnceLock::new();
    F.get_or_init(|| Fleet::generate(77, 150))
}

fn instant(secs: i64) -> DateTime<Utc> {
    fleet().epoch() + Duration::seconds(secs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn use_is_additive_and_matches_registers(
        meter in 0usize..145,
        a in 0i64..40 * 86_400,
        b in 0i64..40 * 86_400,
        c in 0i64..40 * 86_400,
    ) {
        let f = fleet();
        let mut v = [a, b, c];
        v.sort();
        let [t1, t2, t3] = v.map(instant);
        let whole = f.true_use(meter, t1, t3).unwrap();
        let parts = f.true_use(meter, t1, t2).unwrap() + f.true_use(meter, t2, t3).unwrap();
        prop_assert_eq!(whole, parts);
        prop_assert!(whole.ml() >= 0);
        if f.meter(meter).unwrap().kind() != MeterKind::Bulk {
            let d = f.register_at(meter, t3).unwrap() - f.register_at(meter, t1).unwrap();
            prop_assert_eq!(d, whole);
        }
    }
}
