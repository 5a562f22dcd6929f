//! The reliability scenarios of RELIABILITY.md, each with two or three real
//! `ferry` processes against ferry-testkit (real git over HTTP), a real
//! Secret Service for their sign-ins, and the invariants I1–I7 checked at
//! the end: nothing lost, converged, intact, forward only, no leak, quiet,
//! contained. The world and the checks are in tests/common/world.rs.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::text;
use common::world::*;
use serde_json::{json, Value};

#[test]
fn s1_two_clients_edit_different_files_within_a_second() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "from-a.md", b"A wrote this\n");
    write(w.dir(1), "from-b.md", b"B wrote this\n");
    settle_time();
    let outs = w.sync_together(&[0, 1]);
    for o in &outs {
        assert!(
            o.status.success()
                || ["synced", "offline", "syncing"]
                    .iter()
                    .any(|s| text(o).contains(s)),
            "{}",
            text(o)
        );
    }
    w.settle();
    for i in 0..2 {
        assert_eq!(
            std::fs::read(w.dir(i).join("from-a.md")).unwrap(),
            b"A wrote this\n"
        );
        assert_eq!(
            std::fs::read(w.dir(i).join("from-b.md")).unwrap(),
            b"B wrote this\n"
        );
        assert!(
            conflict_copies(w.dir(i)).is_empty(),
            "no conflict copy for different files"
        );
    }
    w.check_invariants(&[b"A wrote this\n", b"B wrote this\n"]);
}

#[test]
fn s2_same_text_file_different_lines_merge_cleanly() {
    let w = World::new(&["a", "b"]);
    let base = b"one\ntwo\nthree\nfour\nfive\nsix\nseven\n";
    write(w.dir(0), "notes.md", base);
    settle_time();
    w.settle();
    write(
        w.dir(0),
        "notes.md",
        b"ONE (from A)\ntwo\nthree\nfour\nfive\nsix\nseven\n",
    );
    write(
        w.dir(1),
        "notes.md",
        b"one\ntwo\nthree\nfour\nfive\nsix\nSEVEN (from B)\n",
    );
    settle_time();
    w.sync(0);
    w.sync(1);
    w.settle();
    let merged = b"ONE (from A)\ntwo\nthree\nfour\nfive\nsix\nSEVEN (from B)\n";
    for i in 0..2 {
        assert_eq!(
            std::fs::read(w.dir(i).join("notes.md")).unwrap(),
            merged,
            "both edits, client {i}"
        );
        assert!(
            conflict_copies(w.dir(i)).is_empty(),
            "a clean merge makes no conflict copy"
        );
    }
    w.check_invariants(&[base, merged]);
}

#[test]
fn s3_same_line_and_same_binary_file_keep_both_versions() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "about.md", b"About: A's words\n");
    write(w.dir(1), "about.md", b"About: B's words\n");
    write(w.dir(0), "images/logo.png", b"\x89PNG A-bytes \x00\x01");
    write(w.dir(1), "images/logo.png", b"\x89PNG B-bytes \x00\x02");
    settle_time();
    w.sync(0);
    let b = w.sync(1);
    assert!(
        text(&b).contains("conflict"),
        "B is told about the conflict: {}",
        text(&b)
    );
    w.settle();
    for i in 0..2 {
        let files = folder_files(w.dir(i));
        assert_eq!(
            files["about.md"], b"About: A's words\n",
            "the server's version stays at the path"
        );
        assert_eq!(files["images/logo.png"], b"\x89PNG A-bytes \x00\x01");
        let copies = conflict_copies(w.dir(i));
        assert_eq!(copies.len(), 2, "one conflict copy per file: {copies:?}");
        let about_copy = copies
            .iter()
            .find(|c| c.starts_with("about (conflict "))
            .expect("about.md's copy");
        assert!(about_copy.ends_with(").md"));
        assert_eq!(
            files[about_copy], b"About: B's words\n",
            "B's version is kept beside it"
        );
        let logo_copy = copies
            .iter()
            .find(|c| c.starts_with("images/logo (conflict "))
            .expect("logo's copy");
        assert_eq!(
            files[logo_copy], b"\x89PNG B-bytes \x00\x02",
            "binary: B's bytes kept"
        );
        for (path, bytes) in &files {
            assert!(
                !String::from_utf8_lossy(bytes).contains("<<<<<<<"),
                "no conflict markers in {path}"
            );
        }
    }
    w.check_invariants(&[b"About: A's words\n", b"About: B's words\n"]);
}

