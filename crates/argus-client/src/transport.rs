//! What the SDK sends over the network: `https`, or plain `http` to this
//! machine only, where nothing on a network can read or change it (a local
//! stack, a test).

use crate::error::{Error, Result};

/// Refuses `url` (`what`, for the message) unless it is `https`, or `http`
/// to `localhost`, `127.0.0.0/8` or `[::1]`; `risk` says why plain http
/// elsewhere is refused.
pub(crate) fn require_private_http(url: &str, what: &str, risk: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Config(format!("{what} `{url}`: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(Error::Config(format!("{what} `{url}`: {risk}; use https (http only to this machine)"))),
        _ => Err(Error::Config(format!("{what} `{url}` is not https"))),
    }
}

/// Whether `url` names this machine (where plain http cannot be
/// intercepted on a network).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::ArgusClient;

    fn built(url: &str) -> crate::Result<ArgusClient> {
        ArgusClient::builder().api_url(url).build()
    }

    #[test]
    fn plain_http_reaches_this_machine_only() {
        for url in ["https://api.knogin.com", "http://127.0.0.1:8081", "http://localhost:8081/", "http://[::1]:8081"] {
            assert!(built(url).is_ok(), "{url}");
        }
        for url in ["http://api.knogin.com", "http://10.0.0.5:8081", "http://localhost.example.com"] {
            let refused = built(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains("use https"), "{url}: {refused}");
        }
        for url in ["ftp://127.0.0.1", "api.knogin.com", ""] {
            assert!(built(url).is_err(), "{url}");
        }
        let auth = ArgusClient::builder().auth_url("http://auth.knogin.com").build();
        assert!(auth.is_err(), "the auth host too: a client secret goes there");
    }
}
