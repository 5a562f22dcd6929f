//! One test per finding of ../shared/findings/DATA-SAFETY.md (`dsNN_…`) and
//! SECURITY.md (`secNN_…`), named after its ID as ripgrep's
//! tests/regression.rs does. Each follows the finding's "Test" paragraph
//! with real `ferry` processes against ferry-testkit, and ends with the
//! invariants I1–I7 (tests/common/world.rs) where the finding allows.
//!
//! # Limitations
//! Linux, as root (loop devices, FUSE, tmpfs). Sizes are smaller than the
//! findings' where noted (DS-2: 64 MiB instead of 200 MB).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::text;
use common::world::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------- helpers

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// One `sync --once` of client `i` that must end synced.
fn synced(w: &World, i: usize) {
    synced_because(w, i, "the sync succeeds");
}

fn synced_because(w: &World, i: usize, why: &str) {
    let out = w.sync(i);
    assert!(out.status.success(), "{why}: {}", text(&out));
}

fn state(v: &Value) -> &str {
    v["state"].as_str().unwrap_or_default()
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

/// True when `note_path` is `path` or a folder above it.
fn covers(note_path: &str, path: &str) -> bool {
    path == note_path || path.starts_with(&format!("{note_path}/"))
}

/// The server paths client `i` does not hold (as git would check them out).
fn not_held(w: &World, i: usize) -> Vec<String> {
    let local = folder_entries(w.dir(i));
    w.server_entries()
        .into_keys()
        .filter(|p| !local.contains_key(p))
        .collect()
}

/// Every server path client `i` does not hold is named by a note of one of
/// `kinds` in `v` (`sync --json`), the folder says it needs attention, and
/// its message names one of them. Returns those paths, for `absent()`.
fn refused_and_reported(w: &World, i: usize, v: &Value, kinds: &[&str]) -> Vec<String> {
    let missing = not_held(w, i);
    let notes = notes(v);
    for path in &missing {
        assert!(
            notes.iter().any(|n| {
                kinds.iter().any(|k| n["kind"] == *k)
                    && covers(n["path"].as_str().unwrap_or("\u{0}"), path)
            }),
            "a server entry the folder can't hold is reported, never dropped silently: {path:?} has no note of kind {kinds:?}: {v}"
        );
    }
    if !missing.is_empty() {
        assert_eq!(
            state(v),
            "error",
            "refused entries make the folder need attention: {v}"
        );
        let msg = message(v);
        assert!(
            notes.iter().any(|n| {
                let p = n["path"].as_str().unwrap_or("\u{0}");
                let file = p.rsplit('/').next().unwrap_or(p);
                msg.contains(p) || msg.contains(file)
            }),
            "the message names the refused file(s): {v}"
        );
    }
    missing
}

/// Waits for `path` in `dir` to hold `bytes`.
fn wait_for_file(dir: &Path, path: &str, bytes: &[u8], limit: Duration) -> bool {
    wait_until(limit, || {
        std::fs::read(dir.join(path)).ok().as_deref() == Some(bytes)
    })
}

/// Names of Ferry's temp files anywhere in a folder (old `.NAME.ferry-tmp-PID`, new `.ferry-tmp-HEX`).
fn temp_files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            if name.contains(".ferry-tmp-") {
                out.push(e.path().display().to_string());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn admin_requests(url: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{url}/-/testkit/requests"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn reset_requests(url: &str) {
    reqwest::blocking::Client::new()
        .delete(format!("{url}/-/testkit/requests"))
        .send()
        .unwrap();
}

// ---------------------------------------------------------------- #12

/// Issue #12: an OAuth refresh that meets a server error (5xx) or a rate
/// limit (429) is retried with backoff — the folder doesn't stop and wait
/// for the user, and the save arrives.
#[test]
fn r12_an_oauth_refresh_meeting_5xx_or_429_is_retried() {
    use ferry_testkit::{Options, Testkit};
    // Short-lived tokens: every cycle refreshes (Ferry refreshes 5 min ahead).
    let kit = Testkit::start(Options {
        auto_approve: true,
        token_lifetime: Some(60),
        ..Options::default()
    })
    .unwrap();
    let s = common::Session::start(true);
    let o = &kit.info().oauth;
    let add = s.ferry_with(
        &[
            "instance",
            "add",
            kit.url(),
            "--oauth",
            "--client-id",
            &o.client_id,
            "--client-secret-stdin",
            "--name",
            "work",
            "--timeout",
            "30",
        ],
        &format!("{}\n", o.client_secret),
        &[("BROWSER", "curl -s -L -o /dev/null")],
    );
    assert!(add.status.success(), "{}", text(&add));
    let dir = s.home().join("Website");
    let folder = s.ferry(
        &[
            "folder",
            "add",
            "work",
            "editor/website",
            dir.to_str().unwrap(),
        ],
        "",
    );
    assert!(folder.status.success(), "{}", text(&folder));
    let faults = |body: Value| {
        reqwest::blocking::Client::new()
            .post(format!("{}/-/testkit/faults", kit.url()))
            .json(&body)
            .send()
            .unwrap();
    };
    let bare = kit.repo_dir("editor/website");
    let on_server = |name: &str| {
        Command::new("git")
            .args(["cat-file", "-e", &format!("main:{name}")])
            .current_dir(&bare)
            .status()
            .unwrap()
            .success()
    };
    let mut daemon = s
        .command(env!("CARGO_BIN_EXE_ferry"))
        .arg("--config-dir")
        .arg(s.config())
        .args(["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for (status, file) in [(503, "after-503.md"), (429, "after-429.md")] {
        faults(
            json!({"fail_next": 3, "fail_status": status, "retry_after_secs": 1, "path_filter": "/oauth/token"}),
        );
        std::fs::write(dir.join(file), format!("sent through {status}s\n")).unwrap();
        let arrived = wait_until(Duration::from_secs(90), || on_server(file));
        assert!(
            arrived,
            "a save arrives after refreshes meeting {status}: {}",
            text(&s.ferry(&["status", "--json"], ""))
        );
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
}

// ---------------------------------------------------------------- DS-1

/// DS-1: `b` turns the file `press` into a folder and pushes while `a`
/// edits the file: a's edit survives (as the file or a conflict copy).
#[test]
fn ds01_file_replaced_by_folder_keeps_local_edit() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "press", b"v1\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    std::fs::remove_file(w.dir(1).join("press")).unwrap();
    write(w.dir(1), "press/a.md", b"x\n");
    settle_time();
    synced_because(&w, 1, "b sends its folder");
    write(w.dir(0), "press", b"A's edit\n");
    settle_time();
    w.sync(0);
    w.settle();
    let files = folder_files(w.dir(0));
    assert_eq!(
        files.get("press/a.md").map(Vec::as_slice),
        Some(b"x\n".as_slice()),
        "b's folder arrives"
    );
    assert!(
        files.values().any(|v| v == b"A's edit\n"),
        "a's unpushed edit of the file is kept on disk: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    w.check_invariants(&[b"A's edit\n", b"x\n"]);
}

/// DS-1 mirror: `b` turns the folder `press/` into a file and pushes while
/// `a` edits `press/a.md`: a's edit survives, and so does b's file.
#[test]
fn ds01_folder_replaced_by_file_keeps_local_edit() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "press/a.md", b"v1\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    std::fs::remove_dir_all(w.dir(1).join("press")).unwrap();
    write(w.dir(1), "press", b"B's file\n");
    settle_time();
    synced_because(&w, 1, "b sends its file");
    write(w.dir(0), "press/a.md", b"A's edit\n");
    settle_time();
    w.sync(0);
    w.settle();
    let files = folder_files(w.dir(0));
    assert!(
        files.values().any(|v| v == b"A's edit\n"),
        "a's unpushed edit inside the folder is kept: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert!(
        files.values().any(|v| v == b"B's file\n"),
        "b's file is kept too: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    w.check_invariants(&[b"A's edit\n", b"B's file\n"]);
}

// ---------------------------------------------------------------- DS-2

/// DS-2: the user saves `big.bin` while Ferry writes a colleague's new
/// version of it: the save is kept and committed. 64 MiB instead of the
/// finding's 200 MB (the window is the same: write + fsync of the temp
/// file), five times.
#[test]
fn ds02_save_during_apply_is_kept() {
    let w = World::new(&["a", "b"]);
    const SIZE: usize = 64 << 20;
    write(w.dir(0), "big.bin", &noise(SIZE, 1));
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    let mut hits = 0;
    let mut edits = Vec::new();
    for round in 0..5u64 {
        write(w.dir(0), "big.bin", &noise(SIZE, round + 2));
        settle_time();
        synced_because(&w, 0, &format!("a sends version {round}"));
        let edit = format!("USER EDIT {round}\n").into_bytes();
        let mut child = w
            .command(&w.clients[1], &["sync", "--once", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut saved = false;
        while child.try_wait().unwrap().is_none() {
            if !saved && !temp_files(w.dir(1)).is_empty() {
                std::fs::write(w.dir(1).join("big.bin"), &edit).unwrap();
                saved = true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if saved {
            hits += 1;
            edits.push(edit);
        }
        w.settle();
    }
    assert!(
        hits > 0,
        "at least one save landed while Ferry was writing the temp file"
    );
    eprintln!("saves during the write: {hits} of 5");
    let refs: Vec<&[u8]> = edits.iter().map(Vec::as_slice).collect();
    w.check_invariants(&refs);
}

// ---------------------------------------------------------------- DS-3

/// DS-3: `a` (case-sensitive) renames `about.md` to `About.md`; `b` on a
/// real case-insensitive disk (exFAT) keeps the file, and nobody pushes a
/// deletion. An NFD name converges without ping-pong (I6).
#[test]
fn ds03_case_only_rename_on_case_insensitive_disk() {
    let disk = CaseInsensitiveDisk::new(64);
    let w = World::builder()
        .client("a")
        .client_at("b", &disk.path().join("Website-b"))
        .start();
    let before = std::fs::read(w.dir(0).join("about.md")).unwrap();
    std::fs::rename(w.dir(0).join("about.md"), w.dir(0).join("About.md")).unwrap();
    write(w.dir(0), "cafe\u{301}.md", b"NFD name\n");
    settle_time();
    synced(&w, 0);
    w.sync(1);
    w.sync(1);
    let names: Vec<String> = std::fs::read_dir(w.dir(1))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"About.md".to_string()),
        "b holds the renamed file under its new name: {names:?}"
    );
    assert_eq!(
        std::fs::read(w.dir(1).join("About.md")).unwrap(),
        before,
        "with its content"
    );
    assert_eq!(
        w.server_files().get("About.md"),
        Some(&before),
        "the server keeps About.md"
    );
    let log = server_log(&w);
    assert!(
        log.iter().all(|m| !m.contains("Delete")),
        "a case-only rename is never pushed as a deletion: {log:?}"
    );
    w.settle();
    w.check_invariants(&[&before, b"NFD name\n"]);
}

// ---------------------------------------------------------------- DS-4

/// DS-4: a colleague pushes a submodule (gitlink), later removes it; the
/// folder never wedges: a later edit reaches the server.
#[test]
fn ds04_submodule_then_removed_does_not_wedge() {
    let w = World::new(&["a", "b"]);
    let c = w.colleague("c");
    c.write(
        ".gitmodules",
        b"[submodule \"themes/nice\"]\n\tpath = themes/nice\n\turl = https://example.com/themes/nice.git\n",
    );
    c.git(&["add", ".gitmodules"]);
    c.add_cacheinfo(
        "160000",
        "5e1f6a3d2b9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
        "themes/nice",
    );
    c.commit_index("Add the nice theme as a submodule");
    c.push();
    let v = w.sync_json(1);
    assert_eq!(
        state(&v),
        "synced",
        "a submodule is skipped with a note, the folder stays synced: {v}"
    );
    assert!(
        has_note(&v, "submodule", "themes/nice"),
        "the submodule is named in a note: {v}"
    );
    c.git(&["rm", "-q", "--cached", "themes/nice"]);
    c.git(&["rm", "-q", ".gitmodules"]);
    c.commit_index("Remove the submodule");
    c.push();
    w.sync(1);
    write(w.dir(1), "other.md", b"after the submodule\n");
    settle_time();
    w.sync(1);
    w.sync(1);
    assert_eq!(
        w.server_files().get("other.md").map(Vec::as_slice),
        Some(b"after the submodule\n".as_slice()),
        "b's edit reaches the server: the folder is not wedged"
    );
    assert!(
        !w.dir(1).join(".git/ferry-apply").exists(),
        "no apply journal is left behind"
    );
    w.settle();
    w.check_invariants(&[b"after the submodule\n"]);
}

/// DS-4 variant: a 253-byte name (`é`×125 + `.md`) arrives and the folder
/// keeps syncing (the temp file's name must not be longer than NAME_MAX).
#[test]
fn ds04_long_name_does_not_wedge() {
    let w = World::new(&["a", "b"]);
    let long = format!("{}.md", "é".repeat(125));
    assert_eq!(long.len(), 253);
    let c = w.colleague("c");
    c.write(&long, b"a long name\n");
    c.commit("Add a long name");
    c.push();
    w.sync(1);
    write(w.dir(1), "other.md", b"after the long name\n");
    settle_time();
    w.sync(1);
    w.sync(1);
    assert_eq!(
        w.server_files().get("other.md").map(Vec::as_slice),
        Some(b"after the long name\n".as_slice()),
        "b's edit reaches the server: the folder is not wedged"
    );
    assert!(
        !w.dir(1).join(".git/ferry-apply").exists(),
        "no apply journal is left behind"
    );
    assert_eq!(
        std::fs::read(w.dir(1).join(&long)).unwrap(),
        b"a long name\n",
        "a name git can check out, Ferry writes too"
    );
    w.settle();
    w.check_invariants(&[b"after the long name\n", b"a long name\n"]);
}

// ---------------------------------------------------------------- DS-5

/// DS-5: an apply interrupted by the user's save must not commit the
/// remote files already written as the user's edit: a draft the colleague
/// deleted meanwhile does not come back.
#[test]
fn ds05_half_applied_update_is_not_committed_as_users() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "zz.md", b"zz 0\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    let c = w.colleague("c");
    write(w.dir(0), "b-draft.md", b"a draft\n");
    for n in 0..3000 {
        write(
            w.dir(0),
            &format!("m/{n:04}.md"),
            format!("m {n}\n").as_bytes(),
        );
    }
    write(w.dir(0), "zz.md", b"zz from a\n");
    settle_time();
    synced_because(&w, 0, "a sends R1");
    c.pull();
    let mut child = w
        .command(&w.clients[1], &["sync", "--once", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || w
            .dir(1)
            .join("b-draft.md")
            .exists()),
        "b starts applying R1"
    );
    let dir = w.dir(1).to_path_buf();
    let editor = std::thread::spawn(move || {
        let mut last = Vec::new();
        for k in 0..20 {
            last = format!("zz from b {k}\n").into_bytes();
            std::fs::write(dir.join("zz.md"), &last).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        last
    });
    std::fs::remove_file(c.dir.join("b-draft.md")).unwrap();
    c.commit("Delete the draft");
    c.push();
    let last = editor.join().unwrap();
    child.wait().unwrap();
    settle_time();
    w.settle();
    assert!(
        !w.server_files().contains_key("b-draft.md"),
        "the colleague's deletion of b-draft.md stands: half-applied files are not b's edits"
    );
    w.check_invariants(&[&last]);
}

// ---------------------------------------------------------------- DS-6

/// DS-6: an executable bit set on one side arrives on the other, and the
/// server's history stops growing.
#[test]
fn ds06_executable_bit_arrives_and_does_not_ping_pong() {
    let w = World::new(&["a", "b"]);
    std::fs::set_permissions(
        w.dir(0).join("about.md"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    settle_time();
    synced(&w, 0);
    for _ in 0..3 {
        w.sync(1);
        w.sync(0);
    }
    assert!(
        mode(&w.dir(1).join("about.md")) & 0o100 != 0,
        "the executable bit arrives on b: {:o}",
        mode(&w.dir(1).join("about.md"))
    );
    let log = server_log(&w).len();
    w.rounds(3);
    assert_eq!(
        server_log(&w).len(),
        log,
        "no client flips the mode back: the history stops growing"
    );
    w.check_invariants(&[]);
}

// ---------------------------------------------------------------- DS-7

/// DS-7: a maintainer force-pushes to purge `secret.txt`; no client
/// brings it back.
#[test]
fn ds07_force_push_is_not_undone() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "secret.txt", b"password=hunter2\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    let c = w.colleague("maintainer");
    c.git(&["reset", "-q", "--hard", "HEAD~1"]);
    c.write("purged.md", b"the secret was purged\n");
    c.commit("Purge the secret");
    c.force_push();
    let purged = w.server_tip();
    w.sync(1);
    assert!(
        !w.server_files().contains_key("secret.txt"),
        "b does not push the purged commit back"
    );
    w.settle();
    assert!(!w.server_files().contains_key("secret.txt"), "nor does a");
    w.check().forward_since(&purged).run();
}

// ---------------------------------------------------------------- DS-8

/// DS-8: a folder replaced by a file on the server arrives, and the
/// folder keeps sending.
#[test]
fn ds08_folder_replaced_by_file() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "notes/a.md", b"a\n");
    write(w.dir(0), "notes/b.md", b"b\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    std::fs::remove_dir_all(w.dir(0).join("notes")).unwrap();
    write(w.dir(0), "notes", b"notes is a file now\n");
    settle_time();
    synced(&w, 0);
    w.sync(1);
    write(w.dir(1), "local.md", b"b's local file\n");
    settle_time();
    w.sync(1);
    assert_eq!(
        w.server_files().get("local.md").map(Vec::as_slice),
        Some(b"b's local file\n".as_slice()),
        "b keeps sending after the folder became a file"
    );
    assert!(
        w.dir(1).join("notes").is_file(),
        "notes is a file on b as on the server"
    );
    w.settle();
    w.check_invariants(&[b"notes is a file now\n", b"b's local file\n"]);
}

/// DS-8: with `*.md text eol=crlf`, the clone writes CRLF; an edit from
/// `a` still arrives on `b` (compared through git's filters).
#[test]
fn ds08_crlf_attributes() {
    let mut w = World::new(&["a"]);
    write(w.dir(0), ".gitattributes", b"*.md text eol=crlf\n");
    settle_time();
    synced(&w, 0);
    w.add_client_later("b");
    assert!(
        std::fs::read(w.dir(1).join("about.md"))
            .unwrap()
            .windows(2)
            .any(|p| p == b"\r\n"),
        "b's clone has CRLF line endings, as the attributes ask"
    );
    write(w.dir(0), "about.md", b"# About\n\nEdited by a.\n");
    settle_time();
    synced(&w, 0);
    let v = w.sync_json(1);
    assert_eq!(state(&v), "synced", "b takes a's edit: {v}");
    assert_eq!(
        std::fs::read(w.dir(1).join("about.md")).unwrap(),
        b"# About\r\n\r\nEdited by a.\r\n",
        "a's edit arrives on b, with CRLF as the attributes ask"
    );
    w.settle();
    w.check_invariants(&[b"# About\n\nEdited by a.\n"]);
}

/// DS-8: a colleague force-adds a `.env` over b's different, ignored
/// `.env` and edits `index.md`: b keeps its own `.env`, says so, and gets
/// `index.md`.
#[test]
fn ds08_ignored_local_file_under_server_file() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), ".gitignore", b".env\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    write(w.dir(1), ".env", b"B_SECRET=mine\n");
    let c = w.colleague("c");
    c.write(".env", b"SHARED=yes\n");
    c.git(&["add", "-f", ".env"]);
    c.write("index.md", b"# Home\n\nEdited by a colleague.\n");
    c.commit("Share .env, edit index");
    c.push();
    settle_time();
    let v = w.sync_json(1);
    assert_eq!(
        std::fs::read(w.dir(1).join("index.md")).unwrap(),
        b"# Home\n\nEdited by a colleague.\n",
        "the rest of the update arrives: {v}"
    );
    assert_eq!(
        std::fs::read(w.dir(1).join(".env")).unwrap(),
        b"B_SECRET=mine\n",
        "b's own ignored .env is never overwritten"
    );
    assert!(
        has_note(&v, "occupied", ".env"),
        "the folder says why .env didn't arrive: {v}"
    );
    assert_eq!(state(&v), "error", "it needs attention: {v}");
    assert!(message(&v).contains(".env"), "the message names .env: {v}");
    w.rounds(2);
    w.check_invariants_except(&[b"B_SECRET=mine\n"], &[".env"]);
}

// ---------------------------------------------------------------- DS-9

/// DS-9: a nested git repository (a theme cloned from elsewhere) is left
/// out with a note; the folder keeps sending.
#[test]
fn ds09_nested_repository_is_left_out() {
    let w = World::new(&["a"]);
    let theme = w.dir(0).join("themes/x");
    std::fs::create_dir_all(&theme).unwrap();
    git(&theme, &["init", "-q"]);
    write(&theme, "theme.css", b"body { color: teal }\n");
    git(&theme, &["add", "."]);
    git(&theme, &["commit", "-q", "-m", "theme"]);
    w.rebaseline();
    write(w.dir(0), "about.md", b"about, with a theme beside\n");
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(
        w.server_files().get("about.md").map(Vec::as_slice),
        Some(b"about, with a theme beside\n".as_slice()),
        "the edit reaches the server despite the nested repository: {v}"
    );
    assert!(
        !w.server_files().keys().any(|k| k.starts_with("themes/")),
        "the nested repository is not committed"
    );
    assert_eq!(
        state(&v),
        "synced",
        "a nested repository is a note, not an error: {v}"
    );
    assert!(
        has_note(&v, "nested_repository", "themes/x"),
        "and it is named: {v}"
    );
    w.check_invariants(&[b"about, with a theme beside\n"]);
}

// ---------------------------------------------------------------- DS-10

/// DS-10: adopting a clone that is on another branch (with a deletion
/// committed there) sends nothing of that branch.
#[test]
fn ds10_adopting_a_clone_on_another_branch_pushes_nothing() {
    let mut w = World::new(&["a"]);
    let seeded = w.server_files();
    let dir = w.session.home().join("Website-b");
    git(
        w.session.home().as_path(),
        &["clone", "-q", w.server().to_str().unwrap(), "Website-b"],
    );
    git(&dir, &["checkout", "-q", "-b", "redesign"]);
    git(&dir, &["rm", "-q", "about.md"]);
    git(&dir, &["commit", "-q", "-m", "Redesign without about"]);
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            &format!("{}/{PROJECT}.git", w.kit.url()),
        ],
    );
    let add = w.try_add_client_at("b", &dir);
    if !add.status.success() {
        assert_eq!(
            w.server_files(),
            seeded,
            "a refused adoption changes nothing on the server"
        );
        return;
    }
    write(&dir, "contact.md", b"contact us\n");
    settle_time();
    w.sync(1);
    let now = w.server_files();
    for (path, bytes) in &seeded {
        assert_eq!(
            now.get(path),
            Some(bytes),
            "{path} on the server is untouched by the other branch"
        );
    }
    w.settle();
    w.check_invariants(&[b"contact us\n"]);
}

// ---------------------------------------------------------------- DS-11

/// DS-11: 10,000 files added, then exactly half of 10,006 deleted: Ferry
/// asks, deletes nothing on the server, and its memory stays bounded.
#[test]
fn ds11_deleting_exactly_half_of_10006_files_asks() {
    let w = World::new(&["a"]);
    for n in 0..10_000 {
        write(
            w.dir(0),
            &format!("bulk/{:02}/{n:05}.md", n / 500),
            format!("file {n}\n").as_bytes(),
        );
    }
    settle_time();
    synced(&w, 0);
    for n in 0..5003 {
        std::fs::remove_file(w.dir(0).join(format!("bulk/{:02}/{n:05}.md", n / 500))).unwrap();
    }
    settle_time();
    let mut child = w
        .command(&w.clients[0], &["sync", "--once", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = std::process::Output {
        status: child.wait().unwrap(),
        stdout: reader.join().unwrap(),
        stderr: Vec::new(),
    };
    let v = folder_json(&out);
    assert_eq!(
        state(&v),
        "paused",
        "half of the files deleted: Ferry asks: {v}"
    );
    assert!(
        message(&v).contains("5003 of 10006 files were deleted from the folder"),
        "the question says how many: {v}"
    );
    assert_eq!(
        w.server_files().len(),
        10_006,
        "nothing is deleted on the server before the user answers"
    );
    eprintln!("peak memory of sync --once: {} MiB", peak_kib / 1024);
    assert!(
        peak_kib < 512 * 1024,
        "memory stays bounded with 10,006 files: {peak_kib} KiB"
    );
}

/// DS-11: all 9 files of a small project deleted: Ferry asks; approving
/// that deletion lets it go ahead.
#[test]
fn ds11_deleting_all_9_files_of_a_small_project_asks() {
    let w = World::new(&["a"]);
    for n in 0..3 {
        write(w.dir(0), &format!("extra-{n}.md"), b"extra\n");
    }
    settle_time();
    synced(&w, 0);
    assert_eq!(w.server_files().len(), 9, "a project of 9 files");
    for path in w.server_files().keys() {
        std::fs::remove_file(w.dir(0).join(path)).unwrap();
    }
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "paused", "every file deleted: Ferry asks: {v}");
    assert!(
        message(&v).contains("9 of 9 files were deleted from the folder"),
        "the question says how many: {v}"
    );
    assert_eq!(
        w.server_files().len(),
        9,
        "nothing deleted before the answer"
    );
    let dir = w.dir(0).to_str().unwrap().to_string();
    let allow = w.ferry(&w.clients[0], &["folder", "allow-deletion", &dir], "");
    assert!(allow.status.success(), "{}", text(&allow));
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "the approved deletion goes ahead: {v}");
    assert!(
        w.server_files().is_empty(),
        "the user's deletion reaches the server"
    );
    w.check_invariants(&[]);
}

/// DS-11: 30 of 36 files moved into `archive/` is a move, not a mass deletion.
#[test]
fn ds11_moving_30_of_36_files_into_archive_does_not_ask() {
    let w = World::new(&["a"]);
    for n in 0..30 {
        write(
            w.dir(0),
            &format!("pages/{n:02}.md"),
            format!("page {n}\n").as_bytes(),
        );
    }
    settle_time();
    synced(&w, 0);
    std::fs::rename(w.dir(0).join("pages"), w.dir(0).join("archive")).unwrap();
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "a move is not a deletion: {v}");
    let server = w.server_files();
    assert_eq!(
        server.keys().filter(|k| k.starts_with("archive/")).count(),
        30,
        "the moved files arrive"
    );
    assert!(!server.keys().any(|k| k.starts_with("pages/")));
    w.check_invariants(&[b"page 0\n", b"page 29\n"]);
}

/// DS-11: 9 deletions per cycle stay under a per-snapshot guard; Ferry
/// asks before more than half of the folder is gone from the server.
#[test]
fn ds11_deletions_spread_over_several_cycles_ask() {
    let w = World::new(&["a"]);
    for n in 0..30 {
        write(
            w.dir(0),
            &format!("pages/{n:02}.md"),
            format!("page {n}\n").as_bytes(),
        );
    }
    settle_time();
    synced(&w, 0);
    let mut asked = None;
    for cycle in 0..4 {
        for n in cycle * 9..((cycle + 1) * 9).min(30) {
            std::fs::remove_file(w.dir(0).join(format!("pages/{n:02}.md"))).unwrap();
        }
        settle_time();
        let v = w.sync_json(0);
        if state(&v) == "paused" {
            asked = Some(v);
            break;
        }
    }
    let v = asked.expect("Ferry asks before 30 of 36 files are gone, 9 at a time");
    assert!(
        message(&v).contains("were deleted from the folder"),
        "the question is about deletions: {v}"
    );
    assert!(
        w.server_files().len() >= 18,
        "at least half of the 36 files are still on the server when Ferry asks: {}",
        w.server_files().len()
    );
}

/// DS-11: a colleague's push deleting 30 of 36 files pauses before it is
/// applied; the approval covers exactly that set (a bigger one asks again).
#[test]
fn ds11_a_colleagues_push_deleting_most_files_asks_before_applying() {
    let w = World::new(&["a", "b"]);
    for n in 0..30 {
        write(
            w.dir(0),
            &format!("pages/{n:02}.md"),
            format!("page {n}\n").as_bytes(),
        );
    }
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    let c = w.colleague("c");
    c.git(&["rm", "-q", "-r", "pages"]);
    c.commit_index("Remove all pages");
    c.push();
    let v = w.sync_json(1);
    assert_eq!(state(&v), "paused", "b asks before applying: {v}");
    assert!(
        message(&v).contains("would delete 30 of 36 files"),
        "the question says how many: {v}"
    );
    assert_eq!(
        folder_files(w.dir(1))
            .keys()
            .filter(|k| k.starts_with("pages/"))
            .count(),
        30,
        "nothing is deleted from b's folder before the answer"
    );
    let dir = w.dir(1).to_str().unwrap().to_string();
    let allow = w.ferry(&w.clients[1], &["folder", "allow-deletion", &dir], "");
    assert!(allow.status.success(), "{}", text(&allow));
    // The colleague deletes more before b syncs: a different set asks again.
    c.git(&["rm", "-q", "about.md", "index.md"]);
    c.commit_index("Remove two more");
    c.push();
    let v = w.sync_json(1);
    assert_eq!(
        state(&v),
        "paused",
        "an approval covers exactly the set that was pending: {v}"
    );
    assert!(
        message(&v).contains("would delete 32 of 36 files"),
        "the new question has the new count: {v}"
    );
    let allow = w.ferry(&w.clients[1], &["folder", "allow-deletion", &dir], "");
    assert!(allow.status.success(), "{}", text(&allow));
    let v = w.sync_json(1);
    assert_eq!(state(&v), "synced", "the approved deletion goes ahead: {v}");
    assert!(
        !w.dir(1).join("pages").exists(),
        "the pages are gone from b"
    );
    // Every client's own folder is asked about, not only the first one's.
    let v = w.sync_json(0);
    assert_eq!(state(&v), "paused", "a asks too: {v}");
    let dir_a = w.dir(0).to_str().unwrap().to_string();
    let allow = w.ferry(&w.clients[0], &["folder", "allow-deletion", &dir_a], "");
    assert!(allow.status.success(), "{}", text(&allow));
    w.settle();
    w.check_invariants(&[]);
}

// ---------------------------------------------------------------- DS-12

/// DS-12 (a): a log appended every 100 ms for 75 s (beyond the 60 s
/// deferral cap) is never pushed torn: every version on the server is the
/// finished one.
/// Issue 12 review: a file saved whole is sent at once (no quiet period),
/// but a file written in steps — closed, then written again by a second
/// open, or still held open for writing by another program — is never sent
/// half: each version on the server is a finished one.
#[test]
fn r12_a_file_written_in_steps_is_never_sent_half() {
    use std::io::Write;
    let w = World::new(&["a"]);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_millis(1500));
    let dir = w.dir(0).to_path_buf();

    // `echo header > f; echo body >> f`, the steps 50 ms apart (well
    // within the settle time, whatever the machine's load).
    std::fs::write(dir.join("steps.md"), b"header\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("steps.md"))
        .unwrap();
    f.write_all(b"body\n").unwrap();
    drop(f);

    // `: > f; slow_command >> f`: emptied and closed, then written slowly
    // through a descriptor held open.
    std::fs::write(dir.join("held.md"), b"").unwrap();
    let mut held = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("held.md"))
        .unwrap();
    for part in 0..6 {
        std::thread::sleep(Duration::from_millis(400));
        held.write_all(format!("part {part}\n").as_bytes()).unwrap();
    }
    held.write_all(b"END\n").unwrap();
    drop(held);

    let held_whole = std::fs::read(dir.join("held.md")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let server = w.server_files();
            server.get("steps.md").map(Vec::as_slice) == Some(b"header\nbody\n")
                && server.get("held.md") == Some(&held_whole)
        }),
        "both arrive whole"
    );
    daemon.stop();
    let bare = w.server();
    for (name, whole) in [
        ("steps.md", b"header\nbody\n".to_vec()),
        ("held.md", held_whole.clone()),
    ] {
        for rev in git(&bare, &["rev-list", "main", "--", name]).lines() {
            let blob = git_output(&bare, &["show", &format!("{rev}:{name}")]).stdout;
            assert!(
                blob.is_empty() || blob == whole,
                "commit {rev} holds {name} half written: {:?}",
                String::from_utf8_lossy(&blob)
            );
        }
    }
    w.check_invariants(&[b"header\nbody\n", &held_whole]);
}

