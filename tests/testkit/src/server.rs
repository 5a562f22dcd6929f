//! The listener: accepts connections on 127.0.0.1 (plain or TLS), closes
//! the port while a "refuse connections" fault is on, and routes requests.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};

use crate::Kit;

/// Binds 127.0.0.1 on `port` (or any free port), reusing the address so the
/// port can be closed and opened again for connection-refusal faults.
pub async fn bind(port: Option<u16>) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0)));
    bind_addr(addr)
}

fn bind_addr(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Every route the testkit serves.
pub fn router(kit: Arc<Kit>) -> Router {
    Router::new()
        .nest("/api/v4", crate::api::router())
        .nest("/-/testkit", crate::admin::router())
        .merge(crate::oauth::router())
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            kit.clone(),
            crate::faults::middleware,
        ))
        .with_state(kit)
}

/// Git smart HTTP for `/ns/project(.git)/...`, else GitLab's 404 page.
async fn fallback(
    axum::extract::State(kit): axum::extract::State<Arc<Kit>>,
    req: Request<Body>,
) -> Response {
    if let Some(target) = crate::git_http::parse_path(req.uri().path()) {
        return crate::git_http::handle(kit, target, req).await;
    }
    if req.uri().path().starts_with("/api/") {
        return crate::api::error_json(StatusCode::NOT_FOUND, "error", "404 Not Found");
    }
    (
        StatusCode::NOT_FOUND,
        [("content-type", "text/html; charset=utf-8")],
        "<!DOCTYPE html><html><head><title>Not Found</title></head>\
         <body><h1>404</h1><p>Page Not Found</p></body></html>",
    )
        .into_response()
}

/// Serves until `shutdown` fires.
pub async fn serve(
    kit: Arc<Kit>,
    mut listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let addr = listener.local_addr().expect("bound");
    let app = router(kit.clone());
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        if let Some(until) = kit.faults.refusing_until() {
            // Close the port: new connections are refused (RST), as when a server is down.
            drop(listener);
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = &mut shutdown => return,
            }
            listener = loop {
                match bind_addr(addr) {
                    Ok(l) => break l,
                    Err(e) => {
                        tracing::warn!("re-binding {addr}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            };
            continue;
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = kit.faults.refusal.notified() => continue,
            _ = &mut shutdown => return,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let http = hyper::server::conn::http1::Builder::new();
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => {
                        http.serve_connection(TokioIo::new(tls), service)
                            .with_upgrades()
                            .await
                    }
                    Err(e) => {
                        tracing::debug!("TLS handshake failed: {e}");
                        return;
                    }
                },
                None => {
                    http.serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}
