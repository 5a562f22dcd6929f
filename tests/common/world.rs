//! The world of the sync tests: one ferry-testkit, a private keyring session,
//! and one `ferry` client (its own config dir and folder) per name; the
//! invariants I1–I7 of RELIABILITY.md checked after a scenario; plain-git
//! colleagues and a writer that bypasses the server's checks; and disks with
//! other rules than the test machine's (case-insensitive, small).
//!
//! # Limitations
//! Linux only (mounts, `/proc`, inotify); the disk fixtures need root, as CI
//! runs. Modes are compared as git sees them: the executable bit only where
//! the client's `core.filemode` is on, symlinks only where `core.symlinks` is.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{Options, Testkit};
use serde_json::Value;

use super::{files_containing, text, Session};

/// The seeded project every client syncs.
pub const PROJECT: &str = "editor/website";

/// One `ferry` installation: its own settings and one synced folder.
pub struct Client {
    pub name: String,
    pub config: PathBuf,
    pub dir: PathBuf,
}

/// The testkit, the session and the clients.
pub struct World {
    pub kit: Testkit,
    pub session: Session,
    pub clients: Vec<Client>,
    /// Colleagues' clones live here, outside what I7 watches.
    scratch: tempfile::TempDir,
    baseline: RefCell<Option<Containment>>,
}

/// Chooses the clients (and where their folders are) before the world starts.
pub struct WorldBuilder {
    options: Options,
    clients: Vec<(String, Option<PathBuf>)>,
}

impl WorldBuilder {
    /// Testkit options.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// A client whose folder is `~/Website-NAME` in the session's home.
    pub fn client(mut self, name: &str) -> Self {
        self.clients.push((name.to_string(), None));
        self
    }

    /// A client whose folder is `dir` (created if missing; an existing clone is adopted).
    pub fn client_at(mut self, name: &str, dir: &Path) -> Self {
        self.clients
            .push((name.to_string(), Some(dir.to_path_buf())));
        self
    }

    /// Starts the testkit and the session, adds each client's account and
    /// folder, and takes the I7 baseline.
    pub fn start(self) -> World {
        let kit = Testkit::start(self.options).unwrap();
        let session = Session::start(true);
        let mut w = World {
            kit,
            session,
            clients: Vec::new(),
            scratch: tempfile::tempdir().unwrap(),
            baseline: RefCell::new(None),
        };
        for (name, dir) in self.clients {
            let dir = dir.unwrap_or_else(|| w.session.home().join(format!("Website-{name}")));
            w.add_client(&name, &dir);
        }
        w.rebaseline();
        w
    }
}

/// Runs git in `dir` without the user's or system config, failing on an error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs git in `dir` without the user's or system config.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    git_command(dir)
        .args(args)
        .output()
        .expect("git (Debian package git)")
}

/// Runs git in `dir` with `stdin`, failing on an error; stdout, trimmed.
pub fn git_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let mut child = git_command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git");
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Colleague")
        .env("GIT_AUTHOR_EMAIL", "colleague@example.com")
        .env("GIT_COMMITTER_NAME", "Colleague")
        .env("GIT_COMMITTER_EMAIL", "colleague@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    c
}

impl World {
    /// Clients with folders in the session's home.
    pub fn new(clients: &[&str]) -> World {
        Self::with(Options::default(), clients)
    }

    /// Clients with folders in the session's home, and testkit options.
    pub fn with(options: Options, names: &[&str]) -> World {
        let mut b = Self::builder().options(options);
        for name in names {
            b = b.client(name);
        }
        b.start()
    }

