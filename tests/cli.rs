//! The `ferry` CLI as a user or script runs it: real binary, real files,
//! an isolated config dir.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn ferry(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("--config-dir")
        .arg(config)
        .args(args)
        .env_remove("FERRY_CONFIG_DIR")
        .output()
        .expect("run ferry")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("config")).unwrap();
        Self { _tmp: tmp, root }
    }
    fn config(&self) -> PathBuf {
        self.root.join("config")
    }
}

#[test]
fn status_on_a_new_machine_is_synced_with_no_folders() {
    let f = Fixture::new();
    let out = ferry(&f.config(), &["status", "--json"]);
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["overall"], "synced");
    assert_eq!(v["folders"], serde_json::json!([]));
    let text = ferry(&f.config(), &["status"]);
    assert_eq!(
        String::from_utf8_lossy(&text.stdout).trim(),
        "No folders are synced yet."
    );
    assert!(
        !f.config().join("settings.toml").exists(),
        "reading status writes no settings"
    );
}

#[test]
fn folder_check_accepts_a_folder_and_reports_its_content() {
    let f = Fixture::new();
    let site = f.root.join("Website");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.md"), "# Home").unwrap();
    let out = ferry(
        &f.config(),
        &["folder", "check", site.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{out:?}");
    let v = json(&out);
    assert_eq!(v["outcome"], "accepted");
    assert_eq!(v["folder"]["existing_entries"], 1);
    let out = ferry(&f.config(), &["folder", "check", site.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("can be synced") && text.contains("kept safe"),
        "{text}"
    );
}

#[test]
fn folder_check_rejects_with_a_reason_and_exit_code_1() {
    let f = Fixture::new();
    std::fs::write(f.root.join("file.txt"), "x").unwrap();
    for (path, reason) in [
        (f.root.join("file.txt"), "not_a_directory"),
        (f.root.join("missing"), "missing"),
        (PathBuf::from("/usr"), "system_folder"),
        (f.config(), "ferry_state_folder"),
    ] {
        let out = ferry(
            &f.config(),
            &["folder", "check", path.to_str().unwrap(), "--json"],
        );
        assert_eq!(out.status.code(), Some(1), "{path:?}: {out:?}");
        let v = json(&out);
        assert_eq!(v["outcome"], "rejected", "{path:?}");
        assert_eq!(v["reason"], reason, "{path:?}: {v}");
        let plain = ferry(&f.config(), &["folder", "check", path.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&plain.stderr).len() > 20,
            "a sentence on stderr for {path:?}"
        );
    }
}

/// A folder the user can't write to, checked as an unprivileged user for
/// real (root writes anywhere, so as root the CLI runs as `nobody`).
#[cfg(target_os = "linux")]
#[test]
fn folder_check_rejects_a_folder_the_user_cannot_write_to() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let locked = f.root.join("Locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();

    let is_root = rustix::process::geteuid().is_root();
    let out = if is_root {
        // Copy the binary where `nobody` can run it, and let it traverse the fixture.
        let bin_dir = f.root.join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let bin = bin_dir.join("ferry");
        std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &bin).unwrap();
        for dir in [f.root.as_path(), &bin_dir] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut ancestor = f.root.parent();
        while let Some(dir) = ancestor {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode();
            assert!(
                mode & 0o001 != 0,
                "{} must be traversable by nobody for this test",
                dir.display()
            );
            ancestor = dir.parent();
        }
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .arg("--config-dir")
            .arg(f.root.join("nobody-config"))
            .args(["folder", "check", locked.to_str().unwrap(), "--json"])
            .env("HOME", &f.root)
            .output()
            .expect("run ferry as nobody with setpriv (util-linux)")
    } else {
        ferry(
            &f.config(),
            &["folder", "check", locked.to_str().unwrap(), "--json"],
        )
    };
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(v["reason"], "not_writable", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("you don't have permission"),
        "{v}"
    );
}

#[test]
fn a_damaged_settings_file_is_reported_kept_and_can_be_reset() {
    let f = Fixture::new();
    let settings = f.config().join("settings.toml");
    std::fs::write(&settings, "version = 2\n[[folders]\n").unwrap();
    let out = ferry(&f.config(), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is damaged and can't be read"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "version = 2\n[[folders]\n",
        "the damaged file is left as it was"
    );

    let out = ferry(&f.config(), &["settings", "reset"]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    let copy = said
        .split("kept at ")
        .nth(1)
        .map(|s| s.trim().trim_end_matches('.'))
        .expect("reset names the copy");
    assert_eq!(
        std::fs::read_to_string(copy).unwrap(),
        "version = 2\n[[folders]\n",
        "the old file is kept byte for byte"
    );
    assert!(ferry(&f.config(), &["status"]).status.success());
}

#[test]
fn ferry_config_dir_env_isolates_state() {
    let f = Fixture::new();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["settings", "path"])
        .env("FERRY_CONFIG_DIR", f.config())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        f.config().join("settings.toml").display().to_string()
    );
}
