use ewoda_collector::wmbus::*;
fn main() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/wmbus/vectors.jsonl"
    ))
    .unwrap();
    let annex = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/wmbus/oms_annexN_vectors.jsonl"
    ))
    .unwrap();
    for (i, line) in text.lines().chain(annex.lines()).enumerate() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let h = j["telegram_hex"].as_str().unwrap();
        let key = j["key_hex"].as_str().and_then(parse_key);
        let e = &j["expected"];
        match decode_hex(h, &key) {
            Ok(t) => {
                let ok_id = e["id"].as_str() == Some(&t.id) || e["tpl_id"].as_str() == Some(&t.id);
                let et = e.get("total_m3").map(|v| v.to_string());
                let tt = t.total_m3.map(|v| v.normalize().to_string());
                let ok_t = match (&et, &tt) {
                    (Some(a), Some(b)) => a.parse::<f64>().ok() == b.parse::<f64>().ok(),
                    (None, _) => true,
                    _ => false,
                };
                println!(
                    "{i:3} {} {} id={} total={:?}/{:?} st={:?}/{:?} alarms={:?} {}",
                    if ok_id && ok_t { "OK  " } else { "FAIL" },
                    j["driver"],
                    t.id,
                    tt,
                    et,
                    e.get("status"),
                    e.get("current_status"),
                    t.alarms,
                    t.status
                );
            }
            Err(err) => println!(
                "{i:3} ERR  {} {err} exp={:?}",
                j["driver"],
                e.get("total_m3")
            ),
        }
    }
}
