//! The HTTP server: accepts connections, serves each with hyper's HTTP/1.1 connection under
//! the [`deadlines`](super::deadlines), and shuts down gracefully.
//!
//! poem's own `Server` gives hyper no timer and offers no header-read deadline, so a client
//! sending half a request line held its connection forever. Only HTTP/1.1 is served: the
//! clients of this API (agent SDKs, curl, browsers) use HTTP/1.1 or HTTP/2 over TLS, never
//! cleartext HTTP/2 with prior knowledge; a deployment wanting HTTP/2 terminates TLS in a
//! proxy, which speaks HTTP/1.1 to us. Cleartext HTTP/2 would bring a second set of limits to
//! enforce (streams, flow control, resets, header timeouts hyper's HTTP/2 does not have) for
//! no client that needs it.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use poem::{
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
    Addr, Endpoint, Response,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::deadlines::{Activity, ConnectionLimits, Watched};

/// Pause after a failed accept (typically: out of file descriptors), so the loop does not spin
/// while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `endpoint` on `listener` until `shutdown` resolves; then stops accepting, lets
/// requests in flight finish for up to `grace`, and closes what is left.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local = listener.local_addr()?;
    let endpoint = Arc::new(endpoint);
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let connection = Connection {
                        local,
                        remote,
                        limits,
                        closing: closing.clone(),
                    };
                    connections.spawn(connection.serve(stream, endpoint.clone()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
        // Reap finished connections so the set holds only open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    closing.cancel();
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "grace period over: closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

struct Connection {
    local: SocketAddr,
    remote: SocketAddr,
    limits: ConnectionLimits,
    closing: CancellationToken,
}

impl Connection {
    async fn serve<E>(self, stream: tokio::net::TcpStream, endpoint: Arc<E>)
    where
        E: Endpoint<Output = Response> + 'static,
    {
        let activity = Activity::new();
        let service = service_fn({
            let activity = activity.clone();
            let local = LocalAddr(Addr::SocketAddr(self.local));
            let remote = RemoteAddr(Addr::SocketAddr(self.remote));
            move |request: hyper::Request<Incoming>| {
                let guard = activity.request_started();
                let endpoint = endpoint.clone();
                let request =
                    poem::Request::from((request, local.clone(), remote.clone(), Scheme::HTTP));
                async move {
                    let response = endpoint.get_response(request).await;
                    drop(guard);
                    Ok::<_, Infallible>(hyper::Response::from(response))
                }
            }
        });
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let connection = http1::Builder::new().serve_connection(io, service);
        tokio::pin!(connection);
        let served = async {
            tokio::select! {
                _ = connection.as_mut() => return,
                () = self.closing.cancelled() => {}
            }
            // Server shutdown: finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        };
        tokio::select! {
            () = served => {}
            () = activity.expired(self.limits) => {
                tracing::debug!(remote = %self.remote, "closing a connection that ran out of time");
            }
        }
    }
}