    /// Chooses clients and folder paths one by one.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            options: Options::default(),
            clients: Vec::new(),
        }
    }

    fn add_client(&mut self, name: &str, dir: &Path) {
        let folder = self.try_add_client_at(name, dir);
        assert!(folder.status.success(), "{}", text(&folder));
    }

    /// Adds a client after the start, its folder in the session's home; re-takes the I7 baseline.
    pub fn add_client_later(&mut self, name: &str) {
        let dir = self.session.home().join(format!("Website-{name}"));
        self.add_client(name, &dir);
        self.rebaseline();
    }

    /// Adds a client after the start with its folder at `dir` (an existing
    /// clone is adopted, or refused); re-takes the I7 baseline. Returns the
    /// output of `ferry folder add`; the client joins only if it succeeded.
    pub fn try_add_client_at(&mut self, name: &str, dir: &Path) -> Output {
        let config = self.session.root.path().join(format!("config-{name}"));
        std::fs::create_dir_all(dir).unwrap();
        let c = Client {
            name: name.to_string(),
            config,
            dir: dir.to_path_buf(),
        };
        let token = self.kit.info().token.clone();
        let add = self.ferry(
            &c,
            &[
                "instance",
                "add",
                self.kit.url(),
                "--token-stdin",
                "--name",
                name,
            ],
            &format!("{token}\n"),
        );
        assert!(add.status.success(), "{}", text(&add));
        let folder = self.ferry(
            &c,
            &["folder", "add", name, PROJECT, c.dir.to_str().unwrap()],
            "",
        );
        if folder.status.success() {
            self.clients.push(c);
        }
        if self.baseline.borrow().is_some() {
            self.rebaseline();
        }
        folder
    }

    /// A `ferry --config-dir <client's> ARGS` command in the session.
    pub fn command(&self, c: &Client, args: &[&str]) -> Command {
        let mut cmd = self.session.command(env!("CARGO_BIN_EXE_ferry"));
        cmd.arg("--config-dir")
            .arg(&c.config)
            .args(args)
            .env("FERRY_LOG", "info");
        cmd
    }

    /// Runs `ferry ARGS` for client `c` with `stdin`.
    pub fn ferry(&self, c: &Client, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(c, args)
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

    /// One `ferry sync --once --json` for client `i`.
    pub fn sync(&self, i: usize) -> Output {
        self.ferry(&self.clients[i], &["sync", "--once", "--json"], "")
    }

    /// One `ferry sync --once --json` for client `i`: its folder's JSON object
    /// (`folder`, `path`, `state`, `message`, `report`).
    pub fn sync_json(&self, i: usize) -> Value {
        let out = self.sync(i);
        folder_json(&out)
    }

    /// `ferry sync --once` for several clients at the same moment.
    pub fn sync_together(&self, which: &[usize]) -> Vec<Output> {
        let children: Vec<Child> = which
            .iter()
            .map(|&i| {
                self.command(&self.clients[i], &["sync", "--once", "--json"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    }

    /// `n` rounds of `sync --once` on every client, whatever they report
    /// (for folders that keep syncing while they need attention).
    pub fn rounds(&self, n: usize) {
        for _ in 0..n {
            for i in 0..self.clients.len() {
                self.sync(i);
            }
        }
    }

    /// Syncs every client until all report synced (or conflict) twice in a row.
    pub fn settle(&self) {
        self.rounds(4);
        for i in 0..self.clients.len() {
            let out = self.sync(i);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            assert!(
                v["state"] == "synced" || v["state"] == "conflict",
                "client {} settles: {}",
                self.clients[i].name,
                text(&out)
            );
        }
    }

    /// `ferry status --json` of client `i`: its folder's object.
    pub fn status(&self, i: usize) -> Value {
        let out = self.ferry(&self.clients[i], &["status", "--json"], "");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("ferry status --json is JSON ({e}): {}", text(&out)));
        v["folders"][0].clone()
    }

    /// Starts `ferry sync` (the daemon) for client `i`; killed on drop.
    pub fn daemon(&self, i: usize) -> Daemon {
        let child = self
            .command(&self.clients[i], &["sync", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon { child }
    }

    /// Client `i`'s folder.
    pub fn dir(&self, i: usize) -> &Path {
        &self.clients[i].dir
    }

    /// The project's bare repository on the server.
    pub fn server(&self) -> PathBuf {
        self.kit.repo_dir(PROJECT)
    }

    /// The server's tip of main.
    pub fn server_tip(&self) -> String {
        git(&self.server(), &["rev-parse", "main"])
            .trim()
            .to_string()
    }

    /// The server's files at the tip of main: path → bytes (a symlink's
    /// target as bytes; gitlinks left out).
    pub fn server_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.server_entries()
            .into_iter()
            .map(|(p, e)| match e {
                Entry::File { bytes, .. } => (p, bytes),
                Entry::Symlink(t) => (p, t),
            })
            .collect()
    }

    /// The server's tree at the tip of main, modes included; gitlinks left out.
    pub fn server_entries(&self) -> BTreeMap<String, Entry> {
        tree_entries(&self.server(), "main")
    }

    /// True when some commit on the server holds `content` as a file.
    pub fn server_history_contains(&self, content: &[u8]) -> bool {
        let bare = self.server();
        let oid = git_stdin(&bare, &["hash-object", "--stdin"], content);
        git(&bare, &["rev-list", "--objects", "--all"])
            .lines()
            .any(|l| l.split_whitespace().next() == Some(oid.as_str()))
    }

    /// A plain-git colleague: a clone of the bare repository (by its path,
    /// not over HTTP) with a fixed identity.
    pub fn colleague(&self, name: &str) -> Colleague {
        let dir = self.scratch.path().join(format!("colleague-{name}"));
        let bare = self.server();
        git(
            self.scratch.path(),
            &[
                "clone",
                "-q",
                "--branch",
                "main",
                bare.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        git(&dir, &["config", "core.quotePath", "false"]);
        Colleague { dir }
    }

    /// A directory outside every watched area, for a test's own files.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Writes `changes` on top of the server's main directly into the bare
    /// repository with plumbing (`hash-object -w`, `mktree`, `commit-tree`,
    /// `update-ref`): no receive checks run. It stands for a compromised
    /// server, or one without GitLab's fsck (SEC-2). Returns the new tip.
    pub fn write_server_tree(&self, changes: &[Put], message: &str) -> String {
        let bare = self.server();
        let old = self.server_tip();
        let tree = craft_tree(&bare, "main", changes);
        let commit = git_stdin(
            &bare,
            &["commit-tree", "-p", &old, &tree],
            message.as_bytes(),
        );
        git(&bare, &["update-ref", "refs/heads/main", &commit, &old]);
        commit
    }

    /// Takes the I7 baseline again, after a test changed things outside the
    /// folders (or in a `.git`) on purpose.
    pub fn rebaseline(&self) {
        *self.baseline.borrow_mut() = Some(self.containment());
    }

    /// I1–I7 with the defaults. `versions`: every file version that stood still long enough.
    pub fn check_invariants(&self, versions: &[&[u8]]) {
        self.check().versions(versions).run();
    }

    /// I1–I7, where `absent` are server paths the clients are expected not to
    /// hold (refused names); they must stay on the server.
    pub fn check_invariants_except(&self, versions: &[&[u8]], absent: &[&str]) {
        self.check().versions(versions).absent(absent).run();
    }

    /// The invariants, to be adjusted before `run()`.
    pub fn check(&self) -> Checks<'_> {
        Checks {
            w: self,
            versions: Vec::new(),
            absent: Vec::new(),
            fsck_ignore: Vec::new(),
            forward_since: None,
        }
    }

    fn client_roots_outside_session(&self) -> Vec<PathBuf> {
        self.clients
            .iter()
            .filter(|c| !c.dir.starts_with(self.session.root.path()))
            .filter_map(|c| c.dir.parent().map(Path::to_path_buf))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// What Ferry legitimately writes outside the folders: each client's
    /// config dir (settings, logs, status, sign-in locks), the session's own
    /// config dir, the D-Bus/keyring runtime dir, and gnome-keyring's store.
    fn own_state(&self) -> Vec<PathBuf> {
        let root = self.session.root.path();
        let mut skip = vec![
            root.join("config"),
            root.join("run"),
            self.session.home().join(".local/share/keyrings"),
        ];
        for c in &self.clients {
            skip.push(c.config.clone());
            skip.push(c.dir.clone());
        }
        skip
    }

    fn containment(&self) -> Containment {
        let skip = self.own_state();
        let mut outside = BTreeMap::new();
        walk_meta(self.session.root.path(), &skip, &mut outside);
        for parent in self.client_roots_outside_session() {
            walk_meta(&parent, &skip, &mut outside);
        }
        let gitdirs = self
            .clients
            .iter()
            .map(|c| {
                let gitdir = c.dir.join(".git");
                let skip: Vec<PathBuf> = GITDIR_OWN
                    .iter()
                    .map(|n| gitdir.join(n))
                    .chain(ferry_state_in(&gitdir))
                    .collect();
                let mut m = BTreeMap::new();
                walk_meta(&gitdir, &skip, &mut m);
                m
            })
            .collect();
        Containment { outside, gitdirs }
    }

    /// I7: nothing outside the folders changed since the baseline, and
    /// nothing in a `.git` except through git.
    fn check_contained(&self) {
        let Some(before) = self.baseline.borrow().clone() else {
            return;
        };
        let now = self.containment();
        let changed = diff_meta(&before.outside, &now.outside);
        assert!(
            changed.is_empty(),
            "I7: Ferry writes only inside the synced folders, yet outside them: {changed:#?}"
        );
        for (c, (was, is)) in self
            .clients
            .iter()
            .zip(before.gitdirs.iter().zip(&now.gitdirs))
        {
            let gitdir = c.dir.join(".git");
            let changed = diff_meta(was, is);
            assert!(
                changed.is_empty(),
                "I7: nothing in {}'s .git is written except through git: {changed:#?}",
                c.name
            );
            for e in std::fs::read_dir(gitdir.join("hooks"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    name.ends_with(".sample"),
                    "I7: no hook is planted in {}'s .git (found hooks/{name})",
                    c.name
                );
            }
            for planted in ["commondir", "gitdir", "objects/info/alternates"] {
                assert!(
                    std::fs::symlink_metadata(gitdir.join(planted)).is_err(),
                    "I7: {}'s .git has no {planted}, which would redirect the repository",
                    c.name
                );
            }
        }
    }
}

/// `.git` entries that git itself (through Ferry) rewrites: left out of I7's comparison.
const GITDIR_OWN: &[&str] = &[
    "objects",
    "refs",
    "logs",
    "index",
    "HEAD",
    "FETCH_HEAD",
    "ORIG_HEAD",
    "packed-refs",
    "info/exclude",
];

fn ferry_state_in(gitdir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(gitdir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ferry"))
        .map(|e| e.path())
        .collect()
}

/// The JSON object `sync --once --json` printed for the (one) folder.
pub fn folder_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.trim_start().starts_with('{'));
    line.and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("sync --once --json prints the folder's JSON: {}", text(out)))
}

/// The notes (`path`, `kind`, `message`) of a folder's JSON from `sync --json`
/// (`report.notes`) or `status --json` (`notes`).
pub fn notes(v: &Value) -> Vec<Value> {
    v["report"]["notes"]
        .as_array()
        .or_else(|| v["notes"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// True when `v` carries a note of `kind` for `path`.
pub fn has_note(v: &Value, kind: &str, path: &str) -> bool {
    notes(v)
        .iter()
        .any(|n| n["kind"] == kind && n["path"] == path)
}

/// A running `ferry sync`; killed on drop.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it and waits.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `limit` for `done`, polling every 100 ms; false on timeout.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------- invariants

/// The invariants I1–I7 of RELIABILITY.md, adjustable per test.
pub struct Checks<'w> {
    w: &'w World,
    versions: Vec<Vec<u8>>,
    absent: Vec<String>,
    fsck_ignore: Vec<String>,
    forward_since: Option<String>,
}

impl Checks<'_> {
    /// I1: every version that stood still long enough.
    pub fn versions(mut self, versions: &[&[u8]]) -> Self {
        self.versions.extend(versions.iter().map(|v| v.to_vec()));
        self
    }

    /// I2: server paths the clients are expected not to hold as the server
    /// has them (refused names; a local ignored file in the way). They are
    /// left out of the comparison on both sides and `git status` may mention
    /// them, but they must still be on the server: no client deleted them
    /// for everyone.
    pub fn absent(mut self, paths: &[&str]) -> Self {
        self.absent.extend(paths.iter().map(|p| p.to_string()));
        self
    }

    /// I3: fsck message ids to ignore, for a tree the test crafted past the
    /// server's checks on purpose (e.g. `hasDotgit`).
    pub fn fsck_ignore(mut self, ids: &[&str]) -> Self {
        self.fsck_ignore.extend(ids.iter().map(|p| p.to_string()));
        self
    }

    /// I4: check the server's tips only from `tip` on (a maintainer's
    /// force-push before it was the test's doing).
    pub fn forward_since(mut self, tip: &str) -> Self {
        self.forward_since = Some(tip.to_string());
        self
    }

    /// Checks I1–I7; I6 runs two more rounds of `sync --once` on every client.
    pub fn run(self) {
        let w = self.w;
        // I1 nothing lost: each version is on the server or on some client's disk.
        for v in &self.versions {
            let on_disk = w
                .clients
                .iter()
                .any(|c| folder_files(&c.dir).values().any(|b| b == v));
            assert!(
                on_disk || w.server_history_contains(v),
                "I1: the version {:?} was lost",
                String::from_utf8_lossy(&v[..v.len().min(200)])
            );
        }
        self.converged();
        self.intact();
        self.forward_only();
        // I5 no leak.
        let mut leaks = Vec::new();
        let token = &w.kit.info().token;
        files_containing(w.session.root.path(), token, &mut leaks);
        for c in w
            .clients
            .iter()
            .filter(|c| !c.dir.starts_with(w.session.root.path()))
        {
            files_containing(&c.dir, token, &mut leaks);
        }
        assert!(leaks.is_empty(), "I5: the token is in {leaks:?}");
        // I6 quiet: once nobody edits, two more cycles each change nothing.
        let tip = w.server_tip();
        w.rounds(2);
        let after = w.server_tip();
        assert_eq!(
            after,
            tip,
            "I6: with nobody editing, two more rounds leave the server still; they made: {:?}",
            git(
                &w.server(),
                &["log", "--format=%s", &format!("{tip}..{after}")]
            )
        );
        // I7 contained.
        w.check_contained();
    }

    /// I2 converged: every folder equals the server's tree (modes, symlinks
    /// and conflict copies included), and `git status` is clean.
    fn converged(&self) {
        let w = self.w;
        let server = w.server_entries();
        for a in &self.absent {
            assert!(
                server.contains_key(a),
                "I2: {a:?} stays on the server: a client that can't hold it must not delete it for everyone"
            );
        }
        let filtered = server
            .keys()
            .any(|p| p == ".gitattributes" || p.ends_with("/.gitattributes"));
        for c in &w.clients {
            let filemode = git_config_bool(&c.dir, "core.filemode", true);
            let symlinks = git_config_bool(&c.dir, "core.symlinks", true);
            let expected: BTreeMap<String, Entry> = server
                .iter()
                .filter(|(p, _)| !self.absent.contains(p))
                .map(|(p, e)| (p.clone(), as_checked_out(e, symlinks)))
                .collect();
            let local: BTreeMap<String, Entry> = folder_entries(&c.dir)
                .into_iter()
                .filter(|(p, _)| !self.absent.contains(p))
                .collect();
            let paths = |m: &BTreeMap<String, Entry>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(
                paths(&local),
                paths(&expected),
                "I2: client {} holds the server's paths",
                c.name
            );
            for (path, entry) in &local {
                let want = &expected[path];
                let same = match (entry, want) {
                    (Entry::File { bytes: a, exec: x }, Entry::File { bytes: b, exec: y }) => {
                        let content = if filtered && a != b {
                            // Attributes (eol, text): the same when git's
                            // clean filter makes the file the server's blob.
                            git_stdin(&c.dir, &["hash-object", "--path", path, "--stdin"], a)
                                == git_stdin(&c.dir, &["hash-object", "--no-filters", "--stdin"], b)
                        } else {
                            a == b
                        };
                        content && (!filemode || x == y)
                    }
                    (a, b) => a == b,
                };
                assert!(
                    same,
                    "I2: {path:?} of client {} equals the server's: local {}, server {}",
                    c.name,
                    entry.describe(),
                    want.describe()
                );
            }
            let status = git_output(
                &c.dir,
                &["status", "--porcelain", "-z", "--untracked-files=all"],
            );
            assert!(status.status.success(), "I2: git status runs in {}", c.name);
            let nested = nested_repositories(&c.dir);
            let dirty: Vec<String> = status
                .stdout
                .split(|b| *b == 0)
                .filter(|r| r.len() > 3)
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .filter(|r| {
                    let path = &r[3..];
                    !self.absent.iter().any(|a| a == path)
                        && !nested
                            .iter()
                            .any(|n| path == n || path.starts_with(&format!("{n}/")))
                })
                .collect();
            assert!(
                dirty.is_empty(),
                "I2: client {} is clean: {dirty:?}",
                c.name
            );
        }
    }

    /// I3 intact: `git fsck` is clean, no lock is left, no merge or rebase is under way.
    fn intact(&self) {
        let w = self.w;
        let mut fsck = Vec::new();
        for id in &self.fsck_ignore {
            fsck.push("-c".to_string());
            fsck.push(format!("fsck.{id}=ignore"));
        }
        fsck.extend(["fsck", "--no-dangling", "--no-progress"].map(String::from));
        let fsck: Vec<&str> = fsck.iter().map(String::as_str).collect();
        for dir in w.clients.iter().map(|c| c.dir.clone()).chain([w.server()]) {
            git(&dir, &fsck);
            let gitdir = if dir.join(".git").is_dir() {
                dir.join(".git")
            } else {
                dir.clone()
            };
            for state in [
                "MERGE_HEAD",
                "rebase-merge",
                "rebase-apply",
                "CHERRY_PICK_HEAD",
                "ferry-apply",
            ] {
                assert!(
                    !gitdir.join(state).exists(),
                    "I3: {} has {state}",
                    dir.display()
                );
            }
            let mut locks = Vec::new();
            find_locks(&gitdir, &mut locks);
            assert!(
                locks.is_empty(),
                "I3: no lock is left in {}: {locks:?}",
                dir.display()
            );
        }
    }

    /// I4 forward only: every server tip descends from the one before.
    fn forward_only(&self) {
        let bare = self.w.server();
        let mut tips: Vec<String> =
            git(&bare, &["reflog", "show", "--format=%H", "refs/heads/main"])
                .lines()
                .map(str::to_string)
                .collect();
        if let Some(since) = &self.forward_since {
            if let Some(at) = tips.iter().position(|t| t == since) {
                tips.truncate(at + 1);
            }
        }
        for pair in tips.windows(2) {
            let (newer, older) = (&pair[0], &pair[1]);
            let ok = git_output(&bare, &["merge-base", "--is-ancestor", older, newer])
                .status
                .success();
            assert!(
                ok,
                "I4: the server's branch went from {older} to {newer}, not forward"
            );
        }
    }
}

/// Lock files in a git dir; Ferry's own `ferry.lock` (an flock, not a git lock) aside.
fn find_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            if p.file_name() != Some(OsStr::new("objects")) {
                find_locks(&p, out);
            }
        } else if p.extension() == Some(OsStr::new("lock"))
            && p.file_name() != Some(OsStr::new("ferry.lock"))
        {
            out.push(p);
        }
    }
}

fn git_config_bool(dir: &Path, key: &str, default: bool) -> bool {
    let out = git_output(dir, &["config", "--type=bool", "--get", key]);
    match String::from_utf8_lossy(&out.stdout).trim() {
        "true" => true,
        "false" => false,
        _ => default,
    }
}

// ---------------------------------------------------------------- entries

/// A folder or tree entry as git sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file: its bytes and executable bit.
    File { bytes: Vec<u8>, exec: bool },
    /// A symbolic link: its target.
    Symlink(Vec<u8>),
}

impl Entry {
    fn describe(&self) -> String {
        match self {
            Entry::File { bytes, exec } => format!(
                "{} file of {} bytes {:?}",
                if *exec { "an executable" } else { "a" },
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
            ),
            Entry::Symlink(t) => format!("a symlink to {:?}", String::from_utf8_lossy(t)),
        }
    }
}

/// How git checks an entry out where symlinks are (not) supported.
fn as_checked_out(e: &Entry, symlinks: bool) -> Entry {
    match e {
        Entry::Symlink(t) if !symlinks => Entry::File {
            bytes: t.clone(),
            exec: false,
        },
        e => e.clone(),
    }
}

/// A folder's entries without `.git` and without nested repositories, path →
/// entry. Symlinks are read as links, never followed.
pub fn folder_entries(dir: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name() == Some(OsStr::new(".git")) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = rel_path(root, &p);
            if meta.is_dir() {
                if std::fs::symlink_metadata(p.join(".git")).is_ok() {
                    continue; // a nested repository is its own world
                }
                walk(root, &p, out);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, Entry::Symlink(target.as_os_str().as_bytes().to_vec()));
            } else if meta.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                let exec = meta.permissions().mode() & 0o100 != 0;
                out.insert(rel, Entry::File { bytes, exec });
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Nested repositories in a folder (directories with their own `.git`), as paths.
pub fn nested_repositories(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name() == Some(OsStr::new(".git")) {
                continue;
            }
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                if std::fs::symlink_metadata(p.join(".git")).is_ok() {
                    out.push(rel_path(root, &p));
                } else {
                    walk(root, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn rel_path(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap();
    let parts: Vec<String> = rel
        .components()
        .map(|c| String::from_utf8_lossy(c.as_os_str().as_bytes()).into_owned())
        .collect();
    parts.join("/")
}

/// A folder's regular files (without .git and nested repositories), path →
/// bytes. Symlinks are not followed, and not listed.
pub fn folder_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    folder_entries(dir)
        .into_iter()
        .filter_map(|(p, e)| match e {
            Entry::File { bytes, .. } => Some((p, bytes)),
            Entry::Symlink(_) => None,
        })
        .collect()
}

/// The entries of `rev`'s tree in repository `repo` (gitlinks left out).
pub fn tree_entries(repo: &Path, rev: &str) -> BTreeMap<String, Entry> {
    let mut rows = Vec::new();
    for (mode, oid, path) in ls_tree(repo, rev) {
        if mode == "160000" {
            continue; // a gitlink: a skipped entry, never a file
        }
        rows.push((mode, oid, path));
    }
    let oids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let blobs = cat_blobs(repo, &oids);
    rows.into_iter()
        .zip(blobs)
        .map(|((mode, _, path), bytes)| {
            let e = match mode.as_str() {
                "120000" => Entry::Symlink(bytes),
                "100755" => Entry::File { bytes, exec: true },
                _ => Entry::File { bytes, exec: false },
            };
            (path, e)
        })
        .collect()
}

/// `git ls-tree -r -z REV` as (mode, oid, path). The default format: with
/// `-z` its paths are never quoted (a `--format` path would be).
fn ls_tree(repo: &Path, rev: &str) -> Vec<(String, String, String)> {
    let out = git_output(repo, &["ls-tree", "-r", "-z", rev]);
    assert!(
        out.status.success(),
        "ls-tree {rev}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|rec| {
            let rec = String::from_utf8_lossy(rec).into_owned();
            let (head, path) = rec.split_once('\t').unwrap();
            let mut f = head.split(' ');
            let mode = f.next().unwrap().to_string();
            let _kind = f.next();
            let oid = f.next().unwrap().to_string();
            (mode, oid, path.to_string())
        })
        .collect()
}

/// The contents of `oids`, in order, through one `git cat-file --batch`.
fn cat_blobs(repo: &Path, oids: &[&str]) -> Vec<Vec<u8>> {
    if oids.is_empty() {
        return Vec::new();
    }
    let input: Vec<u8> = oids
        .iter()
        .flat_map(|o| format!("{o}\n").into_bytes())
        .collect();
    let mut child = git_command(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let mut rest = out.stdout.as_slice();
    let mut blobs = Vec::with_capacity(oids.len());
    for _ in oids {
        let nl = rest.iter().position(|b| *b == b'\n').unwrap();
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("cat-file header {header:?}"));
        blobs.push(rest[nl + 1..nl + 1 + size].to_vec());
        rest = &rest[nl + 1 + size + 1..];
    }
    blobs
}

// ---------------------------------------------------------------- I7 snapshots

#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    kind: char,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    target: Option<PathBuf>,
    hash: Option<u64>,
}

#[derive(Clone)]
struct Containment {
    outside: BTreeMap<PathBuf, Meta>,
    gitdirs: Vec<BTreeMap<PathBuf, Meta>>,
}

/// Records `dir` (type, size, mode, mtime, link target, hash of small files)
/// into `out`, leaving out the paths in `skip` and everything below them.
fn walk_meta(dir: &Path, skip: &[PathBuf], out: &mut BTreeMap<PathBuf, Meta>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if skip.iter().any(|s| s == &p) {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let kind = if m.file_type().is_symlink() {
            'l'
        } else if m.is_dir() {
            'd'
        } else if m.is_file() {
            'f'
        } else {
            'o'
        };
        let hash = (kind == 'f' && m.len() <= 1 << 20).then(|| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&p).unwrap_or_default().hash(&mut h);
            h.finish()
        });
        let meta = Meta {
            kind,
            // A directory's size and mtime move with its entries; those are recorded themselves.
            size: if kind == 'd' { 0 } else { m.len() },
            mode: m.mode(),
            mtime: if kind == 'd' {
                (0, 0)
            } else {
                (m.mtime(), m.mtime_nsec())
            },
            target: (kind == 'l').then(|| std::fs::read_link(&p).unwrap_or_default()),
            hash,
        };
        out.insert(p.clone(), meta);
        if kind == 'd' {
            walk_meta(&p, skip, out);
        }
    }
}

