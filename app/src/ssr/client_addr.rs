//! The client's address: the connection's peer, or, when that peer is a
//! proxy the operator trusts (`LATCHKEY_TRUSTED_PROXIES`), the right-most
//! address in `X-Forwarded-For` that is not a trusted proxy. Anything left
//! of that hop was written by the client and proves nothing.

use std::net::IpAddr;

/// The resolved address, put into each request's extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// An address range such as `10.0.0.0/8` or `fd00::/8`; a bare address is
/// a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{raw}` is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{raw}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { net, prefix })
    }

    /// Parses a comma-separated list; empty means none.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        raw.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.net), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as dual-stack sockets
/// report IPv4 peers) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    let prefix = prefix.min(width);
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(width - prefix);
    (bits >> shift) << shift
}

/// The client address of a request from `peer` with the given
/// `X-Forwarded-For` header values (in order).
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    for hop in hops.into_iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            // A malformed hop ends what can be believed: the last proxy we
            // trust is the best answer.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = Cidr::parse("10.0.0.0/8").expect("v4");
        assert!(net.contains(ip("10.1.2.3")) && !net.contains(ip("11.0.0.1")));
        assert!(
            net.contains(ip("::ffff:10.9.9.9")),
            "IPv4-mapped peers match"
        );
        let one = Cidr::parse("192.0.2.7").expect("single");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "fd00::/129", "ten", "10.0.0.0/x", "10.0.0/8"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Cidr::parse_list(" ").expect("empty"), vec![]);
        assert_eq!(Cidr::parse_list("10.0.0.0/8, ::1").expect("list").len(), 2);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = Cidr::parse_list("10.0.0.0/8").expect("list");
        let xff = |v: &'static str| std::iter::once(v);
        // No trusted proxy: the header is the client's own claim.
        assert_eq!(
            resolve(ip("203.0.113.9"), xff("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("203.0.113.9"), xff("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
        // Behind the proxy: the right-most untrusted hop, not the spoofable left.
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                xff("6.6.6.6, 198.51.100.4, 10.0.0.9"),
                &trusted
            ),
            ip("198.51.100.4")
        );
        // Several headers count as one list.
        let two = ["6.6.6.6", "198.51.100.4"];
        assert_eq!(
            resolve(ip("10.0.0.2"), two.into_iter(), &trusted),
            ip("198.51.100.4")
        );
        // Nothing forwarded, or garbage: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), std::iter::empty(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), xff("6.6.6.6, junk"), &trusted),
            ip("10.0.0.2")
        );
    }
}
