//! The MQTT source against a private Mosquitto that admits one user (password file made with
//! mosquitto_passwd) on a plain and a TLS listener (certificates made in the test): readings
//! flow over mqtts:// with the password from a file; a wrong password, no credentials and a
//! wrong CA each end the source at once with an error that says which, never the password.

use crate::common;
use crate::mqtt::{config, count, reading_msg, start_with, wait_for};

use common::broker::unique;
use common::brokers::{make_ca, make_client_cert, mosquitto_with_auth, publish_to};
use common::*;
use ewoda_collector::metrics::Metrics;
use ewoda_collector::mqtt::{self, MqttSecurity, MqttSourceConfig, Secret};
use ewoda_collector::pipeline::{self, WriterConfig};
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const USER: &str = "collector";
const PASSWORD: &str = "s3cret-Pa55";

/// Runs a source that must fail; returns its error text.
async fn failure(pool: &PgPool, cfg: MqttSourceConfig, url: String) -> String {
    let metrics = Arc::new(Metrics::default());
    let pipe = pipeline::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    let (_stop, rx) = watch::channel(false);
    let run = mqtt::run(url, cfg, pipe.sender(), metrics, rx, Duration::from_secs(1));
    let e = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the source must give up, not reconnect forever")
        .expect_err("the broker must refuse");
    pipe.finish().await;
    e.to_string()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn readings_flow_over_tls_with_a_password_file_and_refusals_are_named(pool: PgPool) {
    meter(&pool, "S1", None).await;
    let (broker, certs) = mosquitto_with_auth(USER, PASSWORD);
    let password_file = broker.dir.join("collector.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let tls_url = format!("mqtts://localhost:{}", broker.tls_port);
    let secure = MqttSecurity {
        username: Some(USER.into()),
        password_file: Some(password_file.clone()),
        ca_file: Some(certs.ca.clone()),
        ..MqttSecurity::default()
    };
    let prefix = unique("t-tls");
    let mut cfg = config(&prefix, &unique("c-tls"), &unique("g"));
    cfg.security = secure.clone();

    let c = start_with(&pool, cfg.clone(), tls_url.clone());
    c.subscribed().await;
    let msgs: Vec<_> = (0..20)
        .map(|k| reading_msg(&prefix, "S1", k, 1_000 * k))
        .collect();
    publish_to("127.0.0.1", broker.port, Some((USER, PASSWORD)), &msgs).await;
    wait_for("readings over TLS", || async {
        count(&pool, "select count(*) from reading").await == 20
    })
    .await;
    assert_eq!(c.metrics.mqtt_acked.load(Ordering::SeqCst), 20);
    c.shutdown().await;

    // A wrong password: refused by name, the password itself nowhere in the message.
    let mut wrong = cfg.clone();
    wrong.client_id = unique("c-wrong");
    wrong.security.password_file = None;
    wrong.security.password = Some(Secret::new("not-the-password"));
    let e = failure(&pool, wrong, tls_url.clone()).await;
    assert!(
        e.contains(&format!("refused user \"{USER}\"")) && e.contains("check security.username"),
        "{e}"
    );
    assert!(
        !e.contains("not-the-password") && !e.contains(PASSWORD),
        "{e}"
    );

    // No credentials on the plain listener.
    let mut anonymous = cfg.clone();
    anonymous.client_id = unique("c-anon");
    anonymous.security = MqttSecurity::default();
    let e = failure(
        &pool,
        anonymous,
        format!("mqtt://127.0.0.1:{}", broker.port),
    )
    .await;
    assert!(e.contains("refused an anonymous connection"), "{e}");

    // A CA that did not sign the broker's certificate.
    let (other_ca, _) = make_ca(&broker.dir, "other-ca");
    let mut wrong_ca = cfg.clone();
    wrong_ca.client_id = unique("c-ca");
    wrong_ca.security.ca_file = Some(other_ca);
    let e = failure(&pool, wrong_ca, tls_url.clone()).await;
    assert!(
        e.contains(&format!("TLS with {tls_url} failed")) && e.contains("UnknownIssuer"),
        "{e}"
    );
    assert!(e.contains("ca_file"), "{e}");

    // The settings' Debug form, as a log line would show them, carries no password.
    let mut inline = secure;
    inline.password_file = None;
    inline.password = Some(Secret::new(PASSWORD));
    assert!(!format!("{inline:?}").contains(PASSWORD));
    assert!(!format!(
        "{:?}",
        MqttSourceConfig {
            security: inline,
            ..cfg
        }
    )
    .contains(PASSWORD));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_listener_that_requires_a_client_certificate_admits_the_right_one_only(pool: PgPool) {
    meter(&pool, "S1", None).await;
    let (broker, certs) = mosquitto_with_auth(USER, PASSWORD);
    let (client_cert, client_key) =
        make_client_cert(&broker.dir, &certs.ca, &certs.ca_key, "collector-client");
    let mtls_url = format!("mqtts://localhost:{}", broker.mtls_port);
    let prefix = unique("t-mtls");
    let mut cfg = config(&prefix, &unique("c-mtls"), &unique("g"));
    cfg.security = MqttSecurity {
        username: Some(USER.into()),
        password: Some(Secret::new(PASSWORD)),
        ca_file: Some(certs.ca.clone()),
        client_cert_file: Some(client_cert.clone()),
        client_key_file: Some(client_key.clone()),
        ..MqttSecurity::default()
    };

    // With the certificate: readings flow.
    let c = start_with(&pool, cfg.clone(), mtls_url.clone());
    c.subscribed().await;
    let msgs: Vec<_> = (0..10)
        .map(|k| reading_msg(&prefix, "S1", k, 1_000 * k))
        .collect();
    publish_to("127.0.0.1", broker.port, Some((USER, PASSWORD)), &msgs).await;
    wait_for("readings over mutual TLS", || async {
        count(&pool, "select count(*) from reading").await == 10
    })
    .await;
    c.shutdown().await;

    // Without one the listener lets nothing through: no message reaches the source, which
    // ends with an error that names the missing certificate (TLS 1.3 refuses it after the
    // handshake, with an alert that arrives as the first read's error).
    let prefix = unique("t-nocert");
    let mut without = config(&prefix, &unique("c-nocert"), &unique("g"));
    without.security = MqttSecurity {
        client_cert_file: None,
        client_key_file: None,
        ..cfg.security.clone()
    };
    let c = start_with(&pool, without, mtls_url.clone());
    let msgs: Vec<_> = (0..5)
        .map(|k| reading_msg(&prefix, "S1", 100 + k, 1_000 * (100 + k)))
        .collect();
    publish_to("127.0.0.1", broker.port, Some((USER, PASSWORD)), &msgs).await;
    let ended = tokio::time::timeout(Duration::from_secs(60), c.source)
        .await
        .expect("the source ends")
        .unwrap();
    let why = ended.expect_err("an error, not a clean end").to_string();
    assert!(why.contains("client certificate"), "{why}");
    assert_eq!(c.metrics.mqtt_received.load(Ordering::SeqCst), 0);
    assert_eq!(count(&pool, "select count(*) from reading").await, 10);
    c.pipeline.finish().await;
}
