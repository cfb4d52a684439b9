//! Typed configuration from flags and `LATCHKEY_*` environment variables,
//! validated once at start. Every error names the variable at fault.

use clap::Args;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Raw values as given on the command line or in the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Database URL: `sqlite://path` (default `sqlite://<data dir>/latchkey.db`) or `postgres://…`.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Address to listen on (default 127.0.0.1:3000).
    #[arg(long, env = "LATCHKEY_BIND", global = true)]
    pub bind: Option<String>,
    /// Base of every URL shown to admins and identity providers (default http://<bind>).
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Root secret (32+ bytes) for cookie signing and secrets at rest.
    #[arg(
        long,
        env = "LATCHKEY_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Comma-separated `ip:port` DNS servers for domain verification.
    #[arg(long, env = "LATCHKEY_DNS_SERVERS", global = true)]
    pub dns_servers: Option<String>,
    /// `true` allows IdP URLs on loopback/private addresses and plain http (development only).
    #[arg(long, env = "LATCHKEY_ALLOW_PRIVATE_IDP", global = true)]
    pub allow_private_idp: Option<String>,
    /// Seconds a domain TXT lookup may take (default 5).
    #[arg(long, env = "LATCHKEY_DNS_TIMEOUT_SECS", global = true)]
    pub dns_timeout_secs: Option<String>,
    /// Hours a pending domain is re-checked before it expires (default 168).
    #[arg(long, env = "LATCHKEY_DOMAIN_PENDING_HOURS", global = true)]
    pub domain_pending_hours: Option<String>,
    /// Seconds between background re-checks of pending domains (default 600, with jitter).
    #[arg(long, env = "LATCHKEY_DOMAIN_RECHECK_SECS", global = true)]
    pub domain_recheck_secs: Option<String>,
    /// Seconds Latchkey keeps answering after SIGTERM, with health and
    /// readiness saying `draining`, before it stops accepting (default 5).
    #[arg(long, env = "LATCHKEY_DRAIN_SECS", global = true)]
    pub drain_secs: Option<String>,
    /// SMTP server for invitation emails, e.g. `smtp://user:pass@mail.example.com:587?tls=required`.
    #[arg(long, env = "LATCHKEY_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of those emails (default `Latchkey <no-reply@<public host>>`).
    #[arg(long, env = "LATCHKEY_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// Comma-separated CIDR ranges of reverse proxies whose `X-Forwarded-For` is believed (default none).
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Directory for the embedded database and the generated key (default ./data).
    #[arg(long, env = "LATCHKEY_DATA_DIR", global = true)]
    pub data_dir: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Without trailing slash.
    pub public_url: String,
    pub secret_key: Option<String>,
    pub dns_servers: Vec<SocketAddr>,
    pub allow_private_idp: bool,
    pub data_dir: PathBuf,
    /// `(url, from)` when SMTP is configured.
    pub smtp: Option<(String, String)>,
    pub dns_timeout_secs: u64,
    pub domain_pending_hours: u64,
    pub domain_recheck_secs: u64,
    pub drain_secs: u64,
    pub trusted_proxies: Vec<app::ssr::client_addr::Cidr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Config {
    pub fn from_args(args: &ConfigArgs) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(non_empty(&args.data_dir).unwrap_or("./data"));

        let bind = match non_empty(&args.bind) {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(raw) => raw.parse().map_err(|_| {
                err(
                    "LATCHKEY_BIND",
                    format!("`{raw}` is not an ip:port address such as 127.0.0.1:3000"),
                )
            })?,
        };

        let public_url = match non_empty(&args.public_url) {
            None => format!("http://{bind}"),
            Some(raw) => parse_public_url(raw)?,
        };

        let database_url = match non_empty(&args.database_url) {
            None => format!("sqlite://{}", data_dir.join("latchkey.db").display()),
            Some(raw) => {
                if app::ssr::db::Backend::of_url(raw).is_none() {
                    return Err(err(
                        "LATCHKEY_DATABASE_URL",
                        "must start with sqlite:// or postgres://",
                    ));
                }
                raw.to_owned()
            }
        };

        let secret_key = match non_empty(&args.secret_key) {
            None => None,
            Some(raw) if raw.len() < app::ssr::crypto::MIN_SECRET_LEN => {
                return Err(err(
                    "LATCHKEY_SECRET_KEY",
                    format!(
                        "must be at least {} bytes long (try `openssl rand -base64 48`)",
                        app::ssr::crypto::MIN_SECRET_LEN
                    ),
                ));
            }
            Some(raw) => Some(raw.to_owned()),
        };

        let dns_servers = match non_empty(&args.dns_servers) {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<SocketAddr>().map_err(|_| {
                        err(
                            "LATCHKEY_DNS_SERVERS",
                            format!("`{s}` is not an ip:port address such as 127.0.0.1:53"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };

        let allow_private_idp = match non_empty(&args.allow_private_idp) {
            None => false,
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    return Err(err(
                        "LATCHKEY_ALLOW_PRIVATE_IDP",
                        format!("`{raw}` is not a boolean; use true or false"),
                    ));
                }
            },
        };

        let smtp = match non_empty(&args.smtp_url) {
            None => None,
            Some(url) => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(err(
                        "LATCHKEY_SMTP_URL",
                        "must start with smtp:// or smtps://",
                    ));
                }
                let host = url::Url::parse(&public_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".into());
                let from = non_empty(&args.smtp_from)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("Latchkey <no-reply@{host}>"));
                app::ssr::mail::Mailer::new(url, &from).map_err(|e| {
                    let var = if e.contains("sender") {
                        "LATCHKEY_SMTP_FROM"
                    } else {
                        "LATCHKEY_SMTP_URL"
                    };
                    err(var, e)
                })?;
                Some((url.to_owned(), from))
            }
        };

        let number = |var: &'static str,
                      raw: &Option<String>,
                      default: u64,
                      range: std::ops::RangeInclusive<u64>| {
            match non_empty(raw) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        err(
                            var,
                            format!(
                                "`{v}` is not a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        )
                    }),
            }
        };
        let dns_timeout_secs = number(
            "LATCHKEY_DNS_TIMEOUT_SECS",
            &args.dns_timeout_secs,
            5,
            1..=60,
        )?;
        let domain_pending_hours = number(
            "LATCHKEY_DOMAIN_PENDING_HOURS",
            &args.domain_pending_hours,
            168,
            1..=24 * 90,
        )?;
        let domain_recheck_secs = number(
            "LATCHKEY_DOMAIN_RECHECK_SECS",
            &args.domain_recheck_secs,
            600,
            10..=86_400,
        )?;
        let drain_secs = number("LATCHKEY_DRAIN_SECS", &args.drain_secs, 5, 0..=300)?;
        let trusted_proxies =
            app::ssr::client_addr::Cidr::parse_list(non_empty(&args.trusted_proxies).unwrap_or(""))
                .map_err(|e| err("LATCHKEY_TRUSTED_PROXIES", e))?;

        Ok(Self {
            trusted_proxies,
            dns_timeout_secs,
            domain_pending_hours,
            domain_recheck_secs,
            drain_secs,
            smtp,
            database_url,
            bind,
            public_url,
            secret_key,
            dns_servers,
            allow_private_idp,
            data_dir,
        })
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| err("LATCHKEY_PUBLIC_URL", format!("`{raw}` {why}"));
    let url =
        url::Url::parse(raw).map_err(|_| bad("is not a URL such as https://sso.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if url.host_str().is_none() {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("must not carry credentials, a query or a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConfigArgs {
        ConfigArgs::default()
    }

    #[test]
    fn trusted_proxies_are_cidr_ranges() {
        let c = Config::from_args(&ConfigArgs {
            trusted_proxies: Some("10.0.0.0/8, ::1".into()),
            ..args()
        })
        .expect("valid ranges");
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(
            Config::from_args(&args())
                .expect("default")
                .trusted_proxies
                .is_empty()
        );
        let e = Config::from_args(&ConfigArgs {
            trusted_proxies: Some("10.0.0.0/40".into()),
            ..args()
        })
        .expect_err("prefix too long");
        assert_eq!(e.variable, "LATCHKEY_TRUSTED_PROXIES");
    }

    #[test]
    fn defaults_fit_a_local_run() {
        let c = Config::from_args(&args()).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://./data/latchkey.db");
        assert!(!c.allow_private_idp);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn parses_every_variable() {
        let c = Config::from_args(&ConfigArgs {
            database_url: Some("postgres://u@db/latchkey".into()),
            bind: Some("0.0.0.0:8080".into()),
            public_url: Some("https://sso.example.com/".into()),
            secret_key: Some("k".repeat(40)),
            dns_servers: Some("127.0.0.1:5353, [::1]:53".into()),
            allow_private_idp: Some("TRUE".into()),
            data_dir: Some("/var/lib/latchkey".into()),
            smtp_url: Some("smtp://127.0.0.1:2525".into()),
            smtp_from: None,
            trusted_proxies: Some("192.0.2.0/24".into()),
            dns_timeout_secs: Some("2".into()),
            domain_pending_hours: Some("24".into()),
            domain_recheck_secs: Some("60".into()),
            drain_secs: Some("0".into()),
        })
        .expect("valid");
        assert_eq!(c.drain_secs, 0);
        assert_eq!(c.public_url, "https://sso.example.com");
        assert!(c.secure_cookies());
        assert_eq!(c.dns_servers.len(), 2);
        assert!(c.allow_private_idp);
        assert_eq!(
            c.smtp.map(|s| s.1).as_deref(),
            Some("Latchkey <no-reply@sso.example.com>")
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: Vec<(ConfigArgs, &str)> = vec![
            (
                ConfigArgs {
                    bind: Some("localhost".into()),
                    ..args()
                },
                "LATCHKEY_BIND",
            ),
            (
                ConfigArgs {
                    public_url: Some("ftp://x".into()),
                    ..args()
                },
                "LATCHKEY_PUBLIC_URL",
            ),
            (
                ConfigArgs {
                    public_url: Some("not a url".into()),
                    ..args()
                },
                "LATCHKEY_PUBLIC_URL",
            ),
            (
                ConfigArgs {
                    database_url: Some("mysql://x".into()),
                    ..args()
                },
                "LATCHKEY_DATABASE_URL",
            ),
            (
                ConfigArgs {
                    secret_key: Some("short".into()),
                    ..args()
                },
                "LATCHKEY_SECRET_KEY",
            ),
            (
                ConfigArgs {
                    dns_servers: Some("8.8.8.8".into()),
                    ..args()
                },
                "LATCHKEY_DNS_SERVERS",
            ),
            (
                ConfigArgs {
                    allow_private_idp: Some("maybe".into()),
                    ..args()
                },
                "LATCHKEY_ALLOW_PRIVATE_IDP",
            ),
        ];
        for (a, var) in cases {
            let e = Config::from_args(&a).expect_err(var);
            assert_eq!(e.variable, var);
            assert!(e.to_string().starts_with(var));
        }
    }
}
