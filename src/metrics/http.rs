//! Label types of the HTTP metrics: the method and the status code only (never the raw path,
//! which contains ids).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    HEAD,
    OPTIONS,
    OTHER,
}

impl From<&poem::http::Method> for HttpMethod {
    fn from(method: &poem::http::Method) -> Self {
        match *method {
            poem::http::Method::GET => HttpMethod::GET,
            poem::http::Method::POST => HttpMethod::POST,
            poem::http::Method::PUT => HttpMethod::PUT,
            poem::http::Method::PATCH => HttpMethod::PATCH,
            poem::http::Method::DELETE => HttpMethod::DELETE,
            poem::http::Method::HEAD => HttpMethod::HEAD,
            poem::http::Method::OPTIONS => HttpMethod::OPTIONS,
            _ => HttpMethod::OTHER,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub method: HttpMethod,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MethodLabels {
    pub method: HttpMethod,
}

/// How the rate limiter ruled on a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LimitLabels {
    /// `key` (an authenticated request) or `address` (failed authentications).
    pub bucket: &'static str,
    /// `allowed` or `limited`.
    pub outcome: &'static str,
}
