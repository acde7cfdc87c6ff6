//! Outbound URL safety: tenant-named targets (webhook endpoints, RFC-0014 tool services) are
//! public http(s) addresses only, so a tenant cannot make the service call into its own network (loopback, private ranges, link-local, cloud metadata,
//! or any of these reached through an IPv6 form that carries an IPv4 address).
//!
//! Addresses are checked at registration and again at every call, three times over:
//! an IP-literal URL before connecting ([`TargetPolicy::permit_literal`]: the HTTP client does
//! not resolve literals); a name's addresses in the client's resolver, so a name that later
//! resolves somewhere private (DNS rebinding) is refused before any connection; and finally the
//! peer address of the connection itself, read by a connector layer after connecting and before
//! the connection is handed to the HTTP client, so no request byte reaches a refused address
//! whatever the URL spelled (the last two: [`TargetPolicy::guard`]). The last check alone would suffice for the
//! request; the first two keep the service from even opening a connection (a port-scan oracle).
//! Redirects are not followed and proxies are not used (a proxy would connect for us, past these
//! checks). The operator can allow private targets for development
//! (`INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE=true`); the checks apply to endpoints registered before
//! the switch was turned off too. [`super::Outbound`] is the client that applies all of it.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a target was refused, for the `VALIDATION_ERROR` message and a refused attempt's error.
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
    #[error("the connection's peer address is unknown")]
    UnknownPeer,
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

    /// Checks the address of a URL whose host is an IP literal, which the HTTP client connects
    /// to without asking the resolver; names are left to the resolver of [`Self::guard`].
    pub fn permit_literal(&self, raw: &str) -> Result<(), UnsafeTarget> {
        let url = reqwest::Url::parse(raw).map_err(|_| UnsafeTarget::NotHttp)?;
        match url.host_str().and_then(literal_ip) {
            Some(ip) => self.permit(ip),
            None => Ok(()),
        }
    }

    /// An HTTP client that checks names in its resolver and the peer address of every
    /// connection, and uses no proxy (a proxy would connect on our behalf: the checks would see
    /// the proxy). URLs spelling an IP literal are the caller's to check, with
    /// [`Self::permit_literal`], to avoid connecting at all.
    pub fn guard(self, client: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        client
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { policy: self }))
            // Runs once a connection is open (and TLS set up), before a request is written.
            .connector_layer(tower::util::AndThenLayer::new(move |connection| {
                std::future::ready(self.permit_peer(connection))
            }))
    }

    /// Checks the peer address of a connection the HTTP client has just opened, before it
    /// writes the request.
    fn permit_peer<C: Connection>(self, connection: C) -> Result<C, BoxError> {
        if self.allow_private {
            return Ok(connection);
        }
        let mut extras = http::Extensions::new();
        connection.connected().get_extras(&mut extras);
        let peer = extras.get::<HttpInfo>().map(|info| info.remote_addr().ip());
        match peer {
            Some(ip) => self.permit(ip).map(|()| connection).map_err(Into::into),
            None => Err(UnsafeTarget::UnknownPeer.into()),
        }
    }
}

