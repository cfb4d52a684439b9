//! Outbound HTTP to identity providers, with the SSRF guard: every URL an
//! admin enters or a discovery document names is resolved first, refused if
//! any address is in an IANA special-purpose range (loopback, private,
//! link-local, CGNAT, benchmarking, documentation, multicast, reserved, and
//! IPv6 forms that carry such an IPv4 address), and the connection is
//! pinned to the checked address (so a second DNS answer cannot point it
//! elsewhere). No proxy from the environment, no redirects followed, bodies
//! capped, everything with a timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub const MAX_BODY: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// How strict the guard is. `allow_private` is `LATCHKEY_ALLOW_PRIVATE_IDP`.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub allow_private: bool,
}

/// Why a fetch failed, in words fit for an admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{0} is not a valid URL.")]
    BadUrl(String),
    #[error("{0} must use https.")]
    NotHttps(String),
    /// The address goes to the logs only: telling an admin which internal
    /// address a name resolves to would turn the guard into a scanner.
    #[error(
        "{url} resolves to a private, local or reserved address, which Latchkey does not contact."
    )]
    Forbidden { url: String },
    #[error("The host of {0} could not be resolved.")]
    Unresolvable(String),
    #[error("{0} did not answer within 10 seconds.")]
    Timeout(String),
    #[error("{url} could not be reached ({why}).")]
    Unreachable { url: String, why: String },
    #[error("{url} answered with a redirect to {location}; enter the final URL instead.")]
    Redirect { url: String, location: String },
    #[error("{url} answered with HTTP {status}.")]
    Status { url: String, status: u16 },
    #[error("{0} sent more than 1 MiB.")]
    TooLarge(String),
}

/// True for addresses an admin-supplied URL must never reach.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96): the IPv4
    // address decides. (`::` and `::1` land here as 0.0.0.0 and 0.0.0.1.)
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries its IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2]));
    }
    // Teredo (2001::/32): the server's IPv4 address, and the client's,
    // stored inverted in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        return forbidden_v4(embedded(s[2], s[3])) || forbidden_v4(embedded(!s[6], !s[7]));
    }
    v6.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0; 3]) // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation 2001:db8::/32
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments 2001::/23
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || o[0] == 0 // "this network" 0/8
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0/24
        || (o[0] == 192 && o[1] == 0 && o[2] == 2) // TEST-NET-1
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || (o[0] == 198 && o[1] == 51 && o[2] == 100) // TEST-NET-2
        || (o[0] == 203 && o[1] == 0 && o[2] == 113) // TEST-NET-3
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast (deprecated)
        || o[0] >= 240 // reserved 240/4
}

/// Checks `raw` and returns the parsed URL with the address to pin.
pub async fn check_url(guard: Guard, raw: &str) -> Result<(url::Url, SocketAddr), FetchError> {
    let url = url::Url::parse(raw).map_err(|_| FetchError::BadUrl(raw.to_owned()))?;
    match url.scheme() {
        "https" => {}
        "http" if guard.allow_private => {}
        _ => return Err(FetchError::NotHttps(raw.to_owned())),
    }
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::BadUrl(raw.to_owned()))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        TIMEOUT,
        tokio::net::lookup_host((lookup_host.as_str(), port)),
    )
    .await
    .map_err(|_| FetchError::Timeout(raw.to_owned()))?
    .map_err(|_| FetchError::Unresolvable(raw.to_owned()))?
    .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| FetchError::Unresolvable(raw.to_owned()))?;
    if !guard.allow_private
        && let Some(bad) = addrs.iter().find(|a| is_forbidden_ip(a.ip()))
    {
        tracing::warn!(url = raw, ip = %bad.ip(), "SSRF guard refused an address");
        return Err(FetchError::Forbidden {
            url: raw.to_owned(),
        });
    }
    Ok((url, first))
}

/// One client (and so one pool of kept-alive connections) per host and
/// checked address: a sign-in's token, key and userinfo calls to an IdP
/// reuse a connection instead of a new TCP and TLS handshake each. The
/// address is part of the key, so a pooled connection is always to an
/// address the guard passed for this host.
type ClientKey = (String, SocketAddr);

/// Past this many distinct hosts the map starts again (an admin typing
/// many discovery URLs must not grow it without bound).
const MAX_CLIENTS: usize = 256;

fn clients() -> &'static std::sync::Mutex<std::collections::HashMap<ClientKey, reqwest::Client>> {
    static CLIENTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<ClientKey, reqwest::Client>>,
    > = std::sync::OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

fn client_for(raw: &str, url: &url::Url, addr: SocketAddr) -> Result<reqwest::Client, FetchError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let key = (host.clone(), addr);
    if let Some(client) = clients().lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would connect to its own idea of
        // the host, bypassing the pinned, checked address.
        .no_proxy()
        .timeout(TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(60))
        .resolve(&host, addr)
        .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Unreachable {
            url: raw.to_owned(),
            why: e.to_string(),
        })?;
    if let Ok(mut map) = clients().lock() {
        if map.len() >= MAX_CLIENTS {
            map.clear();
        }
        map.insert(key, client.clone());
    }
    Ok(client)
}

fn request_error(raw: &str, e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout(raw.to_owned())
    } else {
        FetchError::Unreachable {
            url: raw.to_owned(),
            why: without_url(e),
        }
    }
}

/// Reads at most [`MAX_BODY`] bytes.
async fn read_body(raw: &str, res: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(FetchError::TooLarge(raw.to_owned()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(request_error(raw, &e)),
        }
    }
}

