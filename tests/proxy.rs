//! `HTTP(S)_PROXY` and `NO_PROXY` are honoured. (Its own test binary: it
//! changes the process environment.)

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use ferry::gitlab::client::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A forward proxy that answers GitLab's discovery document itself and
/// remembers which absolute URLs it was asked for.
async fn proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                log.lock().unwrap().push(target);
                let body = r#"{"issuer":"http://gitlab.internal.example","authorization_endpoint":"http://gitlab.internal.example/oauth/authorize"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn requests_go_through_the_proxy_unless_no_proxy_says_otherwise() {
    let (url, seen) = proxy().await;
    std::env::set_var("HTTP_PROXY", &url);
    std::env::remove_var("NO_PROXY");
    let server = Server::find("http://gitlab.internal.example", None)
        .await
        .unwrap();
    assert_eq!(server.base(), "http://gitlab.internal.example");
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["http://gitlab.internal.example/.well-known/openid-configuration"],
        "the name was resolved by the proxy, not here"
    );

    std::env::set_var("NO_PROXY", "internal.example");
    let err = Server::find("http://gitlab.internal.example", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "name_not_found", "bypassed the proxy: {err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    std::env::remove_var("HTTP_PROXY");
    std::env::remove_var("NO_PROXY");
}
