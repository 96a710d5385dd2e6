//! `/healthz` (the process serves), `/readyz` (plugins loaded and caches synced) and `/metrics`.

use super::metrics::Metrics;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
    pub fn set_not_ready(&self) {
        self.ready.store(false, Ordering::Release);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

fn respond(health: &Health, metrics: &Metrics, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/healthz" => (StatusCode::OK, "text/plain", "ok".to_string()),
        "/readyz" if health.is_ready() => (StatusCode::OK, "text/plain", "ok".to_string()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", "caches not synced".to_string()),
        "/metrics" => (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found".to_string()),
    };
    response(status, content_type, body)
}

/// A response with its status and content type.
pub fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

pub async fn serve(listener: tokio::net::TcpListener, health: Arc<Health>, metrics: Arc<Metrics>) {
    serve_paths(listener, Arc::new(move |path: &str| respond(&health, &metrics, path))).await
}

/// Answers a request by its path.
pub type Responder = Arc<dyn Fn(&str) -> Response<Full<Bytes>> + Send + Sync>;

/// Serves GET requests on `listener`, answering each by its path (HTTP/1, plain text or JSON).
pub async fn serve_paths(listener: tokio::net::TcpListener, respond: Responder) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection");
                continue;
            }
        };
        let respond = respond.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = respond(req.uri().path());
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
            {
                tracing::debug!(error = %e, "serving a connection");
            }
        });
    }
}