/// GETs `raw` through the guard and returns the body (at most 1 MiB).
pub async fn get(guard: Guard, raw: &str) -> Result<Vec<u8>, FetchError> {
    let (url, addr) = check_url(guard, raw).await?;
    get_at(raw, url, addr).await
}

/// GETs `url` from `addr`, the address the guard checked, whatever the
/// host's name resolves to by now.
async fn get_at(raw: &str, url: url::Url, addr: SocketAddr) -> Result<Vec<u8>, FetchError> {
    let client = client_for(raw, &url, addr)?;
    let mut res = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| request_error(raw, &e))?;
    let status = res.status();
    if status.is_redirection() {
        let location = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("another address")
            .to_owned();
        return Err(FetchError::Redirect {
            url: raw.to_owned(),
            location,
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: raw.to_owned(),
            status: status.as_u16(),
        });
    }
    read_body(raw, &mut res).await
}

/// Sends a back-channel request of the sign-in flow (discovery, JWKS,
/// token, userinfo) through the guard and hands back the raw response,
/// whatever its status; redirects are returned, never followed.
pub async fn send(
    guard: Guard,
    req: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, FetchError> {
    let raw = req.uri().to_string();
    let (url, addr) = check_url(guard, &raw).await?;
    let client = client_for(&raw, &url, addr)?;
    let (parts, body) = req.into_parts();
    let mut res = client
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| request_error(&raw, &e))?;
    let mut out = http::Response::builder().status(res.status());
    for (name, value) in res.headers() {
        out = out.header(name, value);
    }
    let body = read_body(&raw, &mut res).await?;
    out.body(body).map_err(|e| FetchError::Unreachable {
        url: raw.clone(),
        why: e.to_string(),
    })
}

/// reqwest's message without the URL we already name.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url") {
        e.truncate(i);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            // Special-purpose IPv4 ranges.
            "192.0.0.8",
            "192.0.2.10",
            "198.18.0.1",
            "198.19.255.254",
            "198.51.100.7",
            "203.0.113.5",
            // IPv6 forms that embed a forbidden IPv4 address.
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo client 10.0.0.1
            // Other special-purpose IPv6 ranges.
            "64:ff9b:1::1",
            "fec0::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(
                is_forbidden_ip(bad.parse().expect("ip")),
                "{bad} must be refused"
            );
        }
        for ok in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:2800:220:1::248",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "198.20.0.1",
        ] {
            assert!(!is_forbidden_ip(ok.parse().expect("ip")), "{ok} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_before_any_request() {
        let strict = Guard {
            allow_private: false,
        };
        assert!(matches!(
            check_url(strict, "http://idp.example.com/").await,
            Err(FetchError::NotHttps(_))
        ));
        assert!(matches!(
            check_url(strict, "not a url").await,
            Err(FetchError::BadUrl(_))
        ));
        assert!(matches!(
            check_url(strict, "ftp://idp.example.com/").await,
            Err(FetchError::NotHttps(_))
        ));
        assert!(matches!(
            check_url(strict, "https://127.0.0.1/").await,
            Err(FetchError::Forbidden { .. })
        ));
        assert!(matches!(
            check_url(strict, "https://[::1]:8443/").await,
            Err(FetchError::Forbidden { .. })
        ));
        assert!(matches!(
            check_url(strict, "https://localhost/").await,
            Err(FetchError::Forbidden { .. })
        ));
        assert!(matches!(
            check_url(strict, "https://169.254.169.254/latest").await,
            Err(FetchError::Forbidden { .. })
        ));
        // The message names the URL, never the address it resolved to.
        let e = check_url(strict, "https://localhost:8443/x")
            .await
            .expect_err("loopback");
        assert!(
            !e.to_string().contains("127.0.0.1") && !e.to_string().contains("::1"),
            "{e}"
        );
        let relaxed = Guard {
            allow_private: true,
        };
        let (url, addr) = check_url(relaxed, "http://127.0.0.1:9/x")
            .await
            .expect("allowed in development");
        assert_eq!(url.path(), "/x");
        assert_eq!(addr.port(), 9);
    }

    /// Two fetches from one IdP share one kept-alive connection.
    #[tokio::test]
    async fn fetches_from_one_host_reuse_a_connection() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        let raw = format!("http://pooled.invalid:{}/jwks", addr.port());
        for _ in 0..3 {
            let url = url::Url::parse(&raw).expect("url");
            assert_eq!(get_at(&raw, url, addr).await.expect("fetched"), b"ok");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for three fetches"
        );
    }

    /// Resolve, check, then connect to what was checked: a name that no
    /// longer resolves (or now resolves elsewhere, as in DNS rebinding) is
    /// never looked up again.
    #[tokio::test]
    async fn connections_go_to_the_checked_address() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0; 4096];
            let n = socket.read(&mut request).await.expect("read");
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\npinned!",
                )
                .await
                .expect("write");
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        // `.invalid` never resolves (RFC 6761): only the pin can reach it.
        let raw = format!("http://rebound.invalid:{}/jwks", addr.port());
        let url = url::Url::parse(&raw).expect("url");
        let body = get_at(&raw, url, addr).await.expect("fetched");
        assert_eq!(body, b"pinned!");
        let request = server.await.expect("server");
        assert!(
            request
                .to_ascii_lowercase()
                .contains(&format!("host: rebound.invalid:{}", addr.port())),
            "{request}"
        );
        // Without the pin the same name goes nowhere.
        assert!(matches!(
            check_url(
                Guard {
                    allow_private: true
                },
                &raw
            )
            .await,
            Err(FetchError::Unresolvable(_))
        ));
    }
}
