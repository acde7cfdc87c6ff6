//! Caps request bodies. A declared `Content-Length` over the limit is refused before reading;
//! every other body with content is read here, up to the limit, and refused past it. Either
//! way: 413. Whether a body declares its length is the client's choice (chunked bodies and
//! HTTP/2 bodies need not), so the limit never trusts the headers to have announced it.

use poem::{error::ReadBodyError, http::StatusCode, Endpoint, Middleware, Request, Result};

pub struct BodyLimit {
    max_bytes: usize,
}

impl BodyLimit {
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            max_bytes: self.max_bytes,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
}

fn too_large() -> poem::Error {
    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let declared = req
            .header("content-length")
            .and_then(|len| len.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_bytes as u64) {
            return Err(too_large());
        }
        let body = req.take_body();
        // A body known to be empty (most GETs) is handed on as it is.
        if body.is_empty() {
            req.set_body(body);
        } else {
            let bytes = body
                .into_bytes_limit(self.max_bytes)
                .await
                .map_err(|err| match err {
                    ReadBodyError::PayloadTooLarge => too_large(),
                    other => other.into(),
                })?;
            req.set_body(bytes);
        }
        self.inner.call(req).await
    }
}
