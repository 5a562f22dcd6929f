//! Helpers for the CLI tests: a private D-Bus session with a real
//! gnome-keyring (never the user's own), and ways to run `ferry` in it.

#![allow(dead_code)]

pub mod world;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private session bus with gnome-keyring on it, in its own home.
pub struct Session {
    pub root: tempfile::TempDir,
    pub bus: String,
    children: Vec<Child>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Session {
    /// `unlocked`: create and unlock a login keyring (as a desktop login does).
    pub fn start(unlocked: bool) -> Session {
        let root = tempfile::tempdir().unwrap();
        for d in ["home/.local/share", "run", "config"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                root.path().join("run"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        // The bus socket lives in the session's own directory, so nothing
        // is left in /tmp when the test ends.
        let address = format!(
            "--address=unix:path={}",
            root.path().join("run/bus").display()
        );
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1", &address])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus)");
        let mut bus = String::new();
        BufReader::new(dbus.stdout.take().unwrap())
            .read_line(&mut bus)
            .unwrap();
        let mut s = Session {
            root,
            bus: bus.trim().to_string(),
            children: vec![dbus],
        };
        let mut args = vec!["--foreground", "--components=secrets"];
        if unlocked {
            args.push("--unlock");
        }
        let mut keyring = s
            .command("gnome-keyring-daemon")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring)");
        if unlocked {
            keyring
                .stdin
                .take()
                .unwrap()
                .write_all(b"test-password")
                .unwrap();
        }
        s.children.push(keyring);
        let start = Instant::now();
        while !s.secrets_service_up() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "gnome-keyring did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    pub fn secrets_service_up(&self) -> bool {
        self.command("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
            .unwrap_or(false)
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn config(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("HOME", self.home())
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_RUNTIME_DIR", self.root.path().join("run"))
            .env_remove("FERRY_CONFIG_DIR");
        c
    }

    /// Runs `ferry --config-dir <config> ARGS` with `stdin`.
    pub fn ferry(&self, args: &[&str], stdin: &str) -> Output {
        self.ferry_with(args, stdin, &[])
    }

    pub fn ferry_with(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut child = self
            .command(env!("CARGO_BIN_EXE_ferry"))
            .arg("--config-dir")
            .arg(self.config())
            .args(args)
            .envs(env.iter().copied())
            .env("FERRY_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn keyring_lookup(&self) -> String {
        let out = self
            .command("secret-tool")
            .args(["search", "--all", "service", "Ferry"])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Files under `dir` whose bytes contain `needle`; symlinks are not followed.
pub fn files_containing(dir: &Path, needle: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            files_containing(&p, needle, out);
        } else if meta.is_file()
            && std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
        {
            out.push(p);
        }
    }
}
