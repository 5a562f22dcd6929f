//! Fault switches for reliability tests, settable at start and at run time
//! (`POST /-/testkit/faults`, or [`Faults::set`] in-process):
//! added latency, a share of 5xx answers, the next N answers failing with a
//! given status, `429` with `Retry-After`, responses cut after N bytes (the
//! connection drops mid-pack), and refusing connections for a while.
//! The admin paths (`/-/testkit/...`) are never faulted.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The switches, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Added to every answer.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of answers replaced by `503`.
    pub error_rate: f64,
    /// The next N answers fail with `fail_status` (default 500).
    pub fail_next: u32,
    /// Status for `fail_next`.
    pub fail_status: Option<u16>,
    /// The next N answers are `429 Retry later` with `Retry-After: retry_after_secs`.
    pub rate_limit_next: u32,
    /// Seconds in `Retry-After` (default 1).
    pub retry_after_secs: Option<u64>,
    /// Cut the next `drop_times` responses after this many body bytes.
    pub drop_after_bytes: Option<u64>,
    /// How many responses to cut (default 1).
    pub drop_times: Option<u32>,
    /// Refuse new connections (and drop requests on open ones) for this long from now.
    pub refuse_for_ms: u64,
    /// Only fault requests whose path contains this (e.g. `git-upload-pack`).
    pub path_filter: Option<String>,
}

/// The live fault state.
#[derive(Default)]
pub struct Faults {
    config: Mutex<FaultConfig>,
    refuse_until: Mutex<Option<Instant>>,
    /// Wakes the accept loop when a refusal starts.
    pub refusal: tokio::sync::Notify,
}

/// What to do with one request.
pub enum Decision {
    /// Serve it (after `delay`), cutting the body after `cut` bytes if set.
    Serve {
        /// Added latency.
        delay: Duration,
        /// Cut the response body after this many bytes.
        cut: Option<u64>,
    },
    /// Answer with this instead (after `delay`).
    Replace(Duration, Response<Body>),
    /// Drop the connection.
    Drop,
}

impl Faults {
    /// Replaces the switches; a non-zero `refuse_for_ms` starts a refusal now.
    pub fn set(&self, config: FaultConfig) {
        if config.refuse_for_ms > 0 {
            *lock(&self.refuse_until) =
                Some(Instant::now() + Duration::from_millis(config.refuse_for_ms));
            self.refusal.notify_waiters();
        }
        *lock(&self.config) = FaultConfig {
            refuse_for_ms: 0,
            ..config
        };
    }

    /// The current switches.
    pub fn get(&self) -> FaultConfig {
        lock(&self.config).clone()
    }

    /// When the current refusal ends, if one is on.
    pub fn refusing_until(&self) -> Option<Instant> {
        let mut until = lock(&self.refuse_until);
        match *until {
            Some(t) if t > Instant::now() => Some(t),
            Some(_) => {
                *until = None;
                None
            }
            None => None,
        }
    }

    /// A response was cut: count it against `drop_times`.
    pub fn consume_drop(&self) {
        let mut c = lock(&self.config);
        let left = c.drop_times.unwrap_or(1);
        if left <= 1 {
            c.drop_after_bytes = None;
            c.drop_times = None;
        } else {
            c.drop_times = Some(left - 1);
        }
    }

