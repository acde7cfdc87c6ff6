//! Outbound URL safety: webhooks go to public http(s) addresses only, so a tenant cannot make
//! the service call into its own network (loopback, private ranges, link-local, cloud metadata).
//!
//! The check runs on the addresses a name resolves to, at registration and again at every
//! delivery through the HTTP client's resolver, so a name that later resolves somewhere private
//! (DNS rebinding) is refused too. Redirects are not followed. The operator can allow private
//! targets for development (`INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE=true`).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a target was refused, for the `VALIDATION_ERROR` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeTarget {
    #[error("must be an absolute http or https URL")]
    NotHttp,
    #[error("must not carry credentials")]
    Credentials,
    #[error("host {0} does not resolve")]
    Unresolvable(String),
    #[error(
        "{0} is a private, loopback, link-local or metadata address; for development the \
         operator can allow such targets with --outbound-allow-private \
         (INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE=true)"
    )]
    Private(IpAddr),
}

/// Whether private targets are allowed (development only).
#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Checks a URL's form and every address its host resolves to now.
    pub async fn check(&self, raw: &str) -> Result<reqwest::Url, UnsafeTarget> {
        let url = reqwest::Url::parse(raw).map_err(|_| UnsafeTarget::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(UnsafeTarget::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UnsafeTarget::Credentials);
        }
        let host = url.host_str().expect("checked above");
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses = resolve(host, port).await?;
        for address in addresses {
            self.permit(address.ip())?;
        }
        Ok(url)
    }

    pub fn permit(&self, ip: IpAddr) -> Result<(), UnsafeTarget> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(UnsafeTarget::Private(ip))
        }
    }

    /// A resolver for the HTTP client that drops refused addresses (and fails when none is left).
    pub fn resolver(self) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver { policy: self })
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, UnsafeTarget> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| UnsafeTarget::Unresolvable(host.to_string()))?
        .collect();
    if found.is_empty() {
        return Err(UnsafeTarget::Unresolvable(host.to_string()));
    }
    Ok(found)
}

/// Resolves names for the webhook client, keeping only the addresses the policy permits.
pub struct CheckedResolver {
    policy: TargetPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let found = resolve(name.as_str(), 0).await?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| policy.permit(address.ip()).is_ok())
                .collect();
            match allowed.first() {
                Some(_) => Ok(Box::new(allowed.into_iter()) as Addrs),
                None => Err(Box::new(UnsafeTarget::Unresolvable(name.as_str().into()))
                    as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, including 169.254.169.254 (cloud metadata)
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, including fd00:ec2::254 (AWS metadata)
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_credentials_and_address() {
        let strict = TargetPolicy {
            allow_private: false,
        };
        assert_eq!(
            strict.check("ftp://example.com/x").await,
            Err(UnsafeTarget::NotHttp)
        );
        assert_eq!(strict.check("not a url").await, Err(UnsafeTarget::NotHttp));
        assert_eq!(
            strict.check("https://u:p@8.8.8.8/").await,
            Err(UnsafeTarget::Credentials)
        );
        for refused in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706433/",
        ] {
            assert!(
                matches!(strict.check(refused).await, Err(UnsafeTarget::Private(_))),
                "{refused}"
            );
        }
        assert!(strict.check("https://8.8.8.8/hook").await.is_ok());
        let dev = TargetPolicy {
            allow_private: true,
        };
        assert!(dev.check("http://127.0.0.1:9/hook").await.is_ok());
    }
}
