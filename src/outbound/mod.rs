//! Every HTTP call the service makes to an address a tenant named (webhook deliveries,
//! RFC-0014 tool invocations and their OAuth2 token refreshes) goes through one [`Outbound`]
//! client, so the controls are the same everywhere:
//!
//! - the address checks of [`target`] (before connecting, in the resolver, on the connection);
//! - no redirects followed (a redirect could lead past the checks), no proxy;
//! - a timeout per call, clamped to [`MIN_TIMEOUT`, `MAX_TIMEOUT`] whatever a tenant asks for;
//! - at most [`MAX_RESPONSE_BYTES`] of a response read (a larger one fails the call);
//! - errors described without the URL (which may carry a credential in its query).

pub mod target;

use std::time::{Duration, Instant};

use target::{TargetPolicy, UnsafeTarget};

/// The longest a tenant may ask a call to take, and the shortest.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// The most of a response body that is read.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A timeout a tenant asked for (milliseconds), clamped to the bounds; `default` when none.
pub fn clamp_timeout(requested_ms: Option<i64>, default: Duration) -> Duration {
    match requested_ms {
        Some(ms) => Duration::from_millis(ms.max(0) as u64).clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        None => default.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
    }
}

/// What came back from a call that reached its target.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// At most [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
    pub latency: Duration,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a call produced no [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Refused before a connection was made (or before a byte was written on one).
    #[error("not sent: {0}")]
    Refused(UnsafeTarget),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    #[error("the response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Transport(String),
}

/// The one client for tenant-named targets.
pub struct Outbound {
    client: reqwest::Client,
    targets: TargetPolicy,
}

impl Outbound {
    pub fn new(targets: TargetPolicy) -> anyhow::Result<Self> {
        let client = targets
            .guard(reqwest::Client::builder())
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("IntendedOps/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Outbound { client, targets })
    }

    pub fn targets(&self) -> TargetPolicy {
        self.targets
    }

    /// A request to `url`, to be finished by the caller and handed to [`Self::send`].
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `request` (to `url`) within `timeout` and reads its answer, bounded.
    pub async fn send(
        &self,
        url: &reqwest::Url,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        // An IP literal is refused before connecting at all (the resolver does this for names).
        self.targets
            .permit_literal(url.as_str())
            .map_err(Failure::Refused)?;
        let timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        let started = Instant::now();
        let exchange = async {
            let mut response = request.send().await.map_err(describe)?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(describe)? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Failure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failure::TimedOut(timeout))??;
        Ok(Reply {
            status,
            body,
            latency: started.elapsed(),
        })
    }
}

/// A transport error without its URL but with its cause chain (a refused address named).
fn describe(err: reqwest::Error) -> Failure {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<UnsafeTarget>() {
            return Failure::Refused(refused.clone());
        }
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure::Transport(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn timeouts_are_clamped() {
        let default = Duration::from_secs(10);
        assert_eq!(clamp_timeout(None, default), default);
        assert_eq!(clamp_timeout(Some(10), default), MIN_TIMEOUT);
        assert_eq!(clamp_timeout(Some(-5), default), MIN_TIMEOUT);
        assert_eq!(clamp_timeout(Some(600_000), default), MAX_TIMEOUT);
        assert_eq!(
            clamp_timeout(Some(2_500), default),
            Duration::from_millis(2_500)
        );
    }

    /// A local server answering every connection with `response`, once read.
    async fn answering(response: Vec<u8>) -> reqwest::Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        url.parse().unwrap()
    }

    fn dev() -> Outbound {
        Outbound::new(TargetPolicy {
            allow_private: true,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn bodies_past_the_cap_fail_the_call() {
        let big = vec![b'x'; MAX_RESPONSE_BYTES + 1];
        let mut response =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", big.len()).into_bytes();
        response.extend_from_slice(&big);
        let url = answering(response).await;
        let outbound = dev();
        let request = outbound.request(reqwest::Method::GET, url.clone());
        let sent = outbound.send(&url, request, MIN_TIMEOUT).await;
        assert_eq!(sent.unwrap_err(), Failure::TooLarge);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let url = answering(
            b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n"
                .to_vec(),
        )
        .await;
        let outbound = dev();
        let request = outbound.request(reqwest::Method::GET, url.clone());
        let reply = outbound.send(&url, request, MIN_TIMEOUT).await.unwrap();
        assert_eq!(reply.status, 302);
    }

    #[tokio::test]
    async fn a_silent_target_times_out_at_the_clamped_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: reqwest::Url = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let _held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let outbound = dev();
        let request = outbound.request(reqwest::Method::GET, url.clone());
        let sent = outbound
            .send(&url, request, Duration::from_millis(10))
            .await;
        assert_eq!(sent.unwrap_err(), Failure::TimedOut(MIN_TIMEOUT));
    }

    #[tokio::test]
    async fn private_literals_are_refused_unless_allowed() {
        let strict = Outbound::new(TargetPolicy {
            allow_private: false,
        })
        .unwrap();
        let url: reqwest::Url = "http://127.0.0.1:9/".parse().unwrap();
        let request = strict.request(reqwest::Method::GET, url.clone());
        let sent = strict.send(&url, request, MIN_TIMEOUT).await;
        assert!(matches!(
            sent,
            Err(Failure::Refused(UnsafeTarget::Private(_)))
        ));
    }
}
