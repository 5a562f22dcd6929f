//! Crash points (issue 11): `ferry` built with the `failpoints` feature is
//! killed (SIGKILL, exactly a `kill -9`) at each of the places where a
//! crash hurts most; the next start must recover with nothing lost and
//! nothing committed that the user didn't write. Each scenario ends with
//! the invariants I1–I7.

#![cfg(feature = "failpoints")]
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use common::text;
use common::world::*;

/// `ferry sync --once` for client `i`, killed at `point` (`NAME[:N]`).
fn sync_killed_at(w: &World, i: usize, point: &str) -> Output {
    let out = w
        .command(&w.clients[i], &["sync", "--once", "--json"])
        .env("FERRY_CRASH_AT", point)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "killed at {point} (it must be reached): {}",
        text(&out)
    );
    out
}

/// Client `i` syncs normally until it reports success (a few tries).
fn sync_recovers(w: &World, i: usize) {
    for _ in 0..3 {
        if w.sync(i).status.success() {
            return;
        }
    }
    let out = w.sync(i);
    assert!(
        out.status.success(),
        "the next start recovers: {}",
        text(&out)
    );
}

fn saves_survive(point: &str) {
    let w = World::new(&["a", "b"]);
    write(w.dir(0), "about.md", b"A's edit before the crash\n");
    write(w.dir(0), "new page.md", b"A new page\n");
    settle_time();
    sync_killed_at(&w, 0, point);
    sync_recovers(&w, 0);
    let server = w.server_files();
    assert_eq!(server["about.md"], b"A's edit before the crash\n");
    assert_eq!(server["new page.md"], b"A new page\n");
    let log = server_log(&w);
    assert_eq!(
        log.iter().filter(|m| m.contains("about.md")).count(),
        1,
        "one commit for the edit, not a second one after the restart: {log:?}"
    );
    sync_recovers(&w, 1);
    w.settle();
    w.check_invariants(&[b"A's edit before the crash\n", b"A new page\n"]);
}

#[test]
fn crash_after_the_snapshot_commit_is_written_loses_nothing() {
    saves_survive("snapshot-commit-written");
}

#[test]
fn crash_after_the_snapshot_moved_the_branch_loses_nothing() {
    saves_survive("snapshot-branch-moved");
}

/// An update from B (three files) killed at `point` while A applies it:
/// A's next start finishes it, and commits nothing of its own.
fn incoming_update_survives(point: &str) {
    let w = World::new(&["a", "b"]);
    write(w.dir(1), "one.md", b"B's one\n");
    write(w.dir(1), "two.md", b"B's two\n");
    write(w.dir(1), "about.md", b"B rewrote about\n");
    settle_time();
    assert!(w.sync(1).status.success());
    let before = server_log(&w);
    sync_killed_at(&w, 0, point);
    sync_recovers(&w, 0);
    for (name, bytes) in [
        ("one.md", &b"B's one\n"[..]),
        ("two.md", b"B's two\n"),
        ("about.md", b"B rewrote about\n"),
    ] {
        assert_eq!(
            std::fs::read(w.dir(0).join(name)).unwrap(),
            bytes,
            "{name} arrived whole after the crash"
        );
    }
    assert_eq!(
        server_log(&w),
        before,
        "A, who changed nothing, sent nothing: a half-applied update is never committed as A's"
    );
    let strays: Vec<String> = std::fs::read_dir(w.dir(0))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ferry-tmp"))
        .collect();
    assert!(strays.is_empty(), "no temporary file is left: {strays:?}");
    w.settle();
    w.check_invariants(&[b"B's one\n", b"B's two\n", b"B rewrote about\n"]);
}

#[test]
fn crash_between_a_files_temporary_copy_and_its_swap_loses_nothing() {
    incoming_update_survives("writer-before-swap:2");
}

#[test]
fn crash_right_after_a_file_was_exchanged_loses_nothing() {
    incoming_update_survives("writer-exchanged");
}

#[test]
fn crash_in_the_middle_of_an_update_is_finished_by_the_next_start() {
    incoming_update_survives("apply-file-written:2");
}

#[test]
fn crash_before_the_branch_moves_to_an_update_is_finished_by_the_next_start() {
    incoming_update_survives("branch-before-move");
}

#[test]
fn crash_after_the_branch_moved_to_an_update_loses_nothing() {
    incoming_update_survives("branch-after-move");
}