/// The address a URL host spells literally (`127.0.0.1`, `[::1]`), if it does.
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, UnsafeTarget> {
    if let Some(ip) = literal_ip(host) {
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

/// Resolves names for the outbound client, keeping only the addresses the policy permits (and
/// failing when none is left).
struct CheckedResolver {
    policy: TargetPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let found = resolve(name.as_str(), 0).await?;
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|address| policy.permit(address.ip()).is_ok());
            match refused.first() {
                // Name a refused address: "does not resolve" would send the tenant astray.
                Some(refused) if allowed.is_empty() => {
                    Err(UnsafeTarget::Private(refused.ip()).into())
                }
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// True for globally routable unicast addresses. An IPv6 address that carries an IPv4 address
/// (the forms below) is judged by the IPv4 address it reaches; any other IPv6 address must be in
/// global unicast space (2000::/3) and outside its special-purpose blocks.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address leads to, for the forms that carry one: IPv4-compatible
/// `::a.b.c.d` (deprecated, but still routed by some stacks), IPv4-mapped `::ffff:a.b.c.d`,
/// SIIT-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::`.
/// Judging these as IPv6 would let `[::7f00:1]` or `[64:ff9b::7f00:1]` reach 127.0.0.1.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let last_32_bits = || Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _] => Some(last_32_bits()),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last_32_bits()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last_32_bits()),
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        _ => None,
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

/// Global unicast space minus the blocks IANA's special-purpose registry marks as not
/// globally reachable (or that only tunnel to somewhere else). An allow-list, so blocks
/// outside 2000::/3 — site-local fec0::/10, discard 100::/64, unique local, link-local,
/// multicast, the unassigned rest — are refused without naming each.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let special = match s {
        // IETF protocol assignments 2001::/23 (Teredo is 2001::/32); documentation 2001:db8::/32
        [0x2001, second, ..] => second < 0x0200 || second == 0x0db8,
        // documentation 3fff::/20; SRv6 segment identifiers 5f00::/16
        [first, ..] => (first & 0xfff0) == 0x3ff0 || first == 0x5f00,
    };
    global_unicast && !special
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
            "2001:4860:4860::8888",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    /// Each IPv6 form that carries an IPv4 address is judged by that address.
    #[test]
    fn ipv4_carried_in_ipv6_is_judged_as_ipv4() {
        for (v6, v4) in [
            ("::7f00:1", "127.0.0.1"),        // IPv4-compatible
            ("::ffff:7f00:1", "127.0.0.1"),   // IPv4-mapped
            ("::ffff:0:7f00:1", "127.0.0.1"), // SIIT translated
            ("64:ff9b::7f00:1", "127.0.0.1"), // NAT64 well-known prefix
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("2002:7f00:1::", "127.0.0.1"), // 6to4
            ("2002:a00:7:1::5", "10.0.0.7"),
            ("64:ff9b::808:808", "8.8.8.8"),
            ("2002:808:808::1", "8.8.8.8"),
        ] {
            let v6: Ipv6Addr = v6.parse().unwrap();
            assert_eq!(embedded_ipv4(v6), Some(v4.parse().unwrap()), "{v6}");
        }
        assert!(is_public("64:ff9b::808:808".parse().unwrap()));
        assert!(is_public("2002:808:808::1".parse().unwrap()));
        assert_eq!(embedded_ipv4("2606:4700::1111".parse().unwrap()), None);
    }

    #[test]
    fn special_purpose_ipv6_blocks_are_not_public() {
        for private in [
            "::7f00:1",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fec0::1",                              // site-local
            "100::1",                               // discard-only
            "64:ff9b:1::1",                         // local-use NAT64
            "2001::1",                              // Teredo
            "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo, public server and client
            "2001:2::1",                            // benchmarking
            "2001:db8::1",                          // documentation
            "3fff::1",                              // documentation
            "5f00::1",                              // SRv6
            "ff02::1",                              // multicast
            "4000::1",                              // unassigned
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[tokio::test]
    async fn literal_urls_are_checked_without_resolving() {
        let strict = TargetPolicy {
            allow_private: false,
        };
        for refused in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://[::7f00:1]/hook",
            "https://[64:ff9b::7f00:1]:8443/hook",
        ] {
            assert!(
                matches!(
                    strict.permit_literal(refused),
                    Err(UnsafeTarget::Private(_))
                ),
                "{refused}"
            );
        }
        // Names are the resolver's business.
        assert_eq!(strict.permit_literal("http://localhost/hook"), Ok(()));
        assert_eq!(strict.permit_literal("https://8.8.8.8/hook"), Ok(()));
        let dev = TargetPolicy {
            allow_private: true,
        };
        assert_eq!(dev.permit_literal("http://127.0.0.1:9/hook"), Ok(()));
    }

    /// The last check reads the peer address off a real connection.
    #[tokio::test]
    async fn a_connection_to_a_refused_peer_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = listener.local_addr().unwrap();
        let connect = || tokio::net::TcpStream::connect(peer);
        let strict = TargetPolicy {
            allow_private: false,
        };
        let refused = strict.permit_peer(connect().await.unwrap()).unwrap_err();
        assert_eq!(
            refused.downcast_ref::<UnsafeTarget>(),
            Some(&UnsafeTarget::Private(peer.ip()))
        );
        let dev = TargetPolicy {
            allow_private: true,
        };
        assert!(dev.permit_peer(connect().await.unwrap()).is_ok());
    }

    /// Through the guarded client: the peer of a real connection is read (reqwest passes it
    /// on) and refused before a byte of the request is written. An IP literal skips the
    /// resolver, so only the connector layer stands in the way here.
    #[tokio::test]
    async fn the_guarded_client_writes_nothing_to_a_refused_peer() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let read = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut bytes = Vec::new();
            socket.read_to_end(&mut bytes).await.unwrap();
            bytes
        });
        let strict = TargetPolicy {
            allow_private: false,
        };
        let client = strict.guard(reqwest::Client::builder()).build().unwrap();
        let err = client.post(&url).body("secret").send().await.unwrap_err();
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        assert!(
            causes.iter().any(|c| c.contains("127.0.0.1 is a private")),
            "{causes:?}"
        );
        drop(client);
        assert_eq!(read.await.unwrap(), b"");
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
            "http://[::7f00:1]/hook",
            "http://[::ffff:0:7f00:1]/hook",
            "http://[64:ff9b::7f00:1]/hook",
            "http://[2002:7f00:1::]/hook",
            "http://[fec0::1]/hook",
            "http://[100::1]/hook",
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
