//! Caps request bodies. A declared `Content-Length` over the limit is refused before reading;
//! a chunked body is read up to the limit and refused past it. Either way: 413.

use poem::{http::StatusCode, Endpoint, Middleware, Request, Result};

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
        match declared {
            Some(len) if len > self.max_bytes as u64 => return Err(too_large()),
            // The server enforces that the body matches its declared length.
            Some(_) => {}
            None if req.headers().contains_key("transfer-encoding") => {
                let body = req
                    .take_body()
                    .into_bytes_limit(self.max_bytes)
                    .await
                    .map_err(|_| too_large())?;
                req.set_body(body);
            }
            None => {}
        }
        self.inner.call(req).await
    }
}