#[test]
fn ds12a_a_log_appended_for_75_seconds_is_never_pushed_torn() {
    let w = World::new(&["a"]);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_millis(1500));
    let chunk = vec![b'.'; 4095]
        .into_iter()
        .chain([b'\n'])
        .collect::<Vec<u8>>();
    let path = w.dir(0).join("big.log");
    let start = Instant::now();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        while start.elapsed() < Duration::from_secs(75) {
            f.write_all(&chunk).unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        f.write_all(b"END\n").unwrap();
    }
    let finished = std::fs::read(&path).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || w.server_files().get("big.log")
            == Some(&finished)),
        "the finished log arrives soon after the writes stop"
    );
    daemon.stop();
    let bare = w.server();
    for rev in git(&bare, &["rev-list", "main", "--", "big.log"]).lines() {
        let blob = git_output(&bare, &["show", &format!("{rev}:big.log")]).stdout;
        assert!(
            blob.is_empty() || blob.ends_with(b"END\n"),
            "commit {rev} holds a torn big.log ({} bytes): a file still being written is never committed",
            blob.len()
        );
    }
    w.check_invariants(&[&finished]);
}

/// DS-12 (b): after a deferral (NotQuiet) and 70 s of failing pushes, a
/// file written in two halves is never committed with only its first half.
/// The halves are 900 ms apart (the finding says 600 ms: any gap under the
/// 1 s quiet period will do) around a cycle that another file's save
/// starts, so the cycle is sure to look between them; three files in turn.
#[test]
fn ds12b_a_file_written_in_halves_after_an_outage_is_not_committed_half() {
    use std::io::Write;
    let w = World::new(&["a"]);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_millis(1500));
    // One NotQuiet: a file still being written when a cycle looks.
    let mut waited = false;
    let busy = Instant::now();
    let mut k = 0;
    while busy.elapsed() < Duration::from_secs(8) && !waited {
        write(w.dir(0), "busy.md", format!("busy {k}\n").as_bytes());
        k += 1;
        waited |= message(&w.status(0)).contains("finish saving");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(waited, "setup: a cycle found busy.md still being written");
    let outage = Instant::now();
    faults(
        &w,
        json!({"fail_next": 100000, "fail_status": 503, "path_filter": ".git/"}),
    );
    while outage.elapsed() < Duration::from_secs(70) {
        std::thread::sleep(Duration::from_millis(500));
    }
    for n in 0..3 {
        // The watcher reports nudge.md after its 1 s quiet: a cycle starts
        // about 1 s from now, between the two halves.
        write(w.dir(0), &format!("nudge-{n}.md"), b"nudge\n");
        std::thread::sleep(Duration::from_millis(300));
        let mut f = std::fs::File::create(w.dir(0).join(format!("halves-{n}.md"))).unwrap();
        f.write_all(b"first half, ").unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(900));
        f.write_all(b"second half\n").unwrap();
        drop(f);
        std::thread::sleep(Duration::from_secs(3));
    }
    faults(&w, json!({}));
    // What the daemon committed during the outage is sent now (its own
    // retry may be minutes away after 70 s of failures).
    daemon.stop();
    w.sync(0);
    let whole = b"first half, second half\n";
    let bare = w.server();
    for n in 0..3 {
        let path = format!("halves-{n}.md");
        assert_eq!(
            w.server_files().get(&path).map(Vec::as_slice),
            Some(whole.as_slice()),
            "{path} arrives whole once the server is back"
        );
        for rev in git(&bare, &["rev-list", "main", "--", &path]).lines() {
            let blob = git_output(&bare, &["show", &format!("{rev}:{path}")]).stdout;
            assert!(
                blob.is_empty() || blob == whole,
                "commit {rev} holds only the first half of {path}: the quiet period must hold after an outage"
            );
        }
    }
    w.check_invariants(&[whole]);
}