#[test]
fn s4_an_edit_beats_a_delete_on_either_side() {
    let w = World::new(&["a", "b"]);
    // A deletes, B edits; A is first.
    std::fs::remove_file(w.dir(0).join("index.md")).unwrap();
    write(w.dir(1), "index.md", b"B's edit survives\n");
    // B deletes, A edits; B is first.
    std::fs::remove_file(w.dir(1).join("about.md")).unwrap();
    write(w.dir(0), "about.md", b"A's edit survives\n");
    settle_time();
    w.sync(0);
    w.sync(1);
    w.settle();
    for i in 0..2 {
        assert_eq!(
            std::fs::read(w.dir(i).join("index.md")).unwrap(),
            b"B's edit survives\n"
        );
        assert_eq!(
            std::fs::read(w.dir(i).join("about.md")).unwrap(),
            b"A's edit survives\n"
        );
    }
    w.check_invariants(&[b"B's edit survives\n", b"A's edit survives\n"]);
}

#[test]
fn s15_two_clients_push_at_the_same_moment_and_the_loser_integrates() {
    let w = World::new(&["a", "b", "c"]);
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        write(
            w.dir(i),
            &format!("{name}.md"),
            format!("from {name}\n").as_bytes(),
        );
    }
    settle_time();
    let outs = w.sync_together(&[0, 1, 2]);
    let synced = outs.iter().filter(|o| o.status.success()).count();
    assert!(synced >= 1, "at least one push wins outright");
    w.settle();
    let server = w.server_files();
    for name in ["a", "b", "c"] {
        assert_eq!(
            server[&format!("{name}.md")],
            format!("from {name}\n").as_bytes()
        );
    }
    let merges = git(&w.server(), &["rev-list", "--merges", "main"]);
    assert!(
        merges.trim().is_empty(),
        "a linear history: local commits are replayed, not merged"
    );
    w.check_invariants(&[b"from a\n", b"from b\n", b"from c\n"]);
}

#[test]
fn s16_long_offline_fifty_remote_commits_and_twenty_local_edits() {
    let w = World::new(&["a", "b"]);
    for n in 0..50 {
        write(
            w.dir(0),
            &format!("remote/{n:02}.md"),
            format!("remote {n}\n").as_bytes(),
        );
        if n % 5 == 4 {
            settle_time();
            assert!(w.sync(0).status.success());
        }
    }
    for n in 0..20 {
        write(
            w.dir(1),
            &format!("local/{n:02}.md"),
            format!("local {n}\n").as_bytes(),
        );
    }
    write(w.dir(1), "about.md", b"B edited about while offline\n");
    settle_time();
    let b = w.sync(1);
    assert!(b.status.success(), "{}", text(&b));
    w.settle();
    let server = w.server_files();
    assert_eq!(
        server.keys().filter(|k| k.starts_with("remote/")).count(),
        50
    );
    assert_eq!(
        server.keys().filter(|k| k.starts_with("local/")).count(),
        20
    );
    assert_eq!(server["about.md"], b"B edited about while offline\n");
    let mut versions: Vec<Vec<u8>> = (0..20)
        .map(|n| format!("local {n}\n").into_bytes())
        .collect();
    versions.extend((0..50).map(|n| format!("remote {n}\n").into_bytes()));
    let refs: Vec<&[u8]> = versions.iter().map(|v| v.as_slice()).collect();
    w.check_invariants(&refs);
}

