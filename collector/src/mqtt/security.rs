//! Who the collector is to the broker and how the line is protected: the broker URL
//! (`mqtt://` or `mqtts://`), TLS with the system's or a configured CA and an optional client
//! certificate, a username with a password from the config or a file, and the rule that a
//! broker off this machine needs both (or an explicit `allow_insecure = true`): anyone who can
//! publish to the collector's topics writes register values that end up on invoices.

use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A password. It has no `Debug` or `Display`, so it cannot end up in a log line by accident;
/// [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: TLS from the first byte.
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses `mqtt://host[:1883]`, `tcp://host[:1883]` or `mqtts://host[:8883]`. Credentials
    /// in the URL are refused: URLs get logged, passwords must not.
    pub fn parse(url: &str) -> Result<BrokerUrl, Error> {
        let bad = |m: &str| Error::Config {
            field: "mqtt_url".into(),
            message: format!("{}: {m}", redact_url(url)),
        };
        let (rest, tls) = if let Some(r) = url.strip_prefix("mqtts://") {
            (r, true)
        } else if let Some(r) = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
        {
            (r, false)
        } else {
            return Err(bad("expected mqtt://host:port or mqtts://host:port"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('@') {
            return Err(bad(
                "credentials in the URL are not accepted (URLs are logged); set username and password_file of the mqtt source",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("invalid port"))?)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
        })
    }

    /// The broker runs on this machine (nothing crosses a network).
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// `url` with any `user:pass@` part replaced, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://…@{}", &url[..s], &url[a + 1..]),
        _ => url.to_string(),
    }
}

/// The security settings of an MQTT source (fields of `[[sources]] kind = "mqtt"`).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSecurity {
    /// User name sent in CONNECT.
    #[serde(default)]
    pub username: Option<String>,
    /// The password itself (prefer `password_file`, which keeps it out of the config).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file whose content (trailing newline removed) is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that sign the broker's certificate; the system's roots if unset.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for brokers that authenticate clients by certificate.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// Accept a broker off this machine without TLS or without credentials.
    #[serde(default)]
    pub allow_insecure: bool,
}

impl std::fmt::Debug for MqttSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSecurity")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("client_cert_file", &self.client_cert_file)
            .field("client_key_file", &self.client_key_file)
            .field("allow_insecure", &self.allow_insecure)
            .finish()
    }
}

/// What a connection needs, resolved and checked before the first connect.
#[derive(Clone)]
pub struct Resolved {
    pub url: BrokerUrl,
    pub credentials: Option<(String, Secret)>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

fn config_err(field: &str, message: impl Into<String>) -> Error {
    Error::Config {
        field: field.into(),
        message: message.into(),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

impl MqttSecurity {
    /// Checks the settings against `url` and loads passwords, CAs and client certificates.
    pub fn resolve(&self, url: &str) -> Result<Resolved, Error> {
        let url = BrokerUrl::parse(url)?;
        let credentials = self.credentials()?;
        if !url.tls
            && (self.ca_file.is_some()
                || self.client_cert_file.is_some()
                || self.client_key_file.is_some())
        {
            return Err(config_err(
                "ca_file",
                format!("TLS files are set but {url} is not mqtts://"),
            ));
        }
        if !url.is_loopback() && !self.allow_insecure && (!url.tls || credentials.is_none()) {
            let missing = match (url.tls, credentials.is_some()) {
                (false, false) => {
                    "neither TLS (mqtts://) nor credentials (username, password_file)"
                }
                (false, true) => {
                    "no TLS (use mqtts://): the password would cross the network in clear"
                }
                _ => "no credentials (username, password_file)",
            };
            return Err(config_err(
                "allow_insecure",
                format!(
                    "the broker {url} is not on this machine and the connection has {missing}; anyone on the network could publish register values. Secure it, or set allow_insecure = true"
                ),
            ));
        }
        let tls = if url.tls {
            Some(Arc::new(self.tls_config()?))
        } else {
            None
        };
        Ok(Resolved {
            url,
            credentials,
            tls,
        })
    }

    fn credentials(&self) -> Result<Option<(String, Secret)>, Error> {
        let password = match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(config_err(
                    "password_file",
                    "set either password or password_file, not both",
                ))
            }
            (Some(p), None) => Some(p.clone()),
            (None, Some(path)) => {
                let text = String::from_utf8(read_file(path)?).map_err(|_| {
                    config_err(
                        "password_file",
                        format!("{} is not UTF-8 text", path.display()),
                    )
                })?;
                Some(Secret::new(text.trim_end_matches(['\r', '\n'])))
            }
            (None, None) => None,
        };
        match (&self.username, password) {
            (Some(u), p) if !u.is_empty() => {
                Ok(Some((u.clone(), p.unwrap_or_else(|| Secret::new("")))))
            }
            (_, Some(_)) => Err(config_err("username", "a password needs a username")),
            _ => Ok(None),
        }
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = pem_certs(path)?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(config_err(
                        "ca_file",
                        format!("{} holds no usable CA certificate", path.display()),
                    ));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(config_err(
                        "ca_file",
                        "the system has no CA certificates (install ca-certificates) and no ca_file is set",
                    ));
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err("ca_file", e.to_string()))?
        .with_root_certificates(roots);
        match (&self.client_cert_file, &self.client_key_file) {
            (None, None) => Ok(builder.with_no_client_auth()),
            (Some(cert), Some(key)) => {
                let chain = pem_certs(cert)?;
                if chain.is_empty() {
                    return Err(config_err(
                        "client_cert_file",
                        format!("{} holds no PEM certificate", cert.display()),
                    ));
                }
                let bytes = read_file(key)?;
                let key_der = rustls_pemfile::private_key(&mut bytes.as_slice())
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        config_err(
                            "client_key_file",
                            format!("{} holds no PEM private key", key.display()),
                        )
                    })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| config_err("client_key_file", e.to_string()))
            }
            _ => Err(config_err(
                "client_cert_file",
                "client_cert_file and client_key_file go together",
            )),
        }
    }
}

fn pem_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    let bytes = read_file(path)?;
    rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err("ca_file", format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_default_ports() {
        let u = BrokerUrl::parse("mqtts://broker.example").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("broker.example", 8883, true)
        );
        let u = BrokerUrl::parse("mqtt://[::1]:1884").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.is_loopback()),
            ("::1", 1884, true)
        );
        assert!(BrokerUrl::parse("tcp://localhost").unwrap().is_loopback());
        let e = BrokerUrl::parse("mqtt://u:hunter2@h:1883")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("credentials in the URL") && !e.contains("hunter2"),
            "{e}"
        );
        assert!(BrokerUrl::parse("http://x").is_err());
    }

    #[test]
    fn a_remote_broker_needs_tls_and_credentials_or_an_explicit_opt_out() {
        let open = MqttSecurity::default();
        assert!(open.resolve("mqtt://127.0.0.1:1883").is_ok());
        let e = open.resolve("mqtt://10.1.2.3").err().unwrap().to_string();
        assert!(
            e.contains("neither TLS") && e.contains("allow_insecure"),
            "{e}"
        );
        let creds = MqttSecurity {
            username: Some("collector".into()),
            password: Some(Secret::new("hunter2")),
            ..MqttSecurity::default()
        };
        let e = creds
            .resolve("mqtt://broker.example")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no TLS") && !e.contains("hunter2"), "{e}");
        let insecure = MqttSecurity {
            allow_insecure: true,
            ..MqttSecurity::default()
        };
        assert!(insecure.resolve("mqtt://10.1.2.3").is_ok());
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
