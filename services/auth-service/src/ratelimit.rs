//! Rate limits on the token and sign-in endpoints, per client and per source
//! address (GCRA via governor). Exceeding one is a 429 with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::OAuthConfig;

pub struct RateLimits {
    token_per_client: DefaultKeyedRateLimiter<String>,
    token_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    trust_forwarded_for: bool,
}

fn per_second(n: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(config: &OAuthConfig, trust_forwarded_for: bool) -> Arc<Self> {
        let per_minute = NonZeroU32::new(config.sign_in_rate_per_ip_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let limits = Arc::new(Self {
            token_per_client: RateLimiter::keyed(per_second(config.token_rate_per_client)),
            token_per_ip: RateLimiter::keyed(per_second(config.token_rate_per_ip)),
            sign_in_per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
            trust_forwarded_for,
        });
        // Forget idle keys now and then, so memory stays bounded.
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { break };
                limits.token_per_client.retain_recent();
                limits.token_per_ip.retain_recent();
                limits.sign_in_per_ip.retain_recent();
            }
        });
        limits
    }

    /// The caller's address: the TCP peer, or the first `X-Forwarded-For`
    /// hop when the deployment says a trusted proxy sets it.
    pub fn source(&self, req: &HttpRequest) -> IpAddr {
        let forwarded = self
            .trust_forwarded_for
            .then(|| req.connection_info().realip_remote_addr().and_then(|a| a.parse::<IpAddr>().ok()))
            .flatten();
        forwarded.or_else(|| req.peer_addr().map(|a| a.ip())).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
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

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), u64> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    })
}
