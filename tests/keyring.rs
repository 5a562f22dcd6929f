//! The `ferry` CLI with a real Secret Service: gnome-keyring in a private
//! D-Bus session (never the user's own), against ferry-testkit. Proves the
//! token goes to the keyring and nowhere else, survives across processes,
//! and that a missing or locked keyring is explained and saves nothing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{Options, Testkit};
use serde_json::Value;

/// A private session bus with gnome-keyring on it, in its own home.
struct Session {
    root: tempfile::TempDir,
    bus: String,
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
    fn start(unlocked: bool) -> Session {
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
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
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

    fn secrets_service_up(&self) -> bool {
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

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn config(&self) -> PathBuf {
        self.root.path().join("config")
    }

    fn command(&self, program: &str) -> Command {
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
    fn ferry(&self, args: &[&str], stdin: &str) -> Output {
        self.ferry_with(args, stdin, &[])
    }

    fn ferry_with(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
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

    fn keyring_lookup(&self) -> String {
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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files_containing(dir: &Path, needle: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_containing(&p, needle, out);
        } else if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            out.push(p);
        }
    }
}

#[test]
fn the_token_goes_to_the_keyring_and_nowhere_else() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    let token = kit.info().token.clone();

    let add = s.ferry(
        &[
            "instance",
            "add",
            kit.url(),
            "--token-stdin",
            "--name",
            "Work",
        ],
        &format!("{token}\n"),
    );
    assert!(add.status.success(), "{}", text(&add));
    assert!(text(&add).contains("Saved as “Work”"), "{}", text(&add));

    let entry = s.keyring_lookup();
    assert!(
        entry.contains(&token),
        "the keyring holds the token: {entry}"
    );

    // Another process finds it there.
    let repos = s.ferry(&["repos", "Work", "--json"], "");
    assert!(repos.status.success(), "{}", text(&repos));
    let list: Value = serde_json::from_slice(&repos.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["path_with_namespace"] == "editor/website"));
    let check = s.ferry(&["instance", "check", "Work", "--json"], "");
    assert!(check.status.success(), "{}", text(&check));
    let created = s.ferry(
        &[
            "repos",
            "Work",
            "--create",
            "Launch Notes",
            "--namespace",
            "team",
        ],
        "",
    );
    assert!(
        text(&created).contains("Created team/launch-notes"),
        "a project in a group: {}",
        text(&created)
    );

    // Nowhere else: not in settings, logs, any file of this home (the
    // keyring file is encrypted), nor anything printed.
    let mut leaks = Vec::new();
    files_containing(s.root.path(), &token, &mut leaks);
    assert!(leaks.is_empty(), "the token is in {leaks:?}");
    for out in [&add, &repos, &check] {
        assert!(
            !text(out).contains(&token),
            "printed the token: {}",
            text(out)
        );
    }
    let settings = std::fs::read_to_string(s.config().join("settings.toml")).unwrap();
    assert!(settings.contains("auth = \"token\"") && !settings.contains("glpat-"));

    let remove = s.ferry(&["instance", "remove", "Work"], "");
    assert!(remove.status.success(), "{}", text(&remove));
    assert!(
        !s.keyring_lookup().contains(&token),
        "removing the account forgets the token"
    );
}

#[test]
fn oauth_sign_in_through_the_browser_variable_stores_tokens_in_the_keyring() {
    let kit = Testkit::start(Options {
        auto_approve: true,
        ..Options::default()
    })
    .unwrap();
    let s = Session::start(true);
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
            "--timeout",
            "30",
        ],
        &format!("{}\n", o.client_secret),
        &[("BROWSER", "curl -s -L -o /dev/null")],
    );
    assert!(add.status.success(), "{}", text(&add));
    let entry = s.keyring_lookup();
    assert!(
        entry.contains("\"kind\":\"oauth\"") && entry.contains(&o.client_secret),
        "{entry}"
    );
    let repos = s.ferry(
        &[
            "repos",
            &format!("editor@127.0.0.1:{}", kit.url().rsplit(':').next().unwrap()),
            "--search",
            "website",
        ],
        "",
    );
    assert!(text(&repos).contains("editor/website"), "{}", text(&repos));
    let mut leaks = Vec::new();
    files_containing(&s.config(), &o.client_secret, &mut leaks);
    assert!(
        leaks.is_empty(),
        "the application secret stays in the keyring: {leaks:?}"
    );
}

#[test]
fn no_keyring_is_explained_and_saves_nothing() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    let out = s.ferry_with(
        &["instance", "add", kit.url(), "--token-stdin"],
        &format!("{}\n", kit.info().token),
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("none is available") && t.contains("gnome-keyring"),
        "{t}"
    );
    assert!(!s.config().join("settings.toml").exists(), "nothing saved");
}

#[test]
fn a_locked_keyring_is_explained_and_saves_nothing() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(false);
    let out = s.ferry(
        &["instance", "add", kit.url(), "--token-stdin", "--json"],
        &format!("{}\n", kit.info().token),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "keyring_locked", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unlock it"));
    assert!(!s.config().join("settings.toml").exists(), "nothing saved");
}

#[test]
fn opting_into_a_plain_file_warns_and_works_without_a_keyring() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    let out = s.ferry_with(
        &[
            "instance",
            "add",
            kit.url(),
            "--token-stdin",
            "--store-token-in-file",
        ],
        &format!("{}\n", kit.info().token),
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Anyone who can read your files"),
        "warned: {}",
        text(&out)
    );
    let file = s.config().join("secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o077,
            0
        );
    }
    let repos = s.ferry_with(
        &[
            "repos",
            &format!("editor@127.0.0.1:{}", kit.url().rsplit(':').next().unwrap()),
        ],
        "",
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert!(repos.status.success(), "{}", text(&repos));
}

#[test]
fn instance_check_explains_each_step_and_fails_with_exit_1() {
    let s = Session::start(true);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let out = s.ferry(
        &[
            "instance",
            "check",
            &format!("http://127.0.0.1:{port}"),
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let by_id = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(by_id("dns")["outcome"], "pass");
    let connect = by_id("connect");
    assert_eq!(connect["outcome"], "fail");
    assert!(
        connect["detail"].as_str().unwrap().contains("firewall"),
        "{connect}"
    );
    assert_eq!(by_id("gitlab")["outcome"], "skipped");
    assert!(steps.iter().all(|s| s["millis"].is_u64()));

    let kit = Testkit::start(Options {
        tls: true,
        ..Options::default()
    })
    .unwrap();
    let out = s.ferry(
        &["instance", "check", kit.url(), "--token-stdin", "--json"],
        &format!("{}\n", kit.info().token),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tls = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "tls")
        .unwrap()
        .clone();
    assert_eq!(tls["outcome"], "fail");
    assert!(
        tls["detail"].as_str().unwrap().contains("doesn't trust"),
        "{tls}"
    );

    let ca = kit.info().ca_file.clone().unwrap();
    let out = s.ferry(
        &[
            "instance",
            "check",
            kit.url(),
            "--ca-file",
            ca.to_str().unwrap(),
            "--token-stdin",
        ],
        &format!("{}\n", kit.info().token),
    );
    assert!(
        out.status.success(),
        "every step passes with the CA: {}",
        text(&out)
    );
    let t = text(&out);
    for line in [
        "The connection is secure",
        "It is a GitLab",
        "Scopes: api, read_user, read_repository, write_repository",
        "GitLab 17.",
        "Git answers for",
    ] {
        assert!(t.contains(line), "{line} in:\n{t}");
    }
}
