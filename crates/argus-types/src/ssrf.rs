//! Which addresses outbound webhooks and callbacks must never reach:
//! loopback, private, link-local (cloud metadata lives there), CGNAT,
//! multicast, reserved and documentation ranges, and IPv6 forms that embed
//! such an IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest URL accepted for a webhook or a job callback.
pub const MAX_URL_LEN: usize = 2048;

/// The rules a webhook or callback URL must pass when it is registered
/// (the sender vets the resolved addresses again at send time): absolute,
/// with a host, no credentials or fragment, `https`, and no literal
/// private, loopback or link-local address, nor `localhost`. With
/// `allow_private` (local work and tests) plain `http` and private
/// addresses pass. Returns the normalised URL, or why it is refused
/// (a phrase following "url").
pub fn validate_target_url(raw: &str, allow_private: bool) -> Result<String, &'static str> {
    if raw.len() > MAX_URL_LEN {
        return Err("is too long");
    }
    let Ok(url) = url::Url::parse(raw) else { return Err("is not an absolute URL") };
    if url.host_str().is_none() {
        return Err("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must use https"),
    }
    if !allow_private
        && let Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) = url.host()
        && let Some(ip) = url.host_str().and_then(|h| h.trim_matches(['[', ']']).parse().ok())
        && is_forbidden(ip)
    {
        return Err("points at a private, loopback or link-local address");
    }
    if !allow_private && matches!(url.host_str(), Some("localhost")) {
        return Err("points at localhost");
    }
    Ok(url.to_string())
}

pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    const RANGES: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network"
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // CGNAT
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, cloud metadata
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, broadcast
    ];
    RANGES.iter().any(|(net, prefix)| in_v4(ip, *net, *prefix))
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0064 && s[1] == 0xff9b && forbidden_v4(embedded_v4(s[6], s[7]))) // NAT64
        || (s[0] == 0x2002 && forbidden_v4(embedded_v4(s[1], s[2]))) // 6to4
        || (s[0..6] == [0, 0, 0, 0, 0, 0] && forbidden_v4(embedded_v4(s[6], s[7]))) // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_must_be_public_https() {
        assert_eq!(validate_target_url("https://hooks.example.com/x", false).unwrap(), "https://hooks.example.com/x");
        assert_eq!(validate_target_url("http://hooks.example.com/x", false), Err("must use https"));
        assert!(validate_target_url("https://127.0.0.1/x", false).is_err());
        assert!(validate_target_url("https://[::1]/x", false).is_err());
        assert!(validate_target_url("https://localhost/x", false).is_err());
        assert!(validate_target_url("https://u:p@example.com/x", false).is_err());
        assert!(validate_target_url("not a url", false).is_err());
        assert!(validate_target_url("http://127.0.0.1:9/x", true).is_ok());
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "ff02::1",
        ] {
            assert!(is_forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(!is_forbidden(good.parse().unwrap()), "{good}");
        }
    }
}