/// DS-12 (d): an editor's delete-then-recreate, 20 times, with the daemon
/// running, is never pushed as "Delete about.md".
#[test]
fn ds12d_delete_then_recreate_is_never_pushed_as_a_delete() {
    let w = World::new(&["a"]);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_millis(1500));
    let path = w.dir(0).join("about.md");
    let mut last = Vec::new();
    for k in 0..20 {
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        last = format!("# About\n\nsave {k}\n").into_bytes();
        std::fs::write(&path, &last).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(20), || w.server_files().get("about.md")
            == Some(&last)),
        "the last save arrives"
    );
    daemon.stop();
    let log = server_log(&w);
    assert!(
        log.iter().all(|m| !m.contains("Delete about.md")),
        "a delete followed by a re-create is a save, never a deletion: {log:?}"
    );
    w.check_invariants(&[&last]);
}

// ---------------------------------------------------------------- DS-13

/// DS-13: disk full while pulling: a clear state, no partial file, and
/// the file arrives by itself once there is room (within 2 minutes here;
/// the finding allows 5).
#[test]
fn ds13_disk_full_resumes_by_itself() {
    let disk = SmallDisk::new("3m");
    let w = World::builder()
        .client("a")
        .client_at("b", &disk.path().join("Website-b"))
        .start();
    let big = noise(5 << 20, 13);
    write(w.dir(0), "big.bin", &big);
    settle_time();
    synced(&w, 0);
    let daemon = w.daemon(1);
    let mut last = Value::Null;
    let full = wait_until(Duration::from_secs(30), || {
        last = w.status(1);
        message(&last).to_lowercase().contains("disk is full")
    });
    assert!(full, "b says the disk is full: {last}");
    assert!(
        !w.dir(1).join("big.bin").exists(),
        "no partial file in the folder"
    );
    assert!(temp_files(w.dir(1)).is_empty(), "no temp file left behind");
    disk.resize("50m");
    assert!(
        wait_for_file(w.dir(1), "big.bin", &big, Duration::from_secs(120)),
        "the file arrives by itself once there is room: {}",
        w.status(1)
    );
    daemon.stop();
    w.settle();
    w.check_invariants(&[&big]);
}