fn diff_meta(before: &BTreeMap<PathBuf, Meta>, after: &BTreeMap<PathBuf, Meta>) -> Vec<String> {
    let mut out = Vec::new();
    for (p, m) in after {
        match before.get(p) {
            None => out.push(format!("appeared: {} ({m:?})", p.display())),
            Some(b) if b != m => out.push(format!("changed: {} ({b:?} -> {m:?})", p.display())),
            _ => {}
        }
    }
    for p in before.keys().filter(|p| !after.contains_key(*p)) {
        out.push(format!("vanished: {}", p.display()));
    }
    out
}

// ---------------------------------------------------------------- colleagues

/// A change to a tree, for crafted commits. Paths are split on `/` only: a
/// backslash is an ordinary character, and `..` or `.git` are taken literally.
pub enum Put<'a> {
    /// A regular file (100644).
    File(&'a str, &'a [u8]),
    /// An executable file (100755).
    Exec(&'a str, &'a [u8]),
    /// A symbolic link (120000) to the target.
    Link(&'a str, &'a str),
    /// A gitlink (160000) to a commit id.
    Gitlink(&'a str, &'a str),
    /// Removes the path (a file or a whole folder).
    Remove(&'a str),
}

/// Builds `base`'s tree with `changes` applied, in `repo`'s object store,
/// with `hash-object -w` and `mktree`. Returns the tree id.
pub fn craft_tree(repo: &Path, base: &str, changes: &[Put]) -> String {
    // path → (mode, oid)
    let mut flat: BTreeMap<Vec<String>, (String, String)> = BTreeMap::new();
    for (mode, oid, path) in ls_tree(repo, base) {
        flat.insert(split(&path), (mode, oid));
    }
    for c in changes {
        let (path, entry) = match c {
            Put::File(p, b) => (p, Some(("100644", hash_object(repo, b)))),
            Put::Exec(p, b) => (p, Some(("100755", hash_object(repo, b)))),
            Put::Link(p, t) => (p, Some(("120000", hash_object(repo, t.as_bytes())))),
            Put::Gitlink(p, oid) => (p, Some(("160000", oid.to_string()))),
            Put::Remove(p) => (p, None),
        };
        let key = split(path);
        // A new entry replaces whatever was at its path, above it or below it.
        flat.retain(|k, _| !(k.starts_with(&key) || key.starts_with(k)));
        if let Some((mode, oid)) = entry {
            flat.insert(key, (mode.to_string(), oid));
        }
    }
    write_tree(repo, &flat, &[])
}

