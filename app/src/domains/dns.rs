//! TXT lookups for domain verification, through hickory-resolver. A fresh,
//! cache-less resolver per check: a record published a second ago counts.

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use std::net::SocketAddr;
use std::time::Duration;

/// Where and how long to look.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Empty: the system resolver (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
}

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// Every TXT record at the name, each with its strings joined.
    Records(Vec<String>),
    NoRecords,
    TimedOut,
    Failed(String),
}

fn resolver(settings: &DnsSettings) -> Result<TokioResolver, String> {
    let mut opts = ResolverOpts::default();
    opts.timeout = settings.timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    let builder = if settings.servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| e.to_string())?
    } else {
        let servers = settings
            .servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    builder
        .with_options(opts)
        .build()
        .map_err(|e| e.to_string())
}

pub async fn lookup_txt(settings: &DnsSettings, name: &str) -> TxtAnswer {
    let resolver = match resolver(settings) {
        Ok(r) => r,
        Err(e) => return TxtAnswer::Failed(e),
    };
    // The resolver's own timeout covers each attempt; this bounds the whole.
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let lookup = tokio::time::timeout(
        settings.timeout + Duration::from_secs(1),
        resolver.txt_lookup(fqdn),
    )
    .await;
    match lookup {
        Err(_) => TxtAnswer::TimedOut,
        Ok(Ok(found)) => {
            let records: Vec<String> = found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect();
            if records.is_empty() {
                TxtAnswer::NoRecords
            } else {
                TxtAnswer::Records(records)
            }
        }
        Ok(Err(e)) if e.is_no_records_found() => TxtAnswer::NoRecords,
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.to_lowercase().contains("timed out") || text.to_lowercase().contains("timeout")
            {
                TxtAnswer::TimedOut
            } else {
                TxtAnswer::Failed(text)
            }
        }
    }
}
