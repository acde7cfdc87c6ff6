//! Who may read `/metrics`. Its label values name every tenant and agent, so the exposition is
//! not public: with a configured token, a scraper must send `Authorization: Bearer <token>`;
//! without one, only clients on this machine (loopback) may scrape. Prometheus supports both
//! (`authorization` in a scrape config, or a node-local agent).

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct ScrapeAccess {
    /// HMAC of the token under a per-process key, so a check compares in constant time.
    token_mac: Option<Vec<u8>>,
    key: [u8; 32],
}

impl ScrapeAccess {
    pub fn new(token: Option<&str>) -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            token_mac: token.map(|token| mac(&key, token)),
            key,
        }
    }

    /// Whether a scrape from `peer` with this `Authorization` header is allowed.
    pub fn permits(&self, peer: Option<IpAddr>, authorization: Option<&str>) -> bool {
        match &self.token_mac {
            Some(expected) => authorization
                .and_then(|value| value.strip_prefix("Bearer "))
                .is_some_and(|presented| {
                    let mut check = Hmac::<Sha256>::new_from_slice(&self.key)
                        .expect("HMAC takes keys of any length");
                    check.update(presented.trim().as_bytes());
                    check.verify_slice(expected).is_ok()
                }),
            None => peer.is_some_and(|ip| ip.is_loopback() || is_mapped_loopback(ip)),
        }
    }

    /// What to tell a refused scraper.
    pub fn refusal(&self) -> &'static str {
        match self.token_mac {
            Some(_) => "/metrics needs `Authorization: Bearer <token>` (INTENDEDOPS_METRICS_TOKEN)",
            None => {
                "/metrics answers loopback clients only; set INTENDEDOPS_METRICS_TOKEN to let a \
                 remote scraper in with a bearer token"
            }
        }
    }
}

fn mac(key: &[u8], token: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(token.trim().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_required_when_set_and_loopback_suffices_when_not() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let remote: IpAddr = "203.0.113.9".parse().unwrap();
        let open = ScrapeAccess::new(None);
        assert!(open.permits(Some(local), None));
        assert!(open.permits(Some("::ffff:127.0.0.1".parse().unwrap()), None));
        assert!(!open.permits(Some(remote), None));
        assert!(!open.permits(None, None));
        let guarded = ScrapeAccess::new(Some("s3cret"));
        assert!(guarded.permits(Some(remote), Some("Bearer s3cret")));
        assert!(
            !guarded.permits(Some(local), None),
            "a token binds loopback too"
        );
        assert!(!guarded.permits(Some(local), Some("Bearer wrong")));
        assert!(!guarded.permits(Some(local), Some("s3cret")));
    }
}