fn split(path: &str) -> Vec<String> {
    path.split('/').map(str::to_string).collect()
}

fn hash_object(repo: &Path, bytes: &[u8]) -> String {
    git_stdin(repo, &["hash-object", "-w", "--stdin"], bytes)
}

fn write_tree(
    repo: &Path,
    flat: &BTreeMap<Vec<String>, (String, String)>,
    prefix: &[String],
) -> String {
    let mut lines = Vec::new();
    let mut subdirs = BTreeSet::new();
    for (k, (mode, oid)) in flat.iter().filter(|(k, _)| k.starts_with(prefix)) {
        let rest = &k[prefix.len()..];
        if rest.len() == 1 {
            let kind = if mode == "160000" { "commit" } else { "blob" };
            lines.push(format!("{mode} {kind} {oid}\t{}", rest[0]));
        } else {
            subdirs.insert(rest[0].clone());
        }
    }
    for d in subdirs {
        let mut p = prefix.to_vec();
        p.push(d.clone());
        let sub = write_tree(repo, flat, &p);
        lines.push(format!("040000 tree {sub}\t{d}"));
    }
    let mut input = lines.join("\0").into_bytes();
    input.push(0);
    git_stdin(repo, &["mktree", "-z", "--missing"], &input)
}

/// A colleague who uses plain git on a clone of the bare repository.
pub struct Colleague {
    pub dir: PathBuf,
}

