//! Every fault switch does what it says, and the admin path is never faulted.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn user_status(kit: &ferry_testkit::Testkit) -> u16 {
    get(kit, "/api/v4/user", &kit.info().token)
        .status()
        .as_u16()
}

#[test]
fn latency_delays_every_answer() {
    let kit = kit();
    admin(&kit, "/faults", json!({"latency_ms": 400}));
    let start = Instant::now();
    assert_eq!(user_status(&kit), 200);
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    admin(&kit, "/faults", json!({}));
    let start = Instant::now();
    user_status(&kit);
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "switched off again"
    );
}

#[test]
fn error_rate_and_fail_next_answer_with_5xx() {
    let kit = kit();
    admin(&kit, "/faults", json!({"error_rate": 1.0}));
    assert_eq!(user_status(&kit), 503);
    assert_eq!(user_status(&kit), 503);
    let config = json(
        http()
            .get(format!("{}/-/testkit/faults", kit.url()))
            .send()
            .unwrap(),
    );
    assert_eq!(config["error_rate"], 1.0, "the admin path is never faulted");
    admin(&kit, "/faults", json!({"error_rate": 0.5}));
    let failures = (0..200).filter(|_| user_status(&kit) == 503).count();
    assert!(
        (60..140).contains(&failures),
        "about half fail: {failures}/200"
    );

    admin(&kit, "/faults", json!({"fail_next": 2, "fail_status": 502}));
    assert_eq!(
        [user_status(&kit), user_status(&kit), user_status(&kit)],
        [502, 502, 200]
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let kit = kit();
    admin(
        &kit,
        "/faults",
        json!({"rate_limit_next": 1, "retry_after_secs": 7}),
    );
    let r = get(&kit, "/api/v4/projects", &kit.info().token);
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    assert!(r.headers().contains_key("ratelimit-reset"));
    assert_eq!(r.text().unwrap(), "Retry later\n");
    assert_eq!(
        get(&kit, "/api/v4/projects", &kit.info().token).status(),
        200,
        "only the next one"
    );
}

#[test]
fn a_connection_dropped_mid_pack_fails_the_clone_once() {
    let kit = kit();
    // A pack bigger than the cut: add a file of incompressible bytes.
    let tmp = tempfile::tempdir().unwrap();
    let url = git_url(&kit, "editor", &kit.info().token, "editor/website");
    git_ok(tmp.path(), &["clone", "-q", &url, "seed"]);
    let seed = tmp.path().join("seed");
    // Incompressible bytes, so the pack is bigger than the cut.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(seed.join("noise.bin"), noise).unwrap();
    git_ok(&seed, &["add", "."]);
    git_ok(&seed, &["commit", "-qm", "noise"]);
    git_ok(&seed, &["push", "-q", "origin", "main"]);

    admin(
        &kit,
        "/faults",
        json!({"drop_after_bytes": 20000, "path_filter": "git-upload-pack"}),
    );
    let out = git(tmp.path(), &["clone", "-q", &url, "cut"]);
    assert!(!out.status.success(), "the clone breaks mid-pack");
    assert!(!tmp.path().join("cut/noise.bin").exists());
    git_ok(tmp.path(), &["clone", "-q", &url, "whole"]);
    assert_eq!(
        std::fs::metadata(tmp.path().join("whole/noise.bin"))
            .unwrap()
            .len(),
        200_000
    );
}

#[test]
fn refusing_connections_for_a_while() {
    let kit = kit();
    let port = kit
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    admin(&kit, "/faults", json!({"refuse_for_ms": 1500}));
    std::thread::sleep(Duration::from_millis(100));
    let err = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    std::thread::sleep(Duration::from_millis(1700));
    assert_eq!(user_status(&kit), 200, "back after the refusal");
}

#[test]
fn expiring_every_token_now() {
    let kit = kit();
    assert_eq!(user_status(&kit), 200);
    let r = admin(&kit, "/tokens/expire", json!({"which": "pat"}));
    assert!(r["expired"].as_u64().unwrap() >= 2);
    let r = get(&kit, "/api/v4/user", &kit.info().token);
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["error"], "invalid_token");
}
