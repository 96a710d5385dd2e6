//! The admin endpoint: `GET /plugins` serves the plugins in service as JSON (the report `plugins
//! list` prints), and the client `plugins list --operator` reads it with. Loopback by default: it
//! names plugin files and digests, and says nothing a metrics scraper needs.

use super::server::{response, serve_paths};
use crate::plugins::Registry;
use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

fn respond(registry: &Registry, path: &str) -> Response<Full<Bytes>> {
    match path {
        "/plugins" => match serde_json::to_string(&registry.current().report()) {
            Ok(json) => response(StatusCode::OK, "application/json", json),
            Err(e) => response(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e.to_string()),
        },
        _ => response(StatusCode::NOT_FOUND, "text/plain", "not found; try /plugins".to_string()),
    }
}

pub async fn serve(listener: tokio::net::TcpListener, registry: Arc<Registry>) {
    serve_paths(listener, Arc::new(move |path: &str| respond(&registry, path))).await
}

/// `GET {base}{path}` from an operator's admin endpoint (`http://host:port`), as text.
pub async fn get(base: &str, path: &str) -> anyhow::Result<String> {
    let authority = base
        .strip_prefix("http://")
        .with_context(|| format!("{base}: the admin endpoint is plain http://HOST:PORT (it listens on loopback)"))?
        .trim_end_matches('/');
    let url = format!("http://{authority}{path}");
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority} (the operator's --admin-listen)"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = Request::get(path).header(hyper::header::HOST, authority).body(Full::new(Bytes::new()))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            bail!("{url}: {status}: {text}");
        }
        Ok(text)
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("{url}: no answer in 10 s"))?
}
