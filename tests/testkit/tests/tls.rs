//! `--tls`: HTTPS with a certificate from the testkit's own CA, trusted by
//! clients only when they are given that CA (like a company's private CA).

mod common;

use std::process::Command;

use common::*;
use ferry_testkit::{Options, Testkit};

fn tls_kit() -> Testkit {
    Testkit::start(Options {
        tls: true,
        auto_approve: true,
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn curl_trusts_the_server_only_with_the_ca_file() {
    let kit = tls_kit();
    assert!(kit.url().starts_with("https://127.0.0.1:"));
    let ca = kit.info().ca_file.clone().expect("ca_file with --tls");
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let url = format!("{}/.well-known/openid-configuration", kit.url());

    let with = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&ca)
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(String::from_utf8_lossy(&with.stdout).contains("authorization_endpoint"));

    let without = Command::new("curl")
        .args(["-sS", "--fail", &url])
        .output()
        .unwrap();
    assert_eq!(
        without.status.code(),
        Some(60),
        "curl: peer certificate cannot be authenticated"
    );

    let by_name = url.replace("127.0.0.1", "localhost");
    let named = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&ca)
        .arg(&by_name)
        .output()
        .unwrap();
    assert!(
        named.status.success(),
        "the certificate also names localhost"
    );
}

#[test]
fn git_clones_over_https_with_the_ca_and_refuses_without_it() {
    let kit = tls_kit();
    let ca = kit.info().ca_file.clone().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let url = git_url(&kit, "editor", &kit.info().token, "editor/website");
    let ca_path = ca.display().to_string();
    let out = git_with(
        tmp.path(),
        &["clone", "-q", &url, "ok"],
        &[("GIT_SSL_CAINFO", &ca_path)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("ok/index.md").exists());
    let out = git(tmp.path(), &["clone", "-q", &url, "no"]);
    assert!(!out.status.success(), "never trusted without the CA");
    let err = stderr(&out).to_lowercase();
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn rust_clients_with_the_ca_get_through() {
    let kit = tls_kit();
    let pem = std::fs::read(kit.info().ca_file.clone().unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/api/v4/user", kit.url()))
        .header("PRIVATE-TOKEN", &kit.info().token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain = reqwest::blocking::Client::new()
        .get(format!("{}/api/v4/user", kit.url()))
        .send();
    assert!(
        plain.is_err(),
        "the system trust store does not know the private CA"
    );
}
