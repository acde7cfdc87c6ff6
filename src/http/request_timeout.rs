//! Bounds the time from a request's head to its response head: reading the body (a client
//! dripping it byte by byte) and handling it. Past the limit: 408 in the error envelope, and
//! the handler is dropped (as it would be if the client went away). A streamed response body
//! (SSE) is not bounded: the connection's idle deadline watches it.

use std::time::Duration;

use poem::{http::StatusCode, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::api::error::{codes, ApiError};

pub struct RequestTimeout {
    limit: Duration,
}

impl RequestTimeout {
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<E: Endpoint> Middleware<E> for RequestTimeout {
    type Output = RequestTimeoutEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestTimeoutEndpoint {
            inner,
            limit: self.limit,
        }
    }
}

pub struct RequestTimeoutEndpoint<E> {
    inner: E,
    limit: Duration,
}

impl<E: Endpoint> Endpoint for RequestTimeoutEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        match tokio::time::timeout(self.limit, self.inner.call(req)).await {
            Ok(answered) => answered.map(IntoResponse::into_response),
            Err(_) => {
                tracing::warn!(limit = ?self.limit, "request timed out");
                Ok(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    codes::VALIDATION_ERROR,
                    format!(
                        "the request did not complete within {} s",
                        self.limit.as_secs_f64()
                    ),
                )
                .into_response())
            }
        }
    }
}
