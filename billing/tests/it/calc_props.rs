//! Property tests of the billing calculations' invariants: pro-rata parts sum to the whole,
//! interest is additive over a split range within a grosz, generated IBANs always check.

use chrono::{Days, NaiveDate};
use ewoda_billing::account::{Iban, VirtualAccountLayout};
use ewoda_billing::consumption::{split_by_readings, split_pro_rata, Read, VolumeSource};
use ewoda_billing::holidays::effective_due;
use ewoda_billing::interest::{interest, Debtor, InterestInput, StatutoryRates};
use ewoda_billing::quote::{quote, CustomerKind, QuoteInput};
use ewoda_billing::tariff::{Period, Tariff, TariffVersion};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn day(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2016, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(offset)))
        .unwrap()
}

/// Consecutive spans of the given lengths starting at `start`.
fn spans(start: u64, lengths: &[u64]) -> Vec<Period> {
    let mut from = start;
    lengths
        .iter()
        .map(|len| {
            let p = Period::new(day(from), day(from + len - 1)).unwrap();
            from += len;
            p
        })
        .collect()
}

proptest! {
    #[test]
    fn pro_rata_parts_sum_to_the_volume(
        mills in 0i64..100_000_000,
        lengths in prop::collection::vec(1u64..400, 1..6),
    ) {
        let volume = Decimal::new(mills, 3);
        let spans = spans(0, &lengths);
        let parts = split_pro_rata(volume, &spans);
        prop_assert_eq!(parts.len(), spans.len());
        prop_assert_eq!(parts.iter().copied().sum::<Decimal>(), volume);
        for p in &parts {
            prop_assert!(!p.is_sign_negative(), "{:?}", parts);
            prop_assert_eq!(p.scale(), 3);
        }
        if spans.len() == 2 {
            // The SPEC rule verbatim: the first part is its exact share rounded half-up.
            let total: i64 = spans.iter().map(Period::days).sum();
            let exact = volume * Decimal::from(spans[0].days()) / Decimal::from(total);
            prop_assert!((parts[0] - exact).abs() <= Decimal::new(5, 4));
        }
    }

    #[test]
    fn split_by_readings_parts_sum_to_the_volume(
        increments in prop::collection::vec(0i64..50_000, 2..40),
        lengths in prop::collection::vec(1u64..30, 1..4),
    ) {
        let spans = spans(0, &lengths);
        let period_days: u64 = lengths.iter().sum();
        // Daily-ish readings: one every day of the period from the start, plus the end.
        let mut register = Decimal::new(1_000_000, 3);
        let mut readings = vec![Read { date: day(0), value: register }];
        for (i, inc) in increments.iter().enumerate() {
            let offset = (i as u64) + 1;
            if offset > period_days { break; }
            register += Decimal::new(*inc, 3);
            readings.push(Read { date: day(offset), value: register });
        }
        let volume = register - readings[0].value;
        let parts = split_by_readings(volume, &spans, &readings, None).unwrap();
        prop_assert_eq!(parts.iter().copied().sum::<Decimal>(), volume);
        prop_assert!(parts.iter().all(|p| !p.is_sign_negative()), "{:?}", parts);
    }

    #[test]
    fn interest_is_additive_over_a_split_within_a_grosz(
        grosze in 1i64..1_000_000_000,
        start in 0u64..3_700,
        first in 0u64..800,
        second in 0u64..800,
        business in any::<bool>(),
    ) {
        let rates = StatutoryRates::embedded().unwrap();
        let debtor = if business { Debtor::Business } else { Debtor::Household };
        let amount = Decimal::new(grosze, 2);
        // Art. 115 KC moves a due day off work to the next working day, so the property holds
        // for working-day due and split days (a split on a holiday would move the second due).
        let due = effective_due(day(start));
        let split = effective_due(due + Days::new(first));
        let paid = split + Days::new(second);
        let whole = interest(&InterestInput { debtor, amount, due, paid }, &rates).unwrap();
        let a = interest(&InterestInput { debtor, amount, due, paid: split }, &rates).unwrap();
        let b = interest(&InterestInput { debtor, amount, due: split, paid }, &rates).unwrap();
        prop_assert_eq!(whole.days, a.days + b.days);
        prop_assert!((whole.interest - a.interest - b.interest).abs() <= Decimal::new(1, 2),
            "{} vs {} + {}", whole.interest, a.interest, b.interest);
        prop_assert_eq!(whole.segments.iter().map(|s| s.days).sum::<i64>(), whole.days);
    }

    #[test]
    fn generated_ibans_always_check(
        bank in 0u32..10_000_000,
        prefix in "[0-9]{0,10}",
        customer in 0u64..1_000_000,
        position in 4usize..28,
        bump in 1u32..10,
    ) {
        // A valid settlement number: seven digits and their check digit.
        let digits = format!("{bank:07}");
        let sum: u32 = digits.chars().filter_map(|c| c.to_digit(10)).zip([3, 9, 7, 1, 3, 9, 7]).map(|(d, w)| d * w).sum();
        let settlement = format!("{digits}{}", (10 - sum % 10) % 10);
        let layout = VirtualAccountLayout { settlement: settlement.clone(), prefix: prefix.clone() };
        let iban = layout.account_for(customer).unwrap();
        prop_assert_eq!(iban.as_str().len(), 28);
        let head = format!("{settlement}{prefix}");
        prop_assert!(iban.as_str()[4..].starts_with(&head));
        prop_assert!(iban.as_str().ends_with(&customer.to_string()));
        prop_assert_eq!(Iban::parse(iban.as_str()).unwrap(), iban.clone());
        prop_assert_eq!(Iban::parse(&iban.to_print()).unwrap(), iban.clone());
        // mod-97 catches every single-digit error.
        let mut chars: Vec<char> = iban.as_str().chars().collect();
        let d = chars[position].to_digit(10).unwrap();
        chars[position] = char::from_digit((d + bump) % 10, 10).unwrap();
        prop_assert!(Iban::parse(&chars.iter().collect::<String>()).is_err());
    }

    #[test]
    fn quote_totals_are_consistent(
        mills in 0i64..10_000_000,
        sub_share in 0i64..=100,
        change in 1u64..88,
        price in 1i64..100_000,
    ) {
        let start = day(3_700);
        let end = start.checked_add_days(Days::new(89)).unwrap();
        let version = |from: NaiveDate, water: i64| TariffVersion {
            from, to: None, water_m3: Decimal::new(water, 2), sewage_m3: Decimal::new(water * 2, 2),
            vat_percent: Decimal::from(8), fees: vec![], einvoice_discount: Decimal::ZERO,
        };
        let volume = Decimal::new(mills, 3);
        let input = QuoteInput {
            customer_kind: CustomerKind::Household,
            period: Period::new(start, end).unwrap(),
            tariff: Tariff::new(vec![version(day(0), price), version(start.checked_add_days(Days::new(change)).unwrap(), price + 7)]).unwrap(),
            volume: VolumeSource::Reads {
                reads: vec![Read { date: start, value: Decimal::ZERO }, Read { date: end, value: volume }],
                register_digits: None, replacements: vec![],
            },
            sub_meter_m3: Some((volume * Decimal::from(sub_share) / Decimal::ONE_HUNDRED).round_dp(3)),
            sewage: true,
            einvoice: false,
        };
        let q = quote(&input).unwrap();
        let water: Decimal = q.lines.iter().filter(|l| l.item == "water").map(|l| l.quantity).sum();
        let sewage: Decimal = q.lines.iter().filter(|l| l.item == "sewage").map(|l| l.quantity).sum();
        prop_assert_eq!(water, q.volume_m3);
        prop_assert_eq!(sewage, q.sewage_m3);
        prop_assert_eq!(q.net, q.lines.iter().map(|l| l.net).sum::<Decimal>());
        prop_assert_eq!(q.gross, q.net + q.vat);
        prop_assert!((q.vat - q.net * Decimal::new(8, 2)).abs() <= Decimal::new(5, 3));
    }
}

