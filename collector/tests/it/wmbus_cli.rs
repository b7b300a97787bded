//! `ewoda decode` behaviour (SPEC §5) through the library function the binary calls.

use ewoda_collector::wmbus::cli::{run_decode, CliError};
use std::io::Cursor;

const MODE5: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";
const KEY: &str = "0102030405060708090A0B0C0D0E0F11";
const WIRED: &str = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916";

const EXPECTED_LINE: &str = concat!(
    r#"{"id":"12345678","manufacturer":"ELS","version":51,"device_type":"gas","total_m3":28504.27,"#,
    r#""records":[{"function":"instantaneous","storage":0,"tariff":0,"subunit":0,"quantity":"volume","value":"28504.27","unit":"m3"},"#,
    r#"{"function":"instantaneous","storage":0,"tariff":0,"subunit":0,"quantity":"datetime","value":"2008-05-31T23:50","unit":""},"#,
    r#"{"function":"instantaneous","storage":0,"tariff":0,"subunit":0,"quantity":"error_flags","value":"0","unit":""}],"#,
    r#""alarms":[],"error":null}"#
);

fn run(key: Option<&str>, args: &[&str], stdin: &str) -> Result<String, CliError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let mut out = Vec::new();
    run_decode(key, &args, &mut input, &mut out)?;
    Ok(String::from_utf8(out).expect("utf-8"))
}

#[test]
fn decodes_arguments_with_key() {
    let out = run(Some(KEY), &[MODE5, WIRED], "ignored\n").expect("run");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, vec![EXPECTED_LINE, EXPECTED_LINE]);
}

#[test]
fn total_is_a_json_number_and_fields_are_ordered() {
    let out = run(None, &[WIRED], "").expect("run");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(v["total_m3"].is_number());
    assert_eq!(v["total_m3"].to_string(), "28504.27");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    // serde_json without preserve_order sorts keys, so check the raw text order instead.
    assert_eq!(keys.len(), 8);
    let order = [
        "\"id\"",
        "\"manufacturer\"",
        "\"version\"",
        "\"device_type\"",
        "\"total_m3\"",
        "\"records\"",
        "\"alarms\"",
        "\"error\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| out.find(k).expect("key present"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn reads_stdin_lines_and_reports_errors_per_line() {
    let stdin = format!("{WIRED}\n\n  {MODE5}  \n00zz\n{}\n", &WIRED[..20]);
    let out = run(None, &[], &stdin).expect("run");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], EXPECTED_LINE);
    assert_eq!(
        lines[1],
        r#"{"id":"12345678","error":"payload is encrypted (mode 5) and no key is known for ELS 12345678"}"#
    );
    assert_eq!(
        lines[2],
        r#"{"id":null,"error":"invalid hex at character 2"}"#
    );
    let v: serde_json::Value = serde_json::from_str(lines[3]).expect("json");
    assert!(
        v["error"].as_str().expect("error").contains("truncated"),
        "{v}"
    );
}

#[test]
fn wrong_key_line_names_the_check() {
    let out = run(Some("00000000000000000000000000000000"), &[MODE5], "").expect("run");
    assert_eq!(
        out.trim(),
        r#"{"id":"12345678","error":"wrong key for ELS 12345678: 2F2F marker failed after decryption at offset 15"}"#
    );
}

#[test]
fn bad_key_exits_2() {
    let err = run(Some("0011"), &[WIRED], "").expect_err("bad key");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("32 hex digits"));
}

#[test]
fn unreadable_input_is_an_error() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let mut input = std::io::BufReader::new(Broken);
    let mut out = Vec::new();
    let err = run_decode(None, &[], &mut input, &mut out).expect_err("io");
    assert_eq!(err.exit_code(), 1);
}