impl Colleague {
    /// Runs git in the clone, failing on an error.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    /// Writes a file in the clone.
    pub fn write(&self, path: &str, bytes: &[u8]) {
        write(&self.dir, path, bytes);
    }

    /// `git add -A` and a commit.
    pub fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
    }

    /// Commits what is staged (after `update-index`).
    pub fn commit_index(&self, message: &str) {
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
    }

    /// `git update-index --add --cacheinfo MODE,OID,PATH`.
    pub fn add_cacheinfo(&self, mode: &str, oid: &str, path: &str) {
        self.git(&[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("{mode},{oid},{path}"),
        ]);
    }

    /// Pushes main; panics if the server refuses.
    pub fn push(&self) {
        self.git(&["push", "-q", "origin", "HEAD:main"]);
    }

    /// Pushes main, whatever the server says.
    pub fn try_push(&self) -> Output {
        git_output(&self.dir, &["push", "origin", "HEAD:main"])
    }

    /// `git push --force` of main.
    pub fn force_push(&self) {
        self.git(&["push", "-q", "--force", "origin", "HEAD:main"]);
    }

    /// Fetches and moves to the server's main (dropping nothing unpushed: call it before editing).
    pub fn pull(&self) {
        self.git(&["fetch", "-q", "origin"]);
        self.git(&["reset", "-q", "--hard", "origin/main"]);
    }

    /// Commits `changes` on top of HEAD with plumbing (names git add would
    /// refuse, gitlinks without a repository); HEAD moves to it. Returns the commit.
    pub fn commit_crafted(&self, changes: &[Put], message: &str) -> String {
        let tree = craft_tree(&self.dir, "HEAD", changes);
        let commit = git_stdin(
            &self.dir,
            &["commit-tree", "-p", "HEAD", &tree],
            message.as_bytes(),
        );
        self.git(&["update-ref", "HEAD", &commit]);
        self.git(&["reset", "-q"]);
        commit
    }
}