/// Review of DS-13's fix: a partial update (the disk filled up after the
/// first file) is recorded in the index; the user then deletes the file
/// that did arrive, to make room. The next syncs must go on (not fail on
/// every cycle), and the colleague's files arrive once there is room.
#[test]
fn ds13_a_partly_applied_update_then_a_deletion_keeps_syncing() {
    // Room for the download (about 6 MiB) and the first file, not the second.
    let disk = SmallDisk::new("10m");
    let w = World::builder()
        .client("a")
        .client_at("b", &disk.path().join("Website-b"))
        .start();
    let small = noise(1 << 20, 131);
    let big = noise(5 << 20, 132);
    write(w.dir(0), "a-small.bin", &small);
    write(w.dir(0), "z-big.bin", &big);
    settle_time();
    synced(&w, 0);
    let v = w.sync_json(1);
    assert!(
        message(&v).to_lowercase().contains("disk is full"),
        "b runs out of room part way: {v}"
    );
    assert!(
        std::fs::read(w.dir(1).join("a-small.bin")).ok().as_deref() == Some(&small[..]),
        "the first file arrived whole"
    );
    // The user frees room by deleting what arrived.
    std::fs::remove_file(w.dir(1).join("a-small.bin")).unwrap();
    settle_time();
    disk.resize("50m");
    let v = w.sync_json(1);
    assert_ne!(state(&v), "error", "the next sync goes on: {v}");
    w.settle();
    assert!(
        std::fs::read(w.dir(1).join("z-big.bin")).ok().as_deref() == Some(&big[..]),
        "the big file arrives"
    );
    w.check_invariants(&[&big]);
}

