//! The HTTP listener: Spin's well-known endpoints, routing, one fresh
//! instance per request, graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::app::AppState;

const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

fn body(bytes: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

fn status(code: http::StatusCode) -> http::Response<HyperOutgoingBody> {
    let mut resp = http::Response::new(body(Bytes::new()));
    *resp.status_mut() = code;
    resp
}

/// Handles one request from the network.
pub async fn handle(
    app: Arc<AppState>,
    req: http::Request<Incoming>,
    client: SocketAddr,
) -> http::Response<HyperOutgoingBody> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix(WELL_KNOWN_PREFIX) {
        return match rest {
            "health" => http::Response::new(body("OK")),
            "info" => {
                let info = serde_json::json!({
                    "name": app.name,
                    "version": app.version,
                    "oci_image_digest": null,
                    "runner": "sales-runner",
                    "runner_version": env!("CARGO_PKG_VERSION"),
                });
                let mut resp = http::Response::new(body(info.to_string()));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                resp
            }
            _ => status(http::StatusCode::NOT_FOUND),
        };
    }
    let id = app.request_id();
    let started = Instant::now();
    let method = req.method().clone();
    let Some(route) = app.router.route(&path) else {
        tracing::info!(request_id = id, %method, %path, status = 404, "no route");
        return status(http::StatusCode::NOT_FOUND);
    };
    let Some(component) = app.components.get(&route.component_id).cloned() else {
        return status(http::StatusCode::INTERNAL_SERVER_ERROR);
    };
    let result = crate::app::invoke_http(&app, &component, req, &route, client).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(resp) => {
            // Written by a task of its own, spawned from this connection's
            // task: it runs when that task next yields, after hyper has
            // written the response, so the client does not wait for the
            // log line (formatting and a `write` to stderr).
            if tracing::enabled!(tracing::Level::INFO) {
                let status = resp.status().as_u16();
                tokio::spawn(async move {
                    tracing::info!(
                        request_id = id, component = %component.id, %method, %path,
                        status, duration_ms = format!("{ms:.2}"), "request"
                    );
                });
            }
            resp
        }
        Err(e) => {
            tracing::error!(
                request_id = id, component = %component.id, %method, %path,
                status = 500, duration_ms = format!("{ms:.2}"), "request failed: {e:#}"
            );
            status(http::StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Accepts connections until `shutdown` turns true, then lets in-flight
/// requests finish.
pub async fn serve(listener: TcpListener, app: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(app, req, client).await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection error: {e}");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