/// A quote input with the given numbers in every numeric field.
fn hostile_quote(price: &str, volume: &str, persons: u64, months: u64, norm: bool) -> String {
    let volume_json = if norm {
        format!(
            r#"{{"norm":{{"persons":{persons},"m3_per_person_month":"{volume}","months":{months}}}}}"#
        )
    } else {
        format!(
            r#"{{"reads":[{{"date":"0001-01-01","value":"0"}},{{"date":"9999-12-31","value":"{volume}"}}],"register_digits":18}}"#
        )
    };
    format!(
        r#"{{"customer_kind":"business","period":{{"from":"0001-01-01","to":"0001-12-31"}},
        "tariff":[{{"from":"0001-01-01","water_m3":"{price}","sewage_m3":"{price}","vat_percent":"23",
        "fees":[{{"name":"f","amount":"{price}","per":"month"}}]}},
        {{"from":"0001-06-01","water_m3":"1","sewage_m3":"1","vat_percent":"8"}}],
        "volume":{volume_json},"sub_meter_m3":"{volume}"}}"#
    )
}

proptest! {
    #[test]
    fn quote_and_interest_never_panic_on_extreme_numbers(
        price in "-?[0-9]{1,29}(\\.[0-9]{1,28})?",
        volume in "-?[0-9]{1,29}(\\.[0-9]{1,28})?",
        persons in any::<u64>(),
        months in any::<u64>(),
        norm in any::<bool>(),
        days in 0i64..3_000_000,
    ) {
        let (out, code) = ewoda_billing::quote::run_quote(&hostile_quote(&price, &volume, persons, months, norm));
        prop_assert!(code == 0 || (code == 2 && out["error"].is_string()), "{}", out);
        let paid = day(0).checked_add_signed(chrono::Duration::days(days)).unwrap();
        let input = format!(r#"{{"debtor":"business","amount":"{price}","due":"2016-01-01","paid":"{paid}"}}"#);
        let (out, code) = ewoda_billing::interest::run_interest(&input);
        prop_assert!(code == 0 || (code == 2 && out["error"].is_string()), "{}", out);
    }
}