/// Review of the snapshot: a file another git tool staged (VS Code's
/// "Stage") is the user's change: it is sent, never deleted by the next
/// change from GitLab.
#[test]
fn staged_by_another_git_tool_is_sent_not_deleted() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "draft.md", b"staged in an IDE\n");
    git(w.dir(0), &["add", "draft.md"]);
    write(w.dir(1), "news.md", b"from b\n");
    settle_time();
    synced(&w, 1);
    settle_time();
    w.sync(0);
    w.settle();
    assert_eq!(
        std::fs::read(w.dir(0).join("draft.md")).ok().as_deref(),
        Some(&b"staged in an IDE\n"[..]),
        "the staged file stays"
    );
    assert_eq!(
        w.server_files().get("draft.md").map(Vec::as_slice),
        Some(&b"staged in an IDE\n"[..]),
        "and is sent"
    );
    w.check_invariants(&[b"staged in an IDE\n", b"from b\n"]);
}

// ---------------------------------------------------------------- DS-14

/// DS-14: another git tool left a conflicted merge in the folder: Ferry
/// commits none of its conflict markers and asks for attention.
#[test]
fn ds14_foreign_unfinished_merge_is_not_committed() {
    let w = World::new(&["a"]);
    let d = w.dir(0).to_path_buf();
    git(&d, &["checkout", "-q", "-b", "side"]);
    write(&d, "about.md", b"about, from the side branch\n");
    git(&d, &["commit", "-q", "-am", "side"]);
    git(&d, &["checkout", "-q", "main"]);
    write(&d, "about.md", b"about, on main\n");
    git(&d, &["commit", "-q", "-am", "main"]);
    let merge = git_output(&d, &["merge", "side"]);
    assert!(!merge.status.success(), "the merge conflicts");
    assert!(d.join(".git/MERGE_HEAD").exists());
    w.rebaseline();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "error", "the folder asks for attention: {v}");
    assert!(
        message(&v).contains("unfinished merge"),
        "and says why: {v}"
    );
    let bare = w.server();
    for l in git(&bare, &["rev-list", "--objects", "--all"]).lines() {
        let oid = l.split_whitespace().next().unwrap();
        let out = git_output(&bare, &["cat-file", "-p", oid]);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("<<<<<<<"),
            "no conflict marker reaches the server"
        );
    }
    git(&d, &["merge", "--abort"]);
    w.rebaseline();
    settle_time();
    assert!(
        w.sync(0).status.success(),
        "once the user aborts the merge, syncing goes on"
    );
    w.settle();
    w.check_invariants(&[b"about, on main\n"]);
}

// ---------------------------------------------------------------- DS-15

/// DS-15: several conflict copies of one file made in the same minute all
/// end with the real extension.
#[test]
fn ds15_second_conflict_copy_keeps_extension() {
    let w = World::new(&["a", "b"]);
    faults(
        &w,
        json!({"fail_next": 100000, "fail_status": 503, "path_filter": ".git/"}),
    );
    let mut saves = Vec::new();
    for k in 0..3 {
        let v = format!("# About\n\na's offline save {k}\n").into_bytes();
        write(w.dir(0), "about.md", &v);
        settle_time();
        w.sync(0);
        saves.push(v);
        std::thread::sleep(Duration::from_secs(2));
    }
    faults(&w, json!({}));
    write(w.dir(1), "about.md", b"# About\n\nb's edit\n");
    settle_time();
    synced(&w, 1);
    w.sync(0);
    w.settle();
    let copies = conflict_copies(w.dir(0));
    assert!(!copies.is_empty(), "a's offline saves are kept as copies");
    for copy in &copies {
        assert!(
            copy.ends_with(").md"),
            "every conflict copy keeps the .md extension: {copies:?}"
        );
    }
    // The last offline save and b's edit are kept; the earlier saves were
    // superseded by a's own later save.
    w.check_invariants(&[&saves[2], b"# About\n\nb's edit\n"]);
}

// ---------------------------------------------------------------- DS-16

/// DS-16: a live git working on the folder from elsewhere (cwd `/`,
/// `GIT_DIR` set, the lock open — what `git --git-dir` looks like) keeps
/// its 10 s old `index.lock`; once it is gone, the stale lock is removed.
/// (The finding's holder is a bare `sleep` named `git-hold`; one that has
/// nothing to do with the folder can't be told from an unrelated program.)
#[test]
fn ds16_a_live_holder_elsewhere_keeps_its_lock() {
    let w = World::new(&["a"]);
    let lock = w.dir(0).join(".git/index.lock");
    std::fs::write(&lock, b"").unwrap();
    set_mtime(&lock, SystemTime::now() - Duration::from_secs(10));
    // A git working on the folder from elsewhere (`git --git-dir`, cwd `/`)
    // that has the lock open; a sleep stands for it.
    let hold = w.scratch().join("git-hold");
    std::fs::copy("/bin/sleep", &hold).unwrap();
    let mut holder = Command::new(&hold)
        .arg("60")
        .current_dir("/")
        .env("GIT_DIR", w.dir(0).join(".git"))
        .stdin(std::fs::File::open(&lock).unwrap())
        .spawn()
        .unwrap();
    write(w.dir(0), "a.md", b"while a git runs\n");
    settle_time();
    let v = w.sync_json(0);
    assert!(
        lock.exists(),
        "a lock a live git may hold is never removed: {v}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let v = w.sync_json(0);
    assert_eq!(
        state(&v),
        "synced",
        "without a holder, the stale lock goes: {v}"
    );
    assert!(!lock.exists());
    w.check_invariants(&[b"while a git runs\n"]);
}

/// DS-16: a stale `refs/heads/main.lock` (no holder) does not stop syncing.
#[test]
fn ds16_an_old_ref_lock_does_not_block_syncing() {
    let w = World::new(&["a"]);
    let lock = w.dir(0).join(".git/refs/heads/main.lock");
    std::fs::write(&lock, b"").unwrap();
    set_mtime(&lock, SystemTime::now() - Duration::from_secs(600));
    write(w.dir(0), "a.md", b"past the ref lock\n");
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "a stale ref lock is removed: {v}");
    assert_eq!(
        w.server_files().get("a.md").map(Vec::as_slice),
        Some(b"past the ref lock\n".as_slice())
    );
    w.check_invariants(&[b"past the ref lock\n"]);
}

/// DS-16: an `index.lock` dated an hour ahead (no holder) is removed, or
/// the folder says what it is; it never waits forever in silence.
#[test]
fn ds16_a_lock_from_the_future_is_removed_or_explained() {
    let w = World::new(&["a"]);
    let lock = w.dir(0).join(".git/index.lock");
    std::fs::write(&lock, b"").unwrap();
    set_mtime(&lock, SystemTime::now() + Duration::from_secs(3600));
    write(w.dir(0), "a.md", b"past the future lock\n");
    settle_time();
    let v = w.sync_json(0);
    let removed = state(&v) == "synced" && !lock.exists();
    let explained = message(&v).contains("index.lock");
    assert!(
        removed || explained,
        "a lock from the future is removed or named: {v}"
    );
    if removed {
        w.check_invariants(&[b"past the future lock\n"]);
    }
}

// ---------------------------------------------------------------- DS-17

