//! The `ferry-testkit serve` contract: the first stdout line is one JSON
//! object with what clients need, and the server keeps its state in `--data`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str]) -> (Killed, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-testkit"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry-testkit");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).expect("the first line is JSON");
    (Killed(child), info)
}

#[test]
fn first_line_has_everything_a_client_needs() {
    let (_server, info) = serve(&["--tls"]);
    for key in [
        "url", "user", "password", "token", "projects", "oauth", "admin", "ca_file",
    ] {
        assert!(info.get(key).is_some(), "{key} in {info}");
    }
    for key in [
        "client_id",
        "client_secret",
        "redirect_uri",
        "public_client_id",
    ] {
        assert!(info["oauth"].get(key).is_some(), "oauth.{key}");
    }
    assert!(info["url"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(info["oauth"]["redirect_uri"], "http://127.0.0.1/callback");
    let projects: Vec<&str> = info["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(projects.contains(&"editor/website") && projects.contains(&"editor/empty"));
}

#[test]
fn a_fixed_port_and_data_dir_keep_users_and_tokens_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = data.path().to_str().unwrap();
    let (server, first) = serve(&["--port", &port.to_string(), "--data", dir]);
    assert_eq!(first["url"], format!("http://127.0.0.1:{port}"));
    drop(server);
    let (_server, second) = serve(&["--port", &port.to_string(), "--data", dir]);
    assert_eq!(
        first["token"], second["token"],
        "the same token after a restart"
    );
    assert_eq!(first["password"], second["password"]);
    assert!(data.path().join("repos/editor/website.git/HEAD").exists());
}