#[test]
fn s17_an_edit_made_just_before_quitting_is_committed_before_pulling() {
    let w = World::new(&["a", "b"]);
    // A runs continuously and is killed inside the quiet period after an edit.
    let mut a = w
        .command(&w.clients[0], &["sync", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // The editor still has the file open when Ferry stops: a file saved and
    // closed is sent within a fraction of a second, one still open waits.
    let mut open = std::fs::File::create(w.dir(0).join("about.md")).unwrap();
    std::io::Write::write_all(&mut open, b"A's last-second edit\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    a.kill().unwrap();
    a.wait().unwrap();
    drop(open);
    // Meanwhile B changes the same file and pushes.
    write(w.dir(1), "about.md", b"B's edit\n");
    settle_time();
    let out = w.sync(1);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A starts again: its edit is committed first, so the pull cannot overwrite it.
    w.sync(0);
    w.settle();
    let a_files = folder_files(w.dir(0));
    assert!(
        a_files.values().any(|v| v == b"A's last-second edit\n"),
        "A's edit is kept (as a conflict copy): {:?}",
        a_files.keys().collect::<Vec<_>>()
    );
    w.check_invariants(&[b"A's last-second edit\n", b"B's edit\n"]);
}

#[test]
fn s10_a_vanished_folder_pauses_and_deletes_nothing_on_the_server() {
    let w = World::new(&["a"]);
    let before = w.server_files();
    std::fs::remove_dir_all(w.dir(0)).unwrap();
    let out = w.sync(0);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("is missing") && t.contains("nothing was deleted"),
        "{t}"
    );
    assert_eq!(w.server_files(), before, "no deletion reached the server");
}

#[test]
fn s9_a_mass_deletion_waits_for_the_user() {
    let w = World::new(&["a"]);
    for n in 0..30 {
        write(
            w.dir(0),
            &format!("pages/{n:02}.md"),
            format!("page {n}\n").as_bytes(),
        );
    }
    settle_time();
    assert!(w.sync(0).status.success());
    std::fs::remove_dir_all(w.dir(0).join("pages")).unwrap();
    let out = w.sync(0);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("30 of 36 files were deleted"),
        "{}",
        text(&out)
    );
    assert_eq!(
        w.server_files()
            .keys()
            .filter(|k| k.starts_with("pages/"))
            .count(),
        30,
        "nothing deleted yet"
    );
}

#[test]
fn s11_a_stale_lock_is_removed_and_a_live_gits_lock_is_waited_for() {
    let w = World::new(&["a"]);
    let lock = w.dir(0).join(".git/index.lock");
    std::fs::write(&lock, b"").unwrap();
    // A lock left by a dead process, a few seconds old.
    let old = std::time::SystemTime::now() - Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    write(w.dir(0), "a.md", b"after the stale lock\n");
    settle_time();
    let out = w.sync(0);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!lock.exists(), "the stale lock is gone");

    // A live git holds the lock: Ferry waits instead of breaking it.
    std::fs::write(&lock, b"").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut live = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(w.dir(0))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    write(w.dir(0), "b.md", b"while git works\n");
    settle_time();
    let out = w.sync(0);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Another program is using"),
        "{}",
        text(&out)
    );
    assert!(lock.exists(), "a live git's lock is never removed");
    live.kill().unwrap();
    live.wait().unwrap();
    std::fs::remove_file(&lock).unwrap();
    assert!(w.sync(0).status.success());
    w.check_invariants(&[b"after the stale lock\n", b"while git works\n"]);
}