    /// Decides the fate of a request to `path`.
    pub fn decide(&self, path: &str) -> Decision {
        if path.starts_with("/-/testkit") {
            return Decision::Serve {
                delay: Duration::ZERO,
                cut: None,
            };
        }
        if self.refusing_until().is_some() {
            return Decision::Drop;
        }
        let mut c = lock(&self.config);
        let delay = Duration::from_millis(c.latency_ms);
        if c.path_filter.as_deref().is_some_and(|f| !path.contains(f)) {
            return Decision::Serve { delay, cut: None };
        }
        if c.rate_limit_next > 0 {
            c.rate_limit_next -= 1;
            let secs = c.retry_after_secs.unwrap_or(1);
            return Decision::Replace(delay, rate_limited(secs));
        }
        if c.fail_next > 0 {
            c.fail_next -= 1;
            let status = StatusCode::from_u16(c.fail_status.unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Decision::Replace(delay, server_error(status));
        }
        if c.error_rate > 0.0 && rand::rng().random::<f64>() < c.error_rate {
            return Decision::Replace(delay, server_error(StatusCode::SERVICE_UNAVAILABLE));
        }
        // Counted only when a response really is cut (see `CutBody`).
        Decision::Serve {
            delay,
            cut: c.drop_after_bytes,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// GitLab's throttled answer: `429`, `Retry later\n`, `Retry-After` and `RateLimit-*`.
pub fn rate_limited(retry_after: u64) -> Response<Body> {
    let reset = chrono::Utc::now() + chrono::Duration::seconds(retry_after as i64);
    Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header("content-type", "text/plain")
        .header("retry-after", retry_after.to_string())
        .header("ratelimit-name", "throttle_authenticated_api")
        .header("ratelimit-limit", "60")
        .header("ratelimit-observed", "61")
        .header("ratelimit-remaining", "0")
        .header("ratelimit-reset", reset.timestamp().to_string())
        .header(
            "ratelimit-resettime",
            reset.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )
        .body(Body::from("Retry later\n"))
        .expect("static response")
}

fn server_error(status: StatusCode) -> Response<Body> {
    let body = match status {
        StatusCode::SERVICE_UNAVAILABLE => "503 Service Unavailable",
        StatusCode::BAD_GATEWAY => "502 Bad Gateway",
        _ => "500 Internal Server Error",
    };
    let mut r = Response::new(Body::from(format!("{{\"message\":\"{body}\"}}")));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// The axum middleware that applies [`Faults`] and counts requests.
pub async fn middleware(
    axum::extract::State(kit): axum::extract::State<std::sync::Arc<crate::Kit>>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    kit.count(&request_kind(
        req.method().as_str(),
        &path,
        req.uri().query(),
    ));
    match kit.faults.decide(&path) {
        Decision::Drop => broken_body_response(),
        Decision::Replace(delay, response) => {
            tokio::time::sleep(delay).await;
            response
        }
        Decision::Serve { delay, cut } => {
            tokio::time::sleep(delay).await;
            let response = next.run(req).await;
            match cut {
                Some(n) => {
                    let (mut parts, body) = response.into_parts();
                    // The cut must not be announced: drop the length so the client reads until the break.
                    parts.headers.remove("content-length");
                    Response::from_parts(
                        parts,
                        Body::new(CutBody {
                            inner: body,
                            left: n,
                            kit: Some(kit.clone()),
                        }),
                    )
                }
                None => response,
            }
        }
    }
}

/// A short name for a request, e.g. `GET /api/v4/projects` or `POST git-receive-pack`.
pub fn request_kind(method: &str, path: &str, query: Option<&str>) -> String {
    for service in ["git-upload-pack", "git-receive-pack"] {
        if path.ends_with(&format!("/{service}")) {
            return format!("{method} {service}");
        }
    }
    if path.ends_with("/info/refs") {
        let service = query
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("service=")))
            .unwrap_or("dumb");
        return format!("{method} info/refs {service}");
    }
    let generic: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() || seg.contains("%2F") {
                ":id"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", generic.join("/"))
}

/// A response whose body fails at once: hyper aborts the connection.
fn broken_body_response() -> Response<Body> {
    Response::new(Body::new(CutBody {
        inner: Body::empty(),
        left: 0,
        kit: None,
    }))
}

/// A body that yields at most `left` bytes, then fails (the connection
/// drops). A body shorter than that passes whole and is not counted.
struct CutBody {
    inner: Body,
    left: u64,
    /// Told when a cut really happens (`None`: always broken, for refusals).
    kit: Option<std::sync::Arc<crate::Kit>>,
}

impl http_body::Body for CutBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let broken = || {
            Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "ferry-testkit: connection dropped by a fault switch",
            )))))
        };
        if self.left == 0 && self.kit.is_none() {
            return broken();
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if self.left == 0 || data.len() as u64 > self.left {
                        // More than the switch allows: cut here and drop the connection.
                        data.truncate(self.left as usize);
                        self.left = 0;
                        if let Some(kit) = self.kit.take() {
                            kit.faults.consume_drop();
                        }
                        if data.is_empty() {
                            return broken();
                        }
                        return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
                    }
                    self.left -= data.len() as u64;
                    Poll::Ready(Some(Ok(http_body::Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }
}