// ---------------------------------------------------------------- small helpers

/// Writes a file, creating its parents.
pub fn write(dir: &Path, path: &str, content: &[u8]) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// Waits out the quiet period (1 s) so what was written "stood still".
pub fn settle_time() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// The conflict copies in a folder.
pub fn conflict_copies(dir: &Path) -> Vec<String> {
    folder_files(dir)
        .into_keys()
        .filter(|p| p.contains("(conflict "))
        .collect()
}

/// Sets the testkit's faults.
pub fn faults(w: &World, body: Value) {
    reqwest::blocking::Client::new()
        .post(format!("{}/-/testkit/faults", w.kit.url()))
        .json(&body)
        .send()
        .unwrap();
}

/// The server's commit subjects on main, newest first.
pub fn server_log(w: &World) -> Vec<String> {
    git(&w.server(), &["log", "--format=%s", "main"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------- disks

/// Runs a system command, failing the test with a clear message.
fn run(program: &str, args: &[&str], why: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{why}: could not run {program} ({e})"));
    assert!(
        out.status.success(),
        "{why}: {program} {args:?} failed (this test needs root and the tools in the Makefile's APT_TEST): {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn unmount(dir: &Path) {
    for _ in 0..50 {
        let ok = Command::new("umount")
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok || !is_mounted(dir) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("umount").arg("-l").arg(dir).status();
}

fn is_mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap_or_default()))
}

/// A real case-insensitive, case-preserving disk: exFAT through FUSE on a
/// loop device (no symlinks, no executable bit — a USB stick's rules, close
/// to a Windows or default macOS disk). Unmounted and detached on drop.
pub struct CaseInsensitiveDisk {
    dir: tempfile::TempDir,
    device: String,
}

impl CaseInsensitiveDisk {
    /// Creates, formats and mounts a disk of `megabytes`.
    pub fn new(megabytes: u64) -> CaseInsensitiveDisk {
        let why = "mounting a case-insensitive exFAT disk (exfatprogs, exfat-fuse, root)";
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(megabytes << 20)
            .unwrap();
        run("mkfs.exfat", &[image.to_str().unwrap()], why);
        let device = run("losetup", &["-f", "--show", image.to_str().unwrap()], why);
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let disk = CaseInsensitiveDisk { dir, device };
        run(
            "mount.exfat-fuse",
            &[&disk.device, mnt.to_str().unwrap()],
            why,
        );
        let probe = mnt.join("Probe.txt");
        std::fs::write(&probe, b"x").unwrap();
        assert!(
            mnt.join("probe.TXT").exists(),
            "{why}: the mounted disk is not case-insensitive"
        );
        std::fs::remove_file(&probe).unwrap();
        disk
    }

    /// Where it is mounted.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for CaseInsensitiveDisk {
    fn drop(&mut self) {
        unmount(&self.path());
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

/// A small disk (tmpfs) for disk-full tests, which can grow. Unmounted on drop.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. "5m").
    pub fn new(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                dir.path().to_str().unwrap(),
            ],
            "mounting a small tmpfs disk (root)",
        );
        SmallDisk { dir }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Grows (or shrinks) it to `size`.
    pub fn resize(&self, size: &str) {
        run(
            "mount",
            &[
                "-o",
                &format!("remount,size={size}"),
                self.dir.path().to_str().unwrap(),
            ],
            "resizing the small tmpfs disk",
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        unmount(self.dir.path());
    }
}