#[test]
fn s13_a_revoked_sign_in_stops_pushing_local_commits_continue_and_signing_in_again_sends_them() {
    let w = World::new(&["a"]);
    reqwest::blocking::Client::new()
        .post(format!("{}/-/testkit/tokens/revoke", w.kit.url()))
        .json(&json!({"username": "editor"}))
        .send()
        .unwrap();
    write(w.dir(0), "offline-edit.md", b"kept locally\n");
    settle_time();
    let out = w.sync(0);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "error");
    assert!(
        v["message"].as_str().unwrap().contains("Sign in again"),
        "{v}"
    );
    let log = git(w.dir(0), &["log", "--format=%s", "-1"]);
    assert_eq!(
        log.trim(),
        "Add offline-edit.md",
        "the edit is committed locally meanwhile"
    );

    // Signing in again with a new token sends what waited; nothing was lost.
    let fresh: Value = reqwest::blocking::Client::new()
        .post(format!("{}/-/testkit/tokens", w.kit.url()))
        .json(&json!({"username": "editor", "scopes": ["api", "read_user", "read_repository", "write_repository"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = fresh["token"].as_str().unwrap();
    let reviewer_token = w.kit.info().second_token.clone();
    let wrong = w.ferry(
        &w.clients[0],
        &["instance", "reconnect", "a", "--token-stdin"],
        &format!("{reviewer_token}\n"),
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("reviewer"), "{}", text(&wrong));
    let again = w.ferry(
        &w.clients[0],
        &["instance", "reconnect", "a", "--token-stdin"],
        &format!("{token}\n"),
    );
    assert!(again.status.success(), "{}", text(&again));
    let out = w.sync(0);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        w.server_files().get("offline-edit.md").map(Vec::as_slice),
        Some(b"kept locally\n".as_slice())
    );
    w.check_invariants(&[b"kept locally\n"]);
}

#[test]
fn s14_server_errors_and_rate_limits_back_off_and_the_change_arrives() {
    let w = World::new(&["a"]);
    let admin = |body: Value| {
        reqwest::blocking::Client::new()
            .post(format!("{}/-/testkit/faults", w.kit.url()))
            .json(&body)
            .send()
            .unwrap();
    };
    let mut a = w
        .command(&w.clients[0], &["sync", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    admin(json!({"fail_next": 3, "fail_status": 503, "path_filter": "/info/refs"}));
    reqwest::blocking::Client::new()
        .delete(format!("{}/-/testkit/requests", w.kit.url()))
        .send()
        .unwrap();
    write(w.dir(0), "through-the-storm.md", b"arrives anyway\n");
    let start = Instant::now();
    while !w.server_files().contains_key("through-the-storm.md") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the change never arrived"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let requests: Value = reqwest::blocking::Client::new()
        .get(format!("{}/-/testkit/requests", w.kit.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        requests["total"].as_u64().unwrap() < 40,
        "backed off, no storm: {requests}"
    );
    admin(json!({"rate_limit_next": 1, "retry_after_secs": 1}));
    write(w.dir(0), "after-429.md", b"also arrives\n");
    let start = Instant::now();
    while !w.server_files().contains_key("after-429.md") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the change after a 429 never arrived"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    w.check_invariants(&[b"arrives anyway\n", b"also arrives\n"]);
}

#[test]
fn a_running_ferry_sends_a_save_and_receives_a_push_within_seconds() {
    let w = World::new(&["a", "b"]);
    let mut a = w
        .command(&w.clients[0], &["sync", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut b = w
        .command(&w.clients[1], &["sync", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    write(w.dir(0), "live.md", b"typed in A\n");
    let start = Instant::now();
    while std::fs::read(w.dir(1).join("live.md")).ok().as_deref()
        != Some(b"typed in A\n".as_slice())
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "A's save never reached B"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "in seconds: {took:?}");
    // `ferry status` sees the running sync: A sent live.md, B received it,
    // both linking to the commit on GitLab.
    let tip = git(&w.server(), &["rev-parse", "main"]).trim().to_string();
    let link = format!("{}/{PROJECT}/-/commit/{tip}", w.kit.url());
    for (i, incoming) in [(0, false), (1, true)] {
        let start = Instant::now();
        loop {
            let status = w.ferry(&w.clients[i], &["status", "--json"], "");
            let v: Value = serde_json::from_slice(&status.stdout).unwrap();
            let folder = &v["folders"][0];
            assert_eq!(folder["path"], w.dir(i).display().to_string());
            let seen = folder["recent"].as_array().is_some_and(|r| {
                r.iter().any(|a| {
                    a["path"] == "live.md" && a["incoming"] == incoming && a["url"] == link.as_str()
                })
            });
            if seen && folder["state"] == "synced" && folder["pending"] == 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "client {i} shows live.md {} with {link}: {folder}",
                if incoming { "received" } else { "sent" }
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let human = w.ferry(&w.clients[1], &["status"], "");
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("received live.md") && human.contains("last synced"),
        "{human}"
    );
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    w.check_invariants(&[b"typed in A\n"]);
}

#[test]
fn s5_a_connection_cut_mid_push_or_mid_fetch_retries_without_duplicates() {
    let w = World::new(&["a", "b"]);
    // Mid-push: the server takes the push, the answer is cut.
    faults(
        &w,
        json!({"drop_after_bytes": 8, "path_filter": "git-receive-pack"}),
    );
    write(w.dir(0), "cut.md", b"sent once\n");
    settle_time();
    let first = w.sync(0);
    assert!(
        !first.status.success(),
        "the cut answer is a failure: {}",
        text(&first)
    );
    assert!(text(&first).contains("offline"), "{}", text(&first));
    assert!(w.sync(0).status.success(), "the retry succeeds");
    let log = server_log(&w);
    assert_eq!(
        log.iter().filter(|m| *m == "Add cut.md").count(),
        1,
        "no duplicate commit: {log:?}"
    );

    // Mid-fetch: B's download breaks half way, then completes.
    // Incompressible bytes, so the pack is bigger than the cut.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    write(w.dir(0), "big.bin", &noise);
    settle_time();
    assert!(w.sync(0).status.success());
    faults(
        &w,
        json!({"drop_after_bytes": 30000, "path_filter": "git-upload-pack"}),
    );
    let broken = w.sync(1);
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(
        !w.dir(1).join("big.bin").exists(),
        "no partial file after a broken fetch"
    );
    assert!(w.sync(1).status.success());
    assert_eq!(std::fs::read(w.dir(1).join("big.bin")).unwrap(), noise);
    w.settle();
    w.check_invariants(&[b"sent once\n", &noise]);
}

#[test]
fn s6_kill_9_while_applying_a_large_update_recovers_whole_files() {
    let w = World::new(&["a", "b"]);
    let mut versions: Vec<Vec<u8>> = Vec::new();
    for n in 0..1500 {
        let v = format!("new version of page {n}\n").repeat(20).into_bytes();
        write(w.dir(0), &format!("pages/{n:04}.md"), &v);
        versions.push(v);
    }
    settle_time();
    assert!(w.sync(0).status.success());
    // B pulls 1500 files and is killed part way, several times.
    let mut killed_mid_apply = false;
    for delay_ms in [300u64, 600, 900, 1200] {
        let mut child = w
            .command(&w.clients[1], &["sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let journal = w.dir(1).join(".git/ferry-apply").exists();
        killed_mid_apply |= journal;
        // Every file is wholly old (absent) or wholly new.
        for (n, v) in versions.iter().enumerate() {
            if let Ok(bytes) = std::fs::read(w.dir(1).join(format!("pages/{n:04}.md"))) {
                assert_eq!(&bytes, v, "pages/{n:04}.md is whole after kill -9");
            }
        }
        if !journal && w.dir(1).join("pages/1499.md").exists() {
            break;
        }
    }
    // Restart: recovery finishes the update.
    assert!(w.sync(1).status.success());
    let leftovers: Vec<String> = folder_files(w.dir(1))
        .into_keys()
        .filter(|p| p.contains(".ferry-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files cleaned up: {leftovers:?}");
    w.settle();
    let refs: Vec<&[u8]> = versions.iter().take(50).map(|v| v.as_slice()).collect();
    w.check_invariants(&refs);
    eprintln!("killed during an apply: {killed_mid_apply}");
}

#[test]
fn s6_kill_9_while_committing_loses_nothing() {
    let w = World::new(&["a"]);
    for n in 0..2000 {
        write(
            w.dir(0),
            &format!("bulk/{n:04}.md"),
            format!("file {n}\n").as_bytes(),
        );
    }
    settle_time();
    for delay_ms in [100u64, 250, 500] {
        let mut child = w
            .command(&w.clients[0], &["sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = w.sync(0);
    assert!(out.status.success(), "restart recovers: {}", text(&out));
    assert_eq!(
        w.server_files()
            .keys()
            .filter(|k| k.starts_with("bulk/"))
            .count(),
        2000
    );
    w.check_invariants(&[b"file 0\n", b"file 1999\n"]);
}

#[test]
fn s7_editor_save_patterns_make_one_commit_each_and_never_commit_temp_files() {
    let w = World::new(&["a"]);
    let mut a = w
        .command(&w.clients[0], &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let dir = w.dir(0).to_path_buf();
    let wait_for_commits = |n: usize| {
        let start = Instant::now();
        loop {
            let count = server_log(&w).len();
            if count >= n {
                std::thread::sleep(Duration::from_millis(1500));
                return server_log(&w).len();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for commit {n}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let base = server_log(&w).len();

    // 1. Write a temp file and rename it over the original (gedit, VS Code).
    std::fs::write(dir.join(".goutputstream-ABC123"), b"saved by rename\n").unwrap();
    std::fs::rename(dir.join(".goutputstream-ABC123"), dir.join("about.md")).unwrap();
    assert_eq!(
        wait_for_commits(base + 1),
        base + 1,
        "one commit for the save"
    );

    // 2. Truncate and write in two bursts.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.join("index.md")).unwrap();
        f.write_all(b"first half, ").unwrap();
        std::thread::sleep(Duration::from_millis(150));
        f.write_all(b"second half\n").unwrap();
    }
    assert_eq!(wait_for_commits(base + 2), base + 2);

    // 3. Vim: probe file, backup by rename, write, remove the backup; swap file meanwhile.
    std::fs::write(dir.join(".about.md.swp"), b"vim swap").unwrap();
    std::fs::write(dir.join("4913"), b"").unwrap();
    std::fs::remove_file(dir.join("4913")).unwrap();
    std::fs::rename(dir.join("about.md"), dir.join("about.md~")).unwrap();
    std::fs::write(dir.join("about.md"), b"saved by vim\n").unwrap();
    std::fs::remove_file(dir.join("about.md~")).unwrap();
    assert_eq!(wait_for_commits(base + 3), base + 3);
    std::fs::remove_file(dir.join(".about.md.swp")).unwrap();

    // 4. Office lock file while a document is open; Emacs lock and autosave.
    std::fs::write(dir.join("~$report.docx"), b"owner").unwrap();
    std::fs::write(dir.join("report.docx"), b"PK\x03\x04 document").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("user@host.1234", dir.join(".#notes.md")).unwrap();
    std::fs::write(dir.join("#notes.md#"), b"autosave").unwrap();
    std::fs::write(dir.join("notes.md"), b"saved by emacs\n").unwrap();
    assert_eq!(wait_for_commits(base + 4), base + 4);

    a.kill().unwrap();
    a.wait().unwrap();
    let server = w.server_files();
    for temp in [
        ".goutputstream-ABC123",
        ".about.md.swp",
        "4913",
        "about.md~",
        "~$report.docx",
        ".#notes.md",
        "#notes.md#",
    ] {
        assert!(!server.contains_key(temp), "{temp} was never committed");
    }
    assert_eq!(server["about.md"], b"saved by vim\n");
    assert_eq!(server["index.md"], b"first half, second half\n");
    let log = server_log(&w);
    assert!(
        log.iter().all(|m| !m.contains("Delete about.md")),
        "a save is never a delete: {log:?}"
    );
}

#[test]
fn s8_a_file_written_continuously_is_committed_whole_soon_after() {
    let w = World::new(&["a"]);
    let mut a = w
        .command(&w.clients[0], &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let full = |n: usize| format!("version {n:03}\n").repeat(2000).into_bytes();
    for n in 0..40 {
        std::fs::write(w.dir(0).join("log.txt"), full(n)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopped = Instant::now();
    while w.server_files().get("log.txt") != Some(&full(39)) {
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "the final content arrives soon after writes stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "final content on the server {:?} after the last write",
        stopped.elapsed()
    );
    a.kill().unwrap();
    a.wait().unwrap();
    // Every version the server ever saw is a whole one.
    let bare = w.server();
    for rev in git(&bare, &["rev-list", "main", "--", "log.txt"]).lines() {
        let blob = Command::new("git")
            .args(["show", &format!("{rev}:log.txt")])
            .current_dir(&bare)
            .output()
            .unwrap()
            .stdout;
        if blob.is_empty() {
            continue;
        }
        let n: usize = String::from_utf8_lossy(&blob[8..11]).parse().unwrap();
        assert_eq!(blob, full(n), "commit {rev} holds a whole version");
    }
}

/// Issue 12 (one app): a running Ferry applies what another Ferry process
/// changes in the settings beside it — a folder paused, resumed, added and
/// removed with the CLI while `ferry sync` (or the desktop app) runs.
#[test]
fn a_running_ferry_follows_pause_resume_add_and_remove_made_by_another_ferry() {
    let w = World::new(&["a"]);
    let c = &w.clients[0];
    let _daemon = w.daemon(0);
    let folders = || -> Vec<Value> {
        let out = w.ferry(c, &["status", "--json"], "");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["folders"].as_array().cloned().unwrap_or_default()
    };
    let state_of = |dir: &std::path::Path| -> Option<String> {
        folders()
            .into_iter()
            .find(|f| f["path"] == dir.display().to_string())
            .and_then(|f| f["state"].as_str().map(str::to_string))
    };
    assert!(
        wait_until(Duration::from_secs(20), || state_of(w.dir(0)).as_deref()
            == Some("synced")),
        "{:?}",
        folders()
    );
    let dir = w.dir(0).to_str().unwrap();

    let paused = w.ferry(c, &["folder", "pause", dir], "");
    assert!(paused.status.success(), "{}", text(&paused));
    assert!(
        wait_until(Duration::from_secs(10), || state_of(w.dir(0)).as_deref()
            == Some("paused")),
        "the running Ferry shows the pause: {:?}",
        folders()
    );
    write(w.dir(0), "while-paused.md", b"held back\n");
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !w.server_files().contains_key("while-paused.md"),
        "a paused folder sends nothing"
    );
    let resumed = w.ferry(c, &["folder", "resume", dir], "");
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        wait_until(Duration::from_secs(20), || w
            .server_files()
            .contains_key("while-paused.md")),
        "resuming sends what was saved meanwhile"
    );
    w.check_invariants(&[b"held back\n"]);

    // A folder added beside the running Ferry is synced by it.
    let second = w.session.home().join("Second copy");
    let added = w.ferry(
        c,
        &["folder", "add", "a", PROJECT, second.to_str().unwrap()],
        "",
    );
    assert!(added.status.success(), "{}", text(&added));
    write(&second, "from-second.md", b"sent by the second folder\n");
    assert!(
        wait_until(Duration::from_secs(20), || w
            .server_files()
            .contains_key("from-second.md")),
        "the running Ferry syncs the added folder: {:?}",
        folders()
    );
    // Removed, its loop ends: a later save there stays on this computer.
    let removed = w.ferry(c, &["folder", "remove", second.to_str().unwrap()], "");
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(
        wait_until(Duration::from_secs(10), || folders().len() == 1),
        "{:?}",
        folders()
    );
    std::thread::sleep(Duration::from_secs(1));
    write(&second, "after-removal.md", b"stays here\n");
    std::thread::sleep(Duration::from_secs(4));
    assert!(!w.server_files().contains_key("after-removal.md"));
    assert_eq!(
        std::fs::read(second.join("after-removal.md")).unwrap(),
        b"stays here\n",
        "its files stay where they are"
    );
    assert!(
        wait_until(Duration::from_secs(20), || w
            .dir(0)
            .join("from-second.md")
            .is_file()),
        "the first folder received the second's file"
    );
}

/// Issue 12 (one app): every desktop action has its CLI twin, and it
/// reaches the Ferry that syncs — here `ferry sync`, the desktop app alike
/// (both run `ferry::app::App`): pause for a while, resume, sync now, and
/// the preferences with the Settings screen's validation.
#[test]
fn pause_resume_sync_now_and_preferences_from_the_cli_reach_the_ferry_that_syncs() {
    let w = World::new(&["a"]);
    let c = &w.clients[0];
    let dir = w.dir(0).to_str().unwrap().to_string();

    // Nothing runs yet: nothing to pause, and the CLI says so.
    let lonely = w.ferry(c, &["pause"], "");
    assert_eq!(lonely.status.code(), Some(1), "{}", text(&lonely));
    assert!(text(&lonely).contains("isn't running"), "{}", text(&lonely));

    let _daemon = w.daemon(0);
    let status = || -> Value {
        let out = w.ferry(c, &["status", "--json"], "");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(20), || status()["folders"][0]["state"]
            == "synced"),
        "{}",
        status()
    );

    let paused = w.ferry(c, &["pause", "--for", "10m"], "");
    assert!(paused.status.success(), "{}", text(&paused));
    assert!(text(&paused).contains("10 minutes"), "{}", text(&paused));
    assert!(
        wait_until(Duration::from_secs(10), || status()["paused"] == true),
        "the running Ferry is paused: {}",
        status()
    );
    write(w.dir(0), "during-pause.md", b"waits for resume\n");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !w.server_files().contains_key("during-pause.md"),
        "nothing is sent while paused"
    );
    let resumed = w.ferry(c, &["resume"], "");
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        wait_until(Duration::from_secs(20), || w
            .server_files()
            .contains_key("during-pause.md")),
        "resuming sends what waited: {}",
        status()
    );
    assert_eq!(status()["paused"], false);

    let now = w.ferry(c, &["sync-now", &dir], "");
    assert!(now.status.success(), "{}", text(&now));
    let all = w.ferry(c, &["sync-now"], "");
    assert!(all.status.success(), "{}", text(&all));
    let unknown = w.ferry(c, &["sync-now", "/nowhere/at/all"], "");
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("No synced folder"),
        "{}",
        text(&unknown)
    );

    // Preferences: saved with the Settings screen's limits.
    let set = w.ferry(c, &["settings", "set", "poll_interval_secs", "5"], "");
    assert!(set.status.success(), "{}", text(&set));
    assert!(
        text(&set).contains("poll_interval_secs = 15"),
        "{}",
        text(&set)
    );
    let shown = w.ferry(c, &["settings", "show", "--json"], "");
    let prefs: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(prefs["poll_interval_secs"], 15, "{prefs}");
    for bad in [
        &["settings", "set", "poll_interval_secs", "often"][..],
        &["settings", "set", "no_such_thing", "1"],
        &["settings", "set", "start_at_login", "true"],
    ] {
        let out = w.ferry(c, bad, "");
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", text(&out));
    }
    w.check_invariants(&[b"waits for resume\n"]);
}