/// DS-17: a large file from a colleague is applied with bounded memory:
/// it streams out of the pack into the folder (the whole file is never in
/// the process's own memory; libgit2 maps the pack file, which the system
/// can drop).
#[test]
fn ds17_a_large_file_is_applied_in_bounded_memory() {
    let w = World::new(&["a", "b"]);
    let big = noise(96 << 20, 17);
    write(w.dir(0), "video.bin", &big);
    settle_time();
    synced(&w, 0);
    let mut child = w
        .command(&w.clients[1], &["sync", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        let anon = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        peak_kib = peak_kib.max(anon);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        std::fs::read(w.dir(1).join("video.bin")).ok().as_deref() == Some(&big[..]),
        "the whole file arrived"
    );
    assert!(
        peak_kib < 48 * 1024,
        "the process's own memory stays small for a 96 MiB file: {peak_kib} KiB at most"
    );
    w.check_invariants(&[]);
}

// ---------------------------------------------------------------- DS-20

/// DS-20: a private (0600) file stays private when a colleague's edit arrives.
#[test]
fn ds20_private_file_stays_private() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "notes.md", b"notes\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    std::fs::set_permissions(
        w.dir(1).join("notes.md"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write(w.dir(0), "notes.md", b"notes, edited by a\n");
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    assert_eq!(
        std::fs::read(w.dir(1).join("notes.md")).unwrap(),
        b"notes, edited by a\n"
    );
    assert_eq!(
        mode(&w.dir(1).join("notes.md")),
        0o600,
        "the user's permission bits are kept when the content is replaced"
    );
    w.check_invariants(&[b"notes, edited by a\n"]);
}

// ---------------------------------------------------------------- DS-21

/// DS-21: real files named `*.part`, `*.tmp`, `*.temp` sync like any other.
#[test]
fn ds21_part_and_tmp_files_sync() {
    let w = World::new(&["a"]);
    write(w.dir(0), "chapter.part", b"part two of the book\n");
    write(w.dir(0), "data.tmp", b"a dataset\n");
    write(w.dir(0), "export.temp", b"an export\n");
    settle_time();
    synced(&w, 0);
    let server = w.server_files();
    for name in ["chapter.part", "data.tmp", "export.temp"] {
        assert!(
            server.contains_key(name),
            "{name} is a user's file, not an editor's temp file: it syncs"
        );
    }
    w.check_invariants(&[b"part two of the book\n"]);
}

// ---------------------------------------------------------------- DS-22

/// DS-22: a rename with an edit on one side and an edit of the same line
/// on the other make one conflict copy, and the old path doesn't come back.
#[test]
fn ds22_rename_conflict_makes_one_copy() {
    let w = World::new(&["a", "b"]);
    let base = b"line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n";
    write(w.dir(0), "notes.md", base);
    settle_time();
    synced(&w, 0);
    synced(&w, 1);
    std::fs::remove_file(w.dir(0).join("notes.md")).unwrap();
    let a_version = b"line 1 (a)\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n";
    write(w.dir(0), "archive/notes.md", a_version);
    settle_time();
    synced(&w, 0);
    let b_version = b"line 1 (b)\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n";
    write(w.dir(1), "notes.md", b_version);
    settle_time();
    let v = w.sync_json(1);
    assert_eq!(state(&v), "conflict", "b is told about the conflict: {v}");
    w.settle();
    for i in 0..2 {
        let copies = conflict_copies(w.dir(i));
        assert_eq!(copies.len(), 1, "one rename conflict, one copy: {copies:?}");
        assert!(
            !w.dir(i).join("notes.md").exists(),
            "the renamed-away notes.md does not come back beside archive/notes.md"
        );
    }
    w.check_invariants(&[a_version, b_version]);
}

/// Review of DS-22's fix: two pages a colleague merged into one new page
/// while the user edited both. Git pairs one rename itself; the other is
/// no clear match. Neither of the user's edits may vanish.
#[test]
fn ds22_merged_pages_keep_both_of_the_users_edits() {
    let w = World::new(&["a"]);
    let hours = b"# Hours\n\nMonday to Friday 9-17\nSaturday closed\n";
    let directions = b"# Directions\n\nTake the bus 12\nStop at Market Square\nWalk 200 m north\n";
    write(w.dir(0), "hours.md", hours);
    write(w.dir(0), "directions.md", directions);
    settle_time();
    synced(&w, 0);
    // The colleague merges both pages into visit.md.
    let c = w.colleague("c");
    c.git(&["rm", "-q", "hours.md", "directions.md"]);
    c.write(
        "visit.md",
        b"# Visit us\n\nTake the bus 12\nStop at Market Square\nWalk 200 m north\n\nMonday to Friday 9-17\n",
    );
    c.commit("Merge hours and directions into visit.md");
    c.push();
    // Meanwhile the user edits both pages.
    let hours_edit = b"# Hours\n\nMonday to Friday 9-17\nSaturday 10-16\n";
    let directions_edit =
        b"# Directions\n\nTake the bus 12 or 14\nStop at Market Square\nWalk 200 m north\n";
    write(w.dir(0), "hours.md", hours_edit);
    write(w.dir(0), "directions.md", directions_edit);
    settle_time();
    w.sync(0);
    w.settle();
    let everywhere: Vec<Vec<u8>> = folder_files(w.dir(0)).into_values().collect();
    for (what, needle) in [
        ("Saturday 10-16", "Saturday 10-16"),
        ("bus 12 or 14", "bus 12 or 14"),
    ] {
        assert!(
            everywhere
                .iter()
                .any(|v| String::from_utf8_lossy(v).contains(needle)),
            "the user's edit \"{what}\" is in some file of the folder"
        );
    }
    // The directions edit merges cleanly into visit.md (git paired that
    // rename); the hours edit, with no clear new home, stays whole.
    let _ = directions_edit;
    w.check_invariants(&[hours_edit]);
}

// ---------------------------------------------------------------- DS-23

/// DS-23: after a power cut, the apply journal names a commit whose object
/// is empty: the journal is dropped and the next edit is committed.
#[test]
fn ds23_unreadable_journal_commit_is_dropped() {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "big.bin", &noise(64 << 20, 23));
    settle_time();
    synced(&w, 0);
    // b has a local edit, so the applied commit is a new, loose one.
    write(w.dir(1), "local.md", b"b's edit before the power cut\n");
    settle_time();
    let mut child = w
        .command(&w.clients[1], &["sync", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = w.dir(1).join(".git/ferry-apply");
    let start = Instant::now();
    // The cut lands while big.bin's temp file is being written.
    let mut cut = false;
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
        if journal.exists() && !temp_files(w.dir(1)).is_empty() {
            let _ = child.kill();
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        cut && journal.exists(),
        "the power cut lands during the apply and leaves .git/ferry-apply \
         (if the engine no longer journals there, this setup must follow it)"
    );
    let record = std::fs::read_to_string(&journal).unwrap();
    let gitdir = w.dir(1).join(".git");
    // What a ref names was synced before; the commit only the journal names
    // (the one being applied) is what a power cut can leave empty.
    let tips = git(w.dir(1), &["for-each-ref", "--format=%(objectname)"]);
    let mut emptied = Vec::new();
    for id in record
        .split_whitespace()
        .filter(|s| s.len() == 40 && !tips.contains(*s))
    {
        let object = gitdir.join(format!("objects/{}/{}", &id[..2], &id[2..]));
        if object.exists() {
            std::fs::File::create(&object).unwrap();
            emptied.push(object);
        }
    }
    assert!(
        !emptied.is_empty(),
        "the journal names a loose commit to empty: {record}"
    );
    write(w.dir(1), "after.md", b"written after the power cut\n");
    settle_time();
    w.sync(1);
    w.sync(1);
    assert!(!journal.exists(), "the unreadable journal is dropped");
    assert!(
        temp_files(w.dir(1)).is_empty(),
        "and the cut apply's temp file is cleaned up: {:?}",
        temp_files(w.dir(1))
    );
    assert_eq!(
        w.server_files().get("after.md").map(Vec::as_slice),
        Some(b"written after the power cut\n".as_slice()),
        "and the next edit is committed and sent"
    );
    for object in emptied {
        if std::fs::metadata(&object).is_ok_and(|m| m.len() == 0) {
            std::fs::remove_file(object).unwrap(); // the power cut's debris, unreferenced
        }
    }
    w.settle();
    w.check_invariants(&[
        b"b's edit before the power cut\n",
        b"written after the power cut\n",
    ]);
}

// ---------------------------------------------------------------- DS-24

/// DS-24: two `ferry sync` daemons (separate config dirs) on one folder:
/// one owns it (`.git/ferry.lock`), the other says "already syncing".
#[test]
fn ds24_two_daemons_on_one_folder() {
    let mut w = World::new(&["a", "b"]);
    let dir = w.dir(1).to_path_buf();
    let add = w.try_add_client_at("b2", &dir);
    assert!(
        add.status.success(),
        "a second config adopts b's folder: {}",
        text(&add)
    );
    for n in 0..1500 {
        write(
            w.dir(0),
            &format!("pages/{n:04}.md"),
            format!("page {n}\n").as_bytes(),
        );
    }
    settle_time();
    synced(&w, 0);
    let first = w.daemon(1);
    let second = w.daemon(2);
    let mut seen = Vec::new();
    let arrived = wait_until(Duration::from_secs(90), || {
        for i in [1, 2] {
            let s = w.status(i);
            let (st, msg) = (state(&s).to_string(), message(&s));
            if !seen.contains(&(st.clone(), msg.clone())) {
                seen.push((st, msg));
            }
        }
        w.dir(1).join("pages/1499.md").exists()
            && folder_files(w.dir(1))
                .keys()
                .filter(|k| k.starts_with("pages/"))
                .count()
                == 1500
    });
    assert!(arrived, "the 1,500 files arrive: {seen:?}");
    for (st, msg) in &seen {
        assert!(
            (st != "error" && st != "offline") || msg.contains("already syncing"),
            "both daemons stay error-free, or one says it is already syncing: {seen:?}"
        );
    }
    // The owner holds the lock all along, not only during its cycles.
    let lock = dir.join(".git/ferry.lock");
    for _ in 0..20 {
        let free = Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap()
            .success();
        assert!(
            !free,
            "a running daemon owns the folder: .git/ferry.lock is held between cycles too"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = w.sync_json(2);
    assert!(
        message(&v).contains("already syncing"),
        "a third process on the folder doesn't sync it: {v}"
    );
    first.stop();
    second.stop();
    w.settle();
    w.check_invariants(&[b"page 0\n", b"page 1499\n"]);
}

// ---------------------------------------------------------------- DS-26

/// DS-26: a file dated an hour ahead does not keep `sync --once` from
/// finishing and pulling.
#[test]
fn ds26_future_mtime_does_not_block() {
    let w = World::new(&["a"]);
    let c = w.colleague("c");
    c.write("from-colleague.md", b"pulled\n");
    c.commit("Colleague's file");
    c.push();
    write(w.dir(0), "new.md", b"from the future\n");
    set_mtime(
        &w.dir(0).join("new.md"),
        SystemTime::now() + Duration::from_secs(3600),
    );
    let start = Instant::now();
    let v = w.sync_json(0);
    let took = start.elapsed();
    assert_eq!(state(&v), "synced", "the cycle completes: {v}");
    assert!(
        took < Duration::from_secs(15),
        "without waiting for a future mtime to age: {took:?}"
    );
    assert_eq!(
        std::fs::read(w.dir(0).join("from-colleague.md")).unwrap(),
        b"pulled\n",
        "and pulls"
    );
    w.check_invariants(&[b"from the future\n", b"pulled\n"]);
}

// ---------------------------------------------------------------- DS-27

/// DS-27: a name with a backslash arrives as that name (on Unix, an
/// ordinary character) and no rename commit follows.
#[test]
fn ds27_backslash_name_makes_no_rename_commit() {
    let w = World::new(&["a", "b"]);
    let c = w.colleague("c");
    c.write("notes\\draft.md", b"a backslash in the name\n");
    c.commit("Add notes\\draft.md");
    c.push();
    let tip = w.server_tip();
    w.rounds(2);
    assert_eq!(
        w.server_tip(),
        tip,
        "no client renames or deletes the entry: {:?}",
        server_log(&w)
    );
    let refused = not_held(&w, 1);
    if refused.is_empty() {
        assert_eq!(
            std::fs::read(w.dir(1).join("notes\\draft.md")).unwrap(),
            b"a backslash in the name\n",
            "the name is written literally"
        );
        w.check_invariants(&[b"a backslash in the name\n"]);
    } else {
        let v = w.sync_json(1);
        let refused = refused_and_reported(&w, 1, &v, &["unsafe_name", "not_holdable"]);
        let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
        w.check_invariants_except(&[], &refs);
    }
}

// ---------------------------------------------------------------- SEC-1

/// SEC-1a: a pushed `..\escape-a.txt` never lands in the folder's parent.
#[test]
fn sec01a_dotdot_backslash_name_stays_inside() {
    let w = World::new(&["victim"]);
    let c = w.colleague("mallory");
    c.write("..\\escape-a.txt", b"escaped\n");
    c.write("fine.md", b"an ordinary file\n");
    c.commit("Add files");
    c.push();
    let v = w.sync_json(0);
    let home = w.session.home();
    assert!(
        !home.join("escape-a.txt").exists(),
        "nothing is written in the folder's parent (the home): {v}"
    );
    assert!(!home.join("..\\escape-a.txt").exists());
    let refused = refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    write(w.dir(0), "after.md", b"the folder keeps syncing\n");
    settle_time();
    w.sync(0);
    assert!(
        w.server_files().contains_key("after.md"),
        "the folder keeps sending: {}",
        text(&w.sync(0))
    );
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check_invariants_except(&[b"the folder keeps syncing\n"], &refs);
}

/// SEC-1b: pushed symlinks `up` → `..` and `g` → `.git` with names "behind"
/// them (`up\escape-b.txt`, `g\hooks\post-commit`): nothing is written
/// outside or into `.git`, then or when `up` later becomes a real folder.
#[test]
fn sec01b_names_through_pushed_symlinks_stay_inside() {
    let w = World::new(&["victim"]);
    let c = w.colleague("mallory");
    std::os::unix::fs::symlink("..", c.dir.join("up")).unwrap();
    std::os::unix::fs::symlink(".git", c.dir.join("g")).unwrap();
    c.write("up\\escape-b.txt", b"escaped\n");
    c.write("g\\hooks\\post-commit", b"#!/bin/sh\ntouch /tmp/pwned\n");
    std::fs::set_permissions(
        c.dir.join("g\\hooks\\post-commit"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    c.commit("Links");
    c.push();
    let v = w.sync_json(0);
    let home = w.session.home();
    assert!(
        !home.join("escape-b.txt").exists(),
        "nothing lands in the home: {v}"
    );
    assert!(
        !w.dir(0).join(".git/hooks/post-commit").exists(),
        "no hook is planted: {v}"
    );
    refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    // The link becomes a real folder: the old link is not written through.
    std::fs::remove_file(c.dir.join("up")).unwrap();
    c.write("up/escape-c.txt", b"escaped again\n");
    c.commit("up is a folder now");
    c.push();
    let v = w.sync_json(0);
    assert!(
        !home.join("escape-c.txt").exists(),
        "a link replaced by a folder is never written through: {v}"
    );
    let refused = refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check_invariants_except(&[], &refs);
}

/// SEC-1c: a pushed name that is an absolute path spelled with backslashes
/// never becomes that absolute path.
#[test]
fn sec01c_absolute_backslash_name_stays_inside() {
    let w = World::new(&["victim"]);
    let target = w.session.root.path().join("abs-target.txt");
    let spelled = target.to_str().unwrap().replace('/', "\\");
    let c = w.colleague("mallory");
    c.write(&spelled, b"escaped\n");
    c.commit("Add an absolute-looking name");
    c.push();
    let v = w.sync_json(0);
    assert!(
        !target.exists(),
        "an absolute name is never written where it points: {v}"
    );
    let refused = refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check_invariants_except(&[], &refs);
}

// ---------------------------------------------------------------- SEC-2

/// SEC-2: a compromised (or fsck-less) server serves `.git/hooks/x`,
/// `.GIT/…`, `git~1/…` and `../…`: none is written, each is reported, the
/// folder keeps syncing.
#[test]
fn sec02_crafted_dotgit_and_dotdot_tree_from_a_compromised_server() {
    let w = World::new(&["victim"]);
    let hook = b"#!/bin/sh\ntouch /tmp/pwned\n";
    w.write_server_tree(
        &[
            Put::Exec(".git/hooks/post-checkout", hook),
            Put::Exec(".GIT/hooks/pre-commit", hook),
            Put::Exec("git~1/hooks/post-merge", hook),
            Put::File("../sec02-escape.txt", b"escaped\n"),
            Put::File("ok.md", b"an ordinary file\n"),
        ],
        "Crafted tree",
    );
    let v = w.sync_json(0);
    let home = w.session.home();
    assert!(
        !home.join("sec02-escape.txt").exists(),
        "nothing is written in the folder's parent: {v}"
    );
    for hook in ["post-checkout", "pre-commit", "post-merge"] {
        assert!(
            !w.dir(0).join(".git/hooks").join(hook).exists(),
            "no hook {hook} is planted: {v}"
        );
    }
    assert_eq!(
        std::fs::read(w.dir(0).join("ok.md")).ok().as_deref(),
        Some(b"an ordinary file\n".as_slice()),
        "the ordinary file of the same commit arrives: {v}"
    );
    let refused = refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    for name in [
        ".git/hooks/post-checkout",
        ".GIT/hooks/pre-commit",
        "git~1/hooks/post-merge",
        "../sec02-escape.txt",
    ] {
        assert!(refused.iter().any(|r| r == name), "{name} is refused");
    }
    // GitLab's fsck now refuses any push of a root tree holding `.git`,
    // so "keeps syncing" is shown by receiving: a later commit arrives.
    w.write_server_tree(&[Put::File("later.md", b"a later file\n")], "Later");
    let v = w.sync_json(0);
    assert_eq!(
        std::fs::read(w.dir(0).join("later.md")).ok().as_deref(),
        Some(b"a later file\n".as_slice()),
        "the folder keeps receiving past the refused entries: {v}"
    );
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check()
        .versions(&[b"a later file\n"])
        .absent(&refs)
        .fsck_ignore(&["hasDotgit", "hasDotdot"])
        .run();
}

/// SEC-2 on a real case-insensitive disk: a symlink `A` to a folder
/// outside, plus `a/evil`: nothing is written outside through the alias.
#[test]
fn sec02_symlink_case_alias_on_case_insensitive_disk() {
    let disk = CaseInsensitiveDisk::new(64);
    let w = World::builder()
        .client_at("victim", &disk.path().join("Website"))
        .start();
    let outside = w.session.root.path().join("outside-target");
    std::fs::create_dir(&outside).unwrap();
    w.rebaseline();
    let c = w.colleague("mallory");
    std::os::unix::fs::symlink(&outside, c.dir.join("A")).unwrap();
    c.write("a/evil", b"written through the alias\n");
    c.commit("Alias");
    c.push();
    let v = w.sync_json(0);
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing is written outside through a case alias: {v}"
    );
    let refused = refused_and_reported(
        &w,
        0,
        &v,
        &["case_collision", "not_holdable", "unsafe_name"],
    );
    assert!(!refused.is_empty(), "A and a/ can't both be held here: {v}");
    write(w.dir(0), "after.md", b"the folder keeps syncing\n");
    settle_time();
    w.sync(0);
    assert!(
        w.server_files().contains_key("after.md"),
        "the folder keeps sending"
    );
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check_invariants_except(&[b"the folder keeps syncing\n"], &refs);
}

// ---------------------------------------------------------------- SEC-3

/// SEC-3: files planted for `.git` (`commondir`, alternates, a config whose
/// remote is another server) never redirect Ferry: the other server sees
/// no request at all.
#[test]
fn sec03_planted_gitdir_files_do_not_redirect_the_token() {
    let w = World::new(&["victim"]);
    let other = ferry_testkit::Testkit::start(ferry_testkit::Options::default()).unwrap();
    let config = format!(
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote \"origin\"]\n\turl = {}/{PROJECT}.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
        other.url()
    );
    // Through a pushed symlink to .git (accepted by GitLab's fsck) …
    let c = w.colleague("mallory");
    std::os::unix::fs::symlink(".git", c.dir.join("g")).unwrap();
    c.write("g\\commondir", b"../x\n");
    c.write("x/objects/info/alternates", b"../../.git/objects\n");
    c.write("x/config", config.as_bytes());
    c.write("x/HEAD", b"ref: refs/heads/main\n");
    c.commit("Plant through a link");
    c.push();
    w.sync(0);
    // … and straight into .git from a compromised server.
    w.write_server_tree(
        &[
            Put::File(".git/commondir", b"../x\n"),
            Put::File(".git/objects/info/alternates", b"../../x/objects\n"),
            Put::File(".git/config.worktree", config.as_bytes()),
        ],
        "Plant directly",
    );
    w.sync(0);
    let v = w.sync_json(0);
    let requests = admin_requests(other.url());
    assert_eq!(
        requests["total"], 0,
        "the other server never hears from Ferry (no token sent there): {requests}"
    );
    for planted in ["commondir", "objects/info/alternates", "config.worktree"] {
        assert!(
            !w.dir(0).join(".git").join(planted).exists(),
            "nothing is planted in .git: {planted} ({v})"
        );
    }
    let refused = refused_and_reported(&w, 0, &v, &["unsafe_name"]);
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check().absent(&refs).fsck_ignore(&["hasDotgit"]).run();
    assert_eq!(admin_requests(other.url())["total"], 0);
}

// ---------------------------------------------------------------- SEC-5

/// SEC-5: ordinary changes — a folder replaced by a file, a submodule
/// added and removed — never stop a folder from syncing.
#[test]
fn sec05_folder_replaced_by_file_and_gitlink_keep_syncing() {
    let w = World::new(&["a", "b"]);
    let c = w.colleague("c");
    c.write("images/a.png", b"\x89PNG a\n");
    c.commit("Add an image");
    c.push();
    synced(&w, 0);
    c.git(&["rm", "-q", "-r", "images"]);
    c.write("images", b"images is a file now\n");
    c.commit("images becomes a file");
    c.push();
    let first = w.sync_json(0);
    write(w.dir(0), "local.md", b"a's local file\n");
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "the folder syncs on: {first} then {v}");
    assert!(w.dir(0).join("images").is_file(), "images is a file");
    assert!(
        w.server_files().contains_key("local.md"),
        "a's edit reaches the server"
    );
    // A gitlink, removed again afterwards.
    c.pull();
    c.add_cacheinfo(
        "160000",
        "0123456789abcdef0123456789abcdef01234567",
        "vendor/lib",
    );
    c.commit_index("Add vendor/lib as a submodule");
    c.push();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "a gitlink is skipped: {v}");
    assert!(has_note(&v, "submodule", "vendor/lib"), "and noted: {v}");
    c.git(&["rm", "-q", "--cached", "vendor/lib"]);
    c.commit_index("Remove vendor/lib");
    c.push();
    write(w.dir(0), "local2.md", b"a's second file\n");
    settle_time();
    let v = w.sync_json(0);
    assert_eq!(state(&v), "synced", "{v}");
    assert!(w.server_files().contains_key("local2.md"));
    w.settle();
    w.check_invariants(&[b"a's local file\n", b"a's second file\n"]);
}

// ---------------------------------------------------------------- SEC-7

/// SEC-7: symlinks pushed under the old temp-file names (for the daemon's
/// PID and around it) to a file outside are never written through.
#[test]
fn sec07_temp_file_symlink_is_not_followed() {
    let w = World::new(&["victim"]);
    let victim = w.session.home().join("victim.txt");
    std::fs::write(&victim, b"precious\n").unwrap();
    w.rebaseline();
    let c = w.colleague("mallory");
    c.write("note.md", b"note v1\n");
    c.commit("Add note");
    c.push();
    synced(&w, 0);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_millis(1500));
    let pid = daemon.pid();
    for p in pid.saturating_sub(5)..=pid + 5 {
        std::os::unix::fs::symlink(
            "../victim.txt",
            c.dir.join(format!(".note.md.ferry-tmp-{p}")),
        )
        .unwrap();
    }
    c.write("note.md", b"note v2\n");
    c.commit("Edit note");
    c.push();
    let arrived = wait_for_file(w.dir(0), "note.md", b"note v2\n", Duration::from_secs(30));
    daemon.stop();
    assert!(arrived, "the edit arrives");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious\n",
        "a file outside the folder is never written through a planted link"
    );
    assert_eq!(mode(&victim), 0o644, "nor are its permissions changed");
    let refused = not_held(&w, 0);
    let refs: Vec<&str> = refused.iter().map(String::as_str).collect();
    w.check_invariants_except(&[b"note v2\n"], &refs);
}

// ---------------------------------------------------------------- SEC-8

/// SEC-8: a pushed symlink to a big folder outside does not make the
/// watcher follow it: no inotify watch beyond the folder, and activity
/// there starts no cycles.
#[test]
fn sec08_watcher_does_not_follow_symlinks_out() {
    let w = World::new(&["victim"]);
    let target = w.scratch().join("big-tree");
    for n in 0..10_000 {
        std::fs::create_dir_all(target.join(format!("{:02}/{n:05}", n / 500))).unwrap();
    }
    let c = w.colleague("mallory");
    std::os::unix::fs::symlink(&target, c.dir.join("r")).unwrap();
    c.commit("Link to a big tree");
    c.push();
    synced(&w, 0);
    let daemon = w.daemon(0);
    std::thread::sleep(Duration::from_secs(4));
    let watches = inotify_watches(daemon.pid());
    let dirs = directories(w.dir(0));
    eprintln!("inotify watches: {watches}, directories in the folder: {dirs}");
    assert!(
        watches <= dirs + 5,
        "the watcher watches the folder only ({dirs} directories), not through the link: {watches} watches"
    );
    reset_requests(w.kit.url());
    std::thread::sleep(Duration::from_secs(6));
    let idle = admin_requests(w.kit.url())["total"].as_u64().unwrap();
    reset_requests(w.kit.url());
    for n in 0..30 {
        let m = n * 333;
        std::fs::write(target.join(format!("{:02}/{m:05}/touch", m / 500)), b"x").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let busy = admin_requests(w.kit.url())["total"].as_u64().unwrap();
    daemon.stop();
    assert!(
        busy <= idle + 3,
        "activity outside the folder starts no cycles: {busy} requests while touching vs {idle} idle"
    );
    w.check_invariants(&[]);
}

fn inotify_watches(pid: u32) -> usize {
    let mut watches = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let is_inotify =
            std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("inotify"));
        if is_inotify {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            watches += info
                .lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count();
        }
    }
    watches
}

