//! The alarm lifecycle against a real PostgreSQL: escalation (timer, repeats, severity steps,
//! outbox rows written once across re-runs and concurrent passes) and the night-flow rule per
//! district (raise, repeat per night, clear, exact millilitres), and both run by `ewoda
//! collect`'s periodic task.

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use ewoda_collector::alarms::{
    self, AlarmKind, EscalationConfig, EscalationReport, KindEscalation, NightFlowConfig,
    NightFlowReport, Raised,
};
use serde_json::json;
use sqlx::PgPool;

async fn open(pool: &PgPool, meter_id: i64, kind: AlarmKind, at: DateTime<Utc>) -> i64 {
    let mut c = pool.acquire().await.unwrap();
    match alarms::raise(&mut c, meter_id, kind, at, "test", &json!({}))
        .await
        .unwrap()
    {
        Raised::Opened(id) | Raised::Repeated(id) => id,
    }
}

async fn set_state(pool: &PgPool, alarm_id: i64, state: &str) {
    sqlx::query("update alarm set state = $2 where alarm_id = $1")
        .bind(alarm_id)
        .bind(state)
        .execute(pool)
        .await
        .unwrap();
}

/// (severity, escalation_level, escalated_at) of an alarm.
async fn level(pool: &PgPool, alarm_id: i64) -> (String, i16, Option<DateTime<Utc>>) {
    sqlx::query_as("select severity, escalation_level, escalated_at from alarm where alarm_id = $1")
        .bind(alarm_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `alarm_escalated` outbox rows as (dedup_key, channel, customer, payload level, reason).
async fn escalated_rows(pool: &PgPool) -> Vec<(String, String, Option<i64>, i64, String)> {
    sqlx::query_as(
        "select dedup_key, channel, customer_id, (payload->>'level')::bigint, payload->>'reason'
         from notification_outbox where template = 'alarm_escalated' order by notification_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn report(by_timer: u64, by_repeats: u64) -> EscalationReport {
    EscalationReport {
        by_timer,
        by_repeats,
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn escalation_after_the_timer_steps_severity_once_per_level(pool: PgPool) {
    let leak_meter = meter(&pool, "E1", None).await;
    let customer = customer_with_meter(&pool, leak_meter, Some(true)).await;
    let leak = open(&pool, leak_meter, AlarmKind::Leak, at(0)).await;
    let tamper = open(
        &pool,
        meter(&pool, "E2", None).await,
        AlarmKind::Tamper,
        at(0),
    )
    .await;
    let battery = open(
        &pool,
        meter(&pool, "E3", None).await,
        AlarmKind::BatteryLow,
        at(0),
    )
    .await;
    let cfg = EscalationConfig::default();
    let esc = |m: i64| {
        let (pool, cfg) = (pool.clone(), cfg.clone());
        async move { alarms::escalate(&pool, &cfg, at(m)).await.unwrap() }
    };

    // Leak: 60 minutes unacknowledged.
    assert_eq!(esc(59).await, report(0, 0));
    assert_eq!(esc(60).await, report(1, 0));
    assert_eq!(
        level(&pool, leak).await,
        ("critical".into(), 1, Some(at(60)))
    );
    assert_eq!(esc(60).await, report(0, 0));
    assert_eq!(esc(119).await, report(0, 0));
    let c = Some(customer);
    let key = |l: i64, ch: &str| match ch {
        "console" => format!("alarm:{leak}:escalated:{l}:console"),
        _ => format!("alarm:{leak}:escalated:{l}:{ch}:{customer}"),
    };
    let unack = String::from("unacknowledged");
    assert_eq!(
        escalated_rows(&pool).await,
        vec![
            (key(1, "console"), "console".into(), None, 1, unack.clone()),
            (key(1, "email"), "email".into(), c, 1, unack.clone()),
            (key(1, "sms"), "sms".into(), c, 1, unack.clone()),
        ]
    );
    // The timer restarts at each escalation: level 2 an hour after level 1.
    assert_eq!(esc(120).await, report(1, 0));
    assert_eq!(
        level(&pool, leak).await,
        ("critical".into(), 2, Some(at(120)))
    );
    // Tamper (warning) and battery (info): 24 hours, one severity step each.
    assert_eq!(esc(24 * 60 - 1).await, report(0, 0));
    assert_eq!(esc(24 * 60).await, report(2, 0));
    assert_eq!(level(&pool, tamper).await.0, "critical");
    assert_eq!(
        level(&pool, battery).await,
        ("warning".into(), 1, Some(at(24 * 60)))
    );
    assert_eq!(esc(48 * 60).await, report(2, 0));
    assert_eq!(
        level(&pool, battery).await,
        ("critical".into(), 2, Some(at(48 * 60)))
    );
    // max_level 2 reached everywhere.
    assert_eq!(esc(100 * 24 * 60).await, report(0, 0));
    let steps: serde_json::Value =
        sqlx::query_scalar("select details->'escalations' from alarm where alarm_id = $1")
            .bind(battery)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        steps,
        json!([
            {"level": 1, "at": "2026-05-02T00:00:00+00:00", "reason": "unacknowledged",
             "from_severity": "info", "state": "open", "occurrences": 1},
            {"level": 2, "at": "2026-05-03T00:00:00+00:00", "reason": "unacknowledged",
             "from_severity": "warning", "state": "open", "occurrences": 1},
        ])
    );
    // Leak: 2 levels × (console, email, SMS); tamper and battery: 2 levels × console.
    let rows = escalated_rows(&pool).await;
    assert_eq!(rows.len(), 10);
    let severities: Vec<String> = sqlx::query_scalar(
        "select payload->>'severity' from notification_outbox
         where template = 'alarm_escalated' and channel = 'console' order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        severities,
        ["critical", "critical", "critical", "critical", "critical", "warning"]
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn acknowledged_assigned_and_closed_alarms_do_not_escalate_by_the_timer(pool: PgPool) {
    let mut ids = Vec::new();
    for (i, state) in ["open", "acknowledged", "assigned", "resolved", "cleared"]
        .into_iter()
        .enumerate()
    {
        let m = meter(&pool, &format!("A{i}"), None).await;
        let id = open(&pool, m, AlarmKind::Burst, at(0)).await;
        set_state(&pool, id, state).await;
        ids.push(id);
    }
    let cfg = EscalationConfig::default();
    let r = alarms::escalate(&pool, &cfg, at(30 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(r, report(1, 0));
    let levels: Vec<i16> =
        sqlx::query_scalar("select escalation_level from alarm order by alarm_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(levels, [1, 0, 0, 0, 0]);
    assert_eq!(escalated_rows(&pool).await.len(), 1);
    // Turned off: nothing.
    let off = EscalationConfig {
        enabled: false,
        ..EscalationConfig::default()
    };
    let r = alarms::escalate(&pool, &off, at(60 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(r, report(0, 0));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn repeats_escalate_even_acknowledged_alarms(pool: PgPool) {
    let m = meter(&pool, "R1", None).await;
    let mut cfg = EscalationConfig::default();
    cfg.kinds.insert(
        AlarmKind::Tamper,
        KindEscalation {
            unacknowledged_minutes: Some(0),
            recurring_occurrences: Some(3),
        },
    );
    let id = open(&pool, m, AlarmKind::Tamper, at(0)).await;
    set_state(&pool, id, "acknowledged").await;
    let esc = |minute: i64| {
        let (pool, cfg) = (pool.clone(), cfg.clone());
        async move { alarms::escalate(&pool, &cfg, at(minute)).await.unwrap() }
    };
    assert_eq!(esc(1).await, report(0, 0));
    open(&pool, m, AlarmKind::Tamper, at(2)).await;
    assert_eq!(esc(2).await, report(0, 0));
    open(&pool, m, AlarmKind::Tamper, at(3)).await;
    // Third occurrence: escalated, once.
    assert_eq!(esc(3).await, report(0, 1));
    assert_eq!(esc(4).await, report(0, 0));
    assert_eq!(level(&pool, id).await, ("critical".into(), 1, Some(at(3))));
    // Three more since that escalation for the next level.
    open(&pool, m, AlarmKind::Tamper, at(5)).await;
    open(&pool, m, AlarmKind::Tamper, at(6)).await;
    assert_eq!(esc(6).await, report(0, 0));
    open(&pool, m, AlarmKind::Tamper, at(7)).await;
    assert_eq!(esc(7).await, report(0, 1));
    for k in 8..20 {
        open(&pool, m, AlarmKind::Tamper, at(k)).await;
    }
    assert_eq!(esc(20).await, report(0, 0), "max_level reached");
    let (occurrences, escalated_occurrences, state): (i32, i32, String) = sqlx::query_as(
        "select occurrences, escalated_occurrences, state from alarm where alarm_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((occurrences, escalated_occurrences), (18, 6));
    assert_eq!(state, "acknowledged");
    let rows = escalated_rows(&pool).await;
    assert_eq!(
        rows,
        vec![
            (
                format!("alarm:{id}:escalated:1:console"),
                "console".into(),
                None,
                1,
                "recurring".into()
            ),
            (
                format!("alarm:{id}:escalated:2:console"),
                "console".into(),
                None,
                2,
                "recurring".into()
            ),
        ]
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn concurrent_escalation_passes_escalate_and_notify_once(pool: PgPool) {
    const N: i64 = 60;
    for i in 0..N {
        let m = meter(&pool, &format!("C{i}"), None).await;
        open(&pool, m, AlarmKind::Leak, at(0)).await;
    }
    let cfg = EscalationConfig::default();
    for round in 1..=2 {
        let now = at(60 * round);
        let (a, b, c) = tokio::join!(
            alarms::escalate(&pool, &cfg, now),
            alarms::escalate(&pool, &cfg, now),
            alarms::escalate(&pool, &cfg, now),
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(
            a.by_timer + b.by_timer + c.by_timer,
            N as u64,
            "round {round}"
        );
        // A sequential re-run finds nothing left.
        let again = alarms::escalate(&pool, &cfg, now).await.unwrap();
        assert_eq!(again, report(0, 0));
        let at_level: i64 =
            sqlx::query_scalar("select count(*) from alarm where escalation_level = $1")
                .bind(round as i16)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(at_level, N);
    }
    let (rows, keys): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct dedup_key) from notification_outbox
         where template = 'alarm_escalated'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((rows, keys), (2 * N, 2 * N));
}

// ---- night flow ----------------------------------------------------------------------------

/// Night `n` after the one ending 2026-05-02 04:00 CEST, `minutes` after its window start
/// (02:00 CEST = 00:00 UTC).
fn w(n: i64, minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).unwrap()
        + Duration::days(n)
        + Duration::minutes(minutes)
}

async fn district(pool: &PgPool, code: &str) -> i64 {
    sqlx::query_scalar("insert into district (code, name) values ($1, $1) returning district_id")
        .bind(code)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn district_meter(pool: &PgPool, serial: &str, role: &str, district_id: i64) -> i64 {
    sqlx::query_scalar(
        "insert into meter (serial, manufacturer, model, role, district_id)
         values ($1, 'APA', 'T', $2, $3) returning meter_id",
    )
    .bind(serial)
    .bind(role)
    .bind(district_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn inlet(pool: &PgPool, code: &str) -> (i64, i64) {
    let d = district(pool, code).await;
    let m = district_meter(pool, &format!("{code}-IN"), "bulk", d).await;
    sqlx::query("update district set inlet_meter_id = $2 where district_id = $1")
        .bind(d)
        .bind(m)
        .execute(pool)
        .await
        .unwrap();
    (d, m)
}

async fn put(pool: &PgPool, meter_id: i64, rows: &[(DateTime<Utc>, i64)]) {
    for (t, ml) in rows {
        sqlx::query(
            "insert into reading (meter_id, read_at, volume_ml, source) values ($1, $2, $3, 'mqtt')",
        )
        .bind(meter_id)
        .bind(t)
        .bind(ml)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn night(opened: u64, repeated: u64, cleared: u64) -> (u64, u64, u64) {
    (opened, repeated, cleared)
}

fn counts(r: &NightFlowReport) -> (u64, u64, u64) {
    (r.opened, r.repeated, r.cleared)
}

/// (state, occurrences, details) of the district's night_flow alarms, oldest first.
async fn district_alarms(pool: &PgPool, d: i64) -> Vec<(String, i32, serde_json::Value)> {
    sqlx::query_as(
        "select state, occurrences, details from alarm
         where district_id = $1 and meter_id is null and kind = 'night_flow' order by alarm_id",
    )
    .bind(d)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn night_flow_opens_on_the_leaking_district_repeats_and_clears(pool: PgPool) {
    // D1 leaks; its customers' registers need interpolation, one rolls over.
    let (d1, in1) = inlet(&pool, "D1").await;
    let c1 = district_meter(&pool, "D1-C1", "main", d1).await;
    let c2 = district_meter(&pool, "D1-C2", "main", d1).await;
    let c3 = district_meter(&pool, "D1-C3", "main", d1).await;
    sqlx::query("update meter set register_digits = 5 where meter_id = $1")
        .bind(c3)
        .execute(&pool)
        .await
        .unwrap();
    // Behind C1's premises (counted by C1 already), and a removed meter without readings.
    let garden = district_meter(&pool, "D1-G1", "sub", d1).await;
    let removed = district_meter(&pool, "D1-OLD", "main", d1).await;
    sqlx::query("update meter set status = 'removed' where meter_id = $1")
        .bind(removed)
        .execute(&pool)
        .await
        .unwrap();
    put(
        &pool,
        in1,
        &[
            (w(0, -30), 49_000_000),
            (w(0, 0), 50_000_000),
            (w(0, 60), 51_000_000),
            (w(0, 120), 53_800_001),
            (w(0, 150), 54_000_000),
        ],
    )
    .await;
    // Start: 1 000 000 + 600·20/60 = 1 000 200; end: 1 200 000 + 300·20/30 = 1 200 200.
    put(
        &pool,
        c1,
        &[
            (w(0, -20), 1_000_000),
            (w(0, 40), 1_000_600),
            (w(0, 100), 1_200_000),
            (w(0, 130), 1_200_300),
        ],
    )
    .await;
    // Start: 7 000 000 + 900·10/60 = 7 000 150; end: 7 300 000 + 302·10/60 = 7 300 050.33 → 050.
    put(
        &pool,
        c2,
        &[
            (w(0, -10), 7_000_000),
            (w(0, 50), 7_000_900),
            (w(0, 110), 7_300_000),
            (w(0, 170), 7_300_302),
        ],
    )
    .await;
    // 99 999.9 m³ → 0.1 m³ on a 5-digit register: 200 l.
    put(
        &pool,
        c3,
        &[(w(0, 0), 99_999_900_000), (w(0, 120), 100_000)],
    )
    .await;
    put(&pool, garden, &[(w(0, 0), 0), (w(0, 120), 5_000_000)]).await;
    // D2: 1 000 l lost in 2 h = 500 l/h, under the 1 000 l/h threshold.
    let (d2, in2) = inlet(&pool, "D2").await;
    let c4 = district_meter(&pool, "D2-C1", "main", d2).await;
    put(
        &pool,
        in2,
        &[(w(0, 0), 10_000_000), (w(0, 120), 11_500_000)],
    )
    .await;
    put(&pool, c4, &[(w(0, 0), 500_000), (w(0, 120), 1_000_000)]).await;
    // D3: a customer meter last heard hours before the night: not judged.
    let (d3, in3) = inlet(&pool, "D3").await;
    let c5 = district_meter(&pool, "D3-C1", "main", d3).await;
    put(&pool, in3, &[(w(0, 0), 0), (w(0, 120), 4_000_000)]).await;
    put(&pool, c5, &[(w(0, -200), 1_000)]).await;

    let cfg = NightFlowConfig::default();
    let eval = |now: DateTime<Utc>, cfg: NightFlowConfig| {
        let pool = pool.clone();
        async move { alarms::evaluate_night_flow(&pool, &cfg, now).await.unwrap() }
    };
    // Not before two hours (max_gap_minutes) after the window: the night before has no data.
    let early = eval(w(0, 239), cfg.clone()).await;
    assert_eq!((early.judged, early.opened), (0, 0));
    let r = eval(w(0, 240), cfg.clone()).await;
    assert_eq!(r.night, chrono::NaiveDate::from_ymd_opt(2026, 5, 2));
    assert_eq!((r.judged, r.unjudged), (2, 1));
    assert_eq!(counts(&r), night(1, 0, 0));
    let alarms1 = district_alarms(&pool, d1).await;
    assert_eq!(alarms1.len(), 1);
    let (state, occurrences, details) = &alarms1[0];
    assert_eq!((state.as_str(), *occurrences), ("open", 1));
    // 3 800 001 − (200 000 + 299 900 + 200 000) = 3 100 101 ml in 7 200 s = 1 550.05 l/h.
    assert_eq!(
        details,
        &json!({
            "rule": "night_flow", "night": "2026-05-02",
            "window_start": "2026-05-02T00:00:00+00:00", "window_end": "2026-05-02T02:00:00+00:00",
            "inlet_ml": 3_800_001, "customers_ml": 699_900, "night_ml": 3_100_101,
            "flow_l_per_h": "1550.1", "threshold_l_per_h": 1000,
            "customer_meters": 3, "uncovered_meters": 0,
        })
    );
    assert!(district_alarms(&pool, d2).await.is_empty());
    assert!(district_alarms(&pool, d3).await.is_empty());
    let (severity, opened_at, meter_id): (String, DateTime<Utc>, Option<i64>) =
        sqlx::query_as("select severity, opened_at, meter_id from alarm where district_id = $1")
            .bind(d1)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (severity.as_str(), opened_at, meter_id),
        ("warning", w(0, 120), None)
    );
    // The same night again: nothing.
    let r = eval(w(0, 600), cfg.clone()).await;
    assert_eq!(counts(&r), night(0, 0, 0));
    // With one uncovered meter allowed, D3 is judged on its inlet alone.
    let lenient = NightFlowConfig {
        max_uncovered_meters: 1,
        ..cfg.clone()
    };
    let r = eval(w(0, 600), lenient.clone()).await;
    assert_eq!((r.judged, r.unjudged, r.opened), (3, 0, 1));
    assert_eq!(district_alarms(&pool, d3).await[0].2["uncovered_meters"], 1);
    // Resolved by an operator, the same night does not open it again.
    sqlx::query("update alarm set state = 'resolved' where district_id = $1")
        .bind(d3)
        .execute(&pool)
        .await
        .unwrap();
    let r = eval(w(0, 601), lenient.clone()).await;
    assert_eq!((r.judged, counts(&r)), (3, night(0, 0, 0)));
    assert_eq!(district_alarms(&pool, d3).await.len(), 1);

    // Nights 1 and 2 leak as well (exact edge readings), night 3 is quiet, night 4 leaks.
    let nights = [(1, 3_000_000), (2, 2_500_000), (3, 100_000), (4, 2_400_000)];
    for (n, lost) in nights {
        let base = n * 10_000_000;
        put(
            &pool,
            c1,
            &[(w(n, 0), 2_000_000 + base), (w(n, 120), 2_100_000 + base)],
        )
        .await;
        put(
            &pool,
            c2,
            &[(w(n, 0), 8_000_000 + base), (w(n, 120), 8_050_000 + base)],
        )
        .await;
        put(
            &pool,
            c3,
            &[(w(n, 0), 200_000 + base), (w(n, 120), 250_000 + base)],
        )
        .await;
        put(
            &pool,
            in1,
            &[
                (w(n, 0), 60_000_000 + base),
                (w(n, 120), 60_000_000 + base + 200_000 + lost),
            ],
        )
        .await;
    }
    // The operator acknowledges; the alarm still counts the nights and clears.
    sqlx::query(
        "update alarm set state = 'acknowledged' where kind = 'night_flow' and state = 'open'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = eval(w(1, 240), cfg.clone()).await;
    assert_eq!(counts(&r), night(0, 1, 0));
    let r = eval(w(2, 240), cfg.clone()).await;
    assert_eq!(counts(&r), night(0, 1, 0));
    assert_eq!(district_alarms(&pool, d1).await[0].1, 3);
    assert_eq!(district_alarms(&pool, d1).await[0].2["night_ml"], 2_500_000);
    // Third night over the threshold: night_flow's built-in repeat escalation.
    let esc = alarms::escalate(&pool, &EscalationConfig::default(), w(2, 240))
        .await
        .unwrap();
    assert_eq!(esc, report(0, 1));
    let r = eval(w(3, 240), cfg.clone()).await;
    assert_eq!(counts(&r), night(0, 0, 1));
    let r = eval(w(4, 240), cfg.clone()).await;
    assert_eq!(counts(&r), night(1, 0, 0));
    let all = district_alarms(&pool, d1).await;
    assert_eq!(
        all.iter().map(|a| (a.0.as_str(), a.1)).collect::<Vec<_>>(),
        [("cleared", 3), ("open", 1)]
    );
    assert_eq!(all[0].2["cleared_by"]["night_ml"], 100_000);
    assert_eq!(all[0].2["cleared_by"]["flow_l_per_h"], "50.0");
    assert_eq!(all[0].2["escalations"][0]["reason"], "recurring");
    assert_eq!(all[1].2["night_ml"], 2_400_000);

    // The console heard every change of D1's and D3's alarms, customers none of them.
    let outbox: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "select channel, template, payload->>'district', dedup_key from notification_outbox
         order by notification_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "select alarm_id from alarm where kind = 'night_flow' order by alarm_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let row = |t: &str, d: &str, key: String| {
        (
            "console".to_string(),
            t.to_string(),
            Some(d.to_string()),
            key,
        )
    };
    assert_eq!(
        outbox,
        vec![
            row(
                "alarm_opened",
                "D1",
                format!("alarm:{}:opened:console", ids[0])
            ),
            row(
                "alarm_opened",
                "D3",
                format!("alarm:{}:opened:console", ids[1])
            ),
            row(
                "alarm_escalated",
                "D1",
                format!("alarm:{}:escalated:1:console", ids[0])
            ),
            row(
                "alarm_cleared",
                "D1",
                format!("alarm:{}:cleared:console", ids[0])
            ),
            row(
                "alarm_opened",
                "D1",
                format!("alarm:{}:opened:console", ids[2])
            ),
        ]
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn collect_runs_night_flow_and_escalation_periodically(pool: PgPool) {
    use ewoda_collector::config::CollectConfig;
    let now = Utc::now();
    // A leak alarm opened two hours ago is due for escalation.
    let m = meter(&pool, "P1", None).await;
    let leak = open(&pool, m, AlarmKind::Leak, now - Duration::hours(2)).await;
    // Last judgeable night: 10 m³ into the district, 1 m³ to its customer.
    let cfg = NightFlowConfig::default();
    let (start, end) = cfg.window(cfg.last_night(now));
    let (d, inlet_meter) = inlet(&pool, "P").await;
    let customer = district_meter(&pool, "P-C1", "main", d).await;
    put(&pool, inlet_meter, &[(start, 1_000_000), (end, 11_000_000)]).await;
    put(&pool, customer, &[(start, 0), (end, 1_000_000)]).await;

    let opts = pool.connect_options();
    let db_url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        opts.get_port(),
        opts.get_database().unwrap()
    );
    let collect_cfg = CollectConfig::parse(
        &format!("database_url = \"{db_url}\"\nmetrics_port = 0\n[rules]\ninterval_secs = 1\n"),
        "test",
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(ewoda_collector::collect::run(collect_cfg, async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let night_flow: i64 = sqlx::query_scalar(
            "select count(*) from alarm where district_id = $1 and kind = 'night_flow'",
        )
        .bind(d)
        .fetch_one(&pool)
        .await
        .unwrap();
        if night_flow == 1 && level(&pool, leak).await.1 == 1 {
            break;
        }
        assert!(!collector.is_finished(), "collector ended early");
        assert!(
            tokio::time::Instant::now() < deadline,
            "rules did not run: night_flow {night_flow}, leak {:?}",
            level(&pool, leak).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    collector.await.unwrap().unwrap();
    let night_ml: i64 = sqlx::query_scalar(
        "select (details->>'night_ml')::bigint from alarm where district_id = $1",
    )
    .bind(d)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(night_ml, 9_000_000);
}
