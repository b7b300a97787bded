//! MQTT helpers for tests: unique names, a QoS 1 publisher, session cleanup.

use ewoda_collector::mqtt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
use std::time::Duration;

/// The broker under test (`MQTT_URL`, default the local Mosquitto).
pub fn mqtt_url() -> String {
    std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

/// A name unique to this test run.
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// Publishes with QoS 1 and waits for every PUBACK.
pub async fn publish_all(msgs: &[(String, Vec<u8>)]) {
    let (host, port) = mqtt::parse_mqtt_url(&mqtt_url()).unwrap();
    super::brokers::publish_to(&host, port, None, msgs).await;
}

/// Drops the broker's persistent session of `client_id`.
pub async fn forget_session(client_id: &str) {
    let (host, port) = mqtt::parse_mqtt_url(&mqtt_url()).unwrap();
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_clean_session(true);
    let (client, mut events) = AsyncClient::new(opts, 10);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(Event::Incoming(Packet::ConnAck(_))) = events.poll().await {
                break;
            }
        }
    })
    .await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(300), events.poll()).await;
}