/// Directories under `dir`, itself and `.git` included, links not followed.
fn directories(dir: &Path) -> usize {
    1 + std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| directories(&e.path()))
        .sum::<usize>()
}

// ---------------------------------------------------------------- SEC-11

/// SEC-11: under `umask 077`, a colleague's new file arrives private
/// (0600, 0700 for an executable), not world-readable.
/// SEC-10: a `$BROWSER` that wraps `%s` in quotes (`firefox '%s'`) never
/// lets a URL out of its quotes: no shell sees the URL. The project page
/// is built from the settings, which a compromised discovery could fill.
#[test]
fn sec10_a_quoted_browser_command_never_runs_what_a_url_holds() {
    use std::os::unix::fs::PermissionsExt;
    let s = common::Session::start(false);
    let home = s.home();
    let site = home.join("Website");
    std::fs::create_dir_all(&site).unwrap();
    let marker = home.join("MARKER");
    let project = format!("editor/site$(touch${{IFS}}{})", marker.display());
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::write(
        s.config().join("settings.toml"),
        format!(
            "version = 2\n\n[[instances]]\nid = \"work\"\nname = \"Work\"\n\
             url = \"http://127.0.0.1:9\"\nauth = \"token\"\n\n[[folders]]\nid = \"site\"\n\
             path = \"{}\"\ninstance = \"work\"\nproject = '{}'\n",
            site.display(),
            project
        ),
    )
    .unwrap();
    // A browser that records the arguments it was given.
    let opened = home.join("opened");
    let browser = home.join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s|' \"$@\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = s.ferry_with(
        &["folder", "open", site.to_str().unwrap(), "--gitlab"],
        "",
        &[("BROWSER", &format!("{} '%s'", browser.display()))],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        wait_until(Duration::from_secs(10), || opened.exists()),
        "the browser was started"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap(),
        format!("http://127.0.0.1:9/{project}|"),
        "the URL is one argument, as it is"
    );
    assert!(!marker.exists(), "nothing in the URL ran");
}

#[test]
fn sec11_umask_077_keeps_incoming_files_private() {
    let w = World::new(&["victim"]);
    let c = w.colleague("c");
    c.write("new.md", b"a colleague's new file\n");
    c.write("tool.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(
        c.dir.join("tool.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    c.commit("New files");
    c.push();
    let out = w
        .session
        .command("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .arg("--config-dir")
        .arg(&w.clients[0].config)
        .args(["sync", "--once", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        mode(&w.dir(0).join("new.md")),
        0o600,
        "a new file gets 0666 & ~umask"
    );
    assert_eq!(
        mode(&w.dir(0).join("tool.sh")),
        0o700,
        "a new executable gets 0777 & ~umask"
    );
    w.check_invariants(&[b"a colleague's new file\n"]);
}
