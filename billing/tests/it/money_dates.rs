//! Money dates are Warsaw dates computed in Rust: no billing SQL asks the database server for
//! its date (a UTC server is still on yesterday at 00:30 in Warsaw).

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn billing_sql_never_takes_the_servers_date() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "{}", files.len());
    for (path, text) in files {
        for (n, line) in text.lines().enumerate() {
            let l = line.to_lowercase();
            for banned in [
                "current_date",
                "now()::date",
                "localtimestamp",
                "current_timestamp::date",
            ] {
                assert!(
                    !l.contains(banned) || l.trim_start().starts_with("//"),
                    "{path}:{}: {banned} — compute the Warsaw day in Rust (Clock::today)",
                    n + 1
                );
            }
        }
    }
}
