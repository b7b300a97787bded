//! Acceptance: every case of `shared/testdata/billing/cases.jsonl` through the same library
//! functions the `ewoda billing` CLI calls, comparing whole outputs (quote lines as a multiset).

use ewoda_billing::account::run_account;
use ewoda_billing::interest::run_interest;
use ewoda_billing::quote::run_quote;
use serde_json::Value;

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/cases.jsonl"
));

/// Quote line order is free (SPEC §5): sort lines by their serialized form.
fn canonical(mut v: Value) -> Value {
    if let Some(lines) = v.get_mut("lines").and_then(Value::as_array_mut) {
        lines.sort_by_key(|l| l.to_string());
    }
    v
}

fn run(command: &str, input: &Value) -> (Value, u8) {
    match command {
        "quote" => run_quote(&input.to_string()),
        "interest" => run_interest(&input.to_string()),
        "account" => {
            let settlement = input["settlement"].as_str().expect("case settlement");
            let prefix = input["prefix"].as_str().expect("case prefix");
            let customer = input["customer"].as_u64().expect("case customer");
            run_account(settlement, prefix, customer)
        }
        other => panic!("unknown command {other}"),
    }
}

#[test]
fn every_acceptance_case() {
    let mut checked = 0;
    for (n, line) in CASES
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let name = case["name"].as_str().unwrap_or("?");
        let (output, code) = run(case["command"].as_str().expect("command"), &case["input"]);
        if let Some(expected) = case.get("expected") {
            assert_eq!(code, 0, "{name}: {output}");
            assert_eq!(canonical(output), canonical(expected.clone()), "{name}");
        } else {
            let field = case["expected_error_mentions"]
                .as_str()
                .expect("expected or error");
            assert_eq!(code, 2, "{name}: {output}");
            let message = output["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no error in {output}"));
            assert!(
                message.contains(field),
                "{name}: {message:?} does not mention {field}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "all cases of cases.jsonl");
}

#[test]
fn malformed_quote_input_names_the_field() {
    let (out, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-04-01","to":"2026-04-30"},
        "tariff":[{"from":"2025-01-01","water_m3":6.95,"sewage_m3":"12.35","vat_percent":"8"}],
        "volume":{"norm":{"persons":1,"m3_per_person_month":"3","months":1}}}"#,
    );
    assert_eq!(code, 2);
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("tariff[0].water_m3: "),
        "{out}"
    );

    let (out, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-04-30","to":"2026-04-01"},
        "tariff":[{"from":"2025-01-01","water_m3":"6.95","sewage_m3":"12.35","vat_percent":"8"}],
        "volume":{"norm":{"persons":1,"m3_per_person_month":"3","months":1}}}"#,
    );
    assert_eq!(code, 2);
    assert!(
        out["error"].as_str().unwrap().starts_with("period: "),
        "{out}"
    );

    let (out, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-04-01","to":"2026-04-30"},
        "tariff":[{"from":"2025-01-01","water_m3":"6.95","sewage_m3":"12.35","vat_percent":"8"},
                  {"from":"2025-01-01","water_m3":"7","sewage_m3":"13","vat_percent":"8"}],
        "volume":{"norm":{"persons":1,"m3_per_person_month":"3","months":1}}}"#,
    );
    assert_eq!(code, 2);
    assert!(
        out["error"].as_str().unwrap().starts_with("tariff[1]: "),
        "{out}"
    );

    let (out, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-04-01","to":"2026-04-30"},
        "tariff":[{"from":"2025-01-01","water_m3":"6.95","sewage_m3":"12.35","vat_percent":"8"}],
        "volume":{"norm":{"persons":1,"m3_per_person_month":"3","months":1},"estimate":{"monthly_history_m3":["1"],"months":1}}}"#,
    );
    assert_eq!(code, 2);
    assert!(
        out["error"].as_str().unwrap().starts_with("volume: "),
        "{out}"
    );

    let (out, code) = run_quote("{not json");
    assert_eq!(code, 2);
    assert!(out["error"].as_str().is_some(), "{out}");
}

#[test]
fn sub_meter_error_message() {
    let (out, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-04-01","to":"2026-04-30"},
        "tariff":[{"from":"2025-01-01","water_m3":"6.95","sewage_m3":"12.35","vat_percent":"8"}],
        "volume":{"reads":[{"date":"2026-04-01","value":"100.000"},{"date":"2026-04-30","value":"108.500"}]},
        "sub_meter_m3":"9"}"#,
    );
    assert_eq!(code, 2);
    assert_eq!(out["error"], "sub_meter_m3: 9.000 exceeds the volume 8.500");
}

#[test]
fn interest_input_errors_name_the_field() {
    let (out, code) =
        run_interest(r#"{"debtor":"nobody","amount":"1","due":"2025-01-01","paid":"2025-02-01"}"#);
    assert_eq!(code, 2);
    assert!(
        out["error"].as_str().unwrap().starts_with("debtor: "),
        "{out}"
    );
    let (out, code) = run_interest(
        r#"{"debtor":"household","amount":"-1","due":"2025-01-01","paid":"2025-02-01"}"#,
    );
    assert_eq!(code, 2);
    assert!(
        out["error"].as_str().unwrap().starts_with("amount: "),
        "{out}"
    );
}
