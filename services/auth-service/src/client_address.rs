//! The client's address, for the per-address limits: the connection's peer,
//! unless the peer is one of the configured trusted proxies; then the
//! right-most `X-Forwarded-For` entry that is not a trusted proxy.
//!
//! Right to left, because only the entries appended by our own proxies can
//! be believed: everything to the left of them came from the client, which
//! can write anything there. `Forwarded` (RFC 7239) is never read: the
//! ingress does not set it, so any value is the client's own.
//!
//! Hand-written (no crate does just this): it is a few lines over std's
//! address parser, and fuzzed below.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client address of a request from `peer` carrying these
/// `X-Forwarded-For` header values (in order), given the trusted proxies.
pub fn client_address<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        // An entry that is not an address ends what can be believed: the
        // last believed hop is the client.
        let Some(ip) = parse_entry(entry) else { return client };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an IPv4 or IPv6 address, optionally with a
/// port (`1.2.3.4:80`, `[::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// Parses `ARGUS_TRUSTED_PROXIES`: comma-separated CIDRs or single
/// addresses.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    argus_types::env::comma_list(raw, |s| {
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("`{s}` is not a CIDR or an address"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        assert_eq!(client_address(ip("203.0.113.9"), ["1.1.1.1"], &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(ip("203.0.113.9"), [], &[]), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.168.1.7").unwrap();
        // The client wrote "1.1.1.1" itself; the ingress appended its peer.
        assert_eq!(client_address(ip("10.1.2.3"), ["1.1.1.1, 198.51.100.4"], &trusted), ip("198.51.100.4"));
        assert_eq!(
            client_address(ip("10.1.2.3"), ["1.1.1.1", "198.51.100.4, 192.168.1.7"], &trusted),
            ip("198.51.100.4")
        );
        assert_eq!(client_address(ip("10.1.2.3"), ["[2001:db8::1]:443"], &trusted), ip("2001:db8::1"));
        // Nothing forwarded, or only proxies: the left-most believed hop.
        assert_eq!(client_address(ip("10.1.2.3"), [], &trusted), ip("10.1.2.3"));
        assert_eq!(client_address(ip("10.1.2.3"), ["10.9.9.9"], &trusted), ip("10.9.9.9"));
        // Garbage ends the walk at the last believed hop.
        assert_eq!(client_address(ip("10.1.2.3"), ["1.1.1.1, nonsense"], &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn trusted_proxies_parse_cidrs_and_addresses_and_refuse_the_rest() {
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(parse_trusted_proxies("10.0.0.0/8,::1").unwrap().len(), 2);
        assert!(parse_trusted_proxies("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
    }

    proptest! {
        #[test]
        fn any_forwarded_header_yields_the_peer_or_an_address_it_names(
            header in ".{0,200}",
            peer_trusted in any::<bool>(),
        ) {
            let peer = if peer_trusted { ip("10.0.0.1") } else { ip("203.0.113.1") };
            let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
            let got = client_address(peer, [header.as_str()], &trusted);
            prop_assert!(got == peer || header.split(',').filter_map(parse_entry).any(|e| e == got));
        }

        #[test]
        fn any_proxy_list_parses_or_fails_without_panicking(raw in ".{0,100}") {
            let _ = parse_trusted_proxies(&raw);
        }
    }
}
