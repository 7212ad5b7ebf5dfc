//! Rate limits on the token and sign-in endpoints, per client and per source
//! address, and on manual webhook sends per tenant (GCRA via governor).
//! Exceeding one is a 429 with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_address::client_address;
use crate::config::{OAuthConfig, WebhookLimits};

pub struct RateLimits {
    token_per_client: DefaultKeyedRateLimiter<String>,
    token_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<ipnet::IpNet>,
}

fn per_second(n: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(config: &OAuthConfig, trusted_proxies: Vec<ipnet::IpNet>) -> Arc<Self> {
        let per_minute = NonZeroU32::new(config.sign_in_rate_per_ip_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let limits = Arc::new(Self {
            token_per_client: RateLimiter::keyed(per_second(config.token_rate_per_client)),
            token_per_ip: RateLimiter::keyed(per_second(config.token_rate_per_ip)),
            sign_in_per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
            trusted_proxies,
        });
        forget_idle_keys(&limits, |limits| {
            limits.token_per_client.retain_recent();
            limits.token_per_ip.retain_recent();
            limits.sign_in_per_ip.retain_recent();
        });
        limits
    }

    /// The caller's address (see [`client_address`]).
    pub fn source(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        client_address(peer, forwarded, &self.trusted_proxies)
    }

    /// `Err(seconds to wait)` when the token endpoints' limit is exceeded.
    pub fn check_token(&self, ip: IpAddr, client: Option<&str>) -> Result<(), u64> {
        check(&self.token_per_ip, &ip)?;
        match client {
            Some(c) => check(&self.token_per_client, &c.to_owned()),
            None => Ok(()),
        }
    }

    pub fn check_sign_in(&self, ip: IpAddr) -> Result<(), u64> {
        check(&self.sign_in_per_ip, &ip)
    }
}

/// Manual webhook sends (tests and resends) per tenant: wherever the
/// webhook routes are served (the auth-service, and the sandbox API for the
/// sandbox's webhooks).
pub struct ManualSends(DefaultKeyedRateLimiter<String>);

impl ManualSends {
    pub fn new(webhooks: &WebhookLimits) -> Arc<Self> {
        let per_minute = NonZeroU32::new(webhooks.manual_sends_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let limits = Arc::new(Self(RateLimiter::keyed(Quota::per_minute(per_minute))));
        forget_idle_keys(&limits, |limits| limits.0.retain_recent());
        limits
    }

    /// `Err(seconds to wait)` when `tenant` has made its manual webhook
    /// sends for now.
    pub fn check(&self, tenant: &str) -> Result<(), u64> {
        check(&self.0, &tenant.to_owned())
    }
}

/// Runs `retain` on `limits` every minute while they live: forgetting idle
/// keys keeps memory bounded.
fn forget_idle_keys<T: Send + Sync + 'static>(limits: &Arc<T>, retain: fn(&T)) {
    let weak = Arc::downgrade(limits);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(limits) = weak.upgrade() else { break };
            retain(&limits);
        }
    });
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), u64> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    })
}
