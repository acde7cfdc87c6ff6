//! Prometheus metrics, rendered by `GET /metrics` in the OpenMetrics text format.
//!
//! Labels are bounded on purpose: HTTP metrics carry the method and the status code only
//! (never the raw path, which contains ids).

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet, EncodeLabelValue},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

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
struct RequestLabels {
    method: HttpMethod,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: HttpMethod,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<MethodLabels, Histogram>,
    /// argon2 verifications of API keys (a cache miss each): should stay near the number of keys.
    pub key_verifications: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "intendedops_http_requests",
            "HTTP requests served, by method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "intendedops_http_request_duration_seconds",
            "HTTP request latency, by method",
            http_duration.clone(),
        );
        let key_verifications = Counter::default();
        registry.register(
            "intendedops_auth_key_verifications",
            "argon2 verifications of presented API keys (verified-key cache misses)",
            key_verifications.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            key_verifications,
        }
    }

    pub fn observe_http(&self, method: HttpMethod, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&RequestLabels { method, status })
            .inc();
        self.http_duration
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
