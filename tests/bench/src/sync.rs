//! `ferry-bench sync`: the sync engine against ferry-testkit on loopback,
//! each figure beside the git CLI doing the same work in the same run.
//!
//! Real `ferry` processes (the release binary next to this one, or
//! `FERRY_BIN`) with their sign-in in a plain file inside a temporary config
//! directory, so the user's own settings and keyring are never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{Options, Testkit};
use serde_json::{json, Value};

use crate::{admin, ms, requests};

/// What the sync benchmark runs.
pub struct Plan {
    /// Saves timed from the file written to the commit on the server.
    pub saves: usize,
    /// Pushes by another client timed until the file changes in the folder.
    pub pushes: usize,
    /// Files in the bulk commit-and-push and clone runs.
    pub files: usize,
    /// Folders synced at once in the idle run.
    pub folders: usize,
    /// Seconds the idle run is measured for (after the active window ends).
    pub idle_secs: u64,
    /// Clone runs (alternating with `git clone`), for a median.
    pub clones: usize,
    /// Size of the file in the large-file run, MiB.
    pub large_mib: usize,
    /// Run only these parts (`live`, `bulk`, `large`, `idle`); all when empty.
    pub only: Vec<String>,
}

impl Plan {
    fn runs(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

/// A small deterministic generator for file contents and pauses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `len` bytes of printable text.
    fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "ferry", "river", "page", "draft", "notes", "about", "team", "update", "the", "and",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            out.extend_from_slice(WORDS[self.below(WORDS.len() as u64) as usize].as_bytes());
            out.push(if self.below(12) == 0 { b'\n' } else { b' ' });
        }
        out.truncate(len);
        out
    }
}

fn ferry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRY_BIN") {
        return p.into();
    }
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("ferry")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `ferry sync` process, stopped when dropped (also on a panic).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One `ferry` user: a config directory with a sign-in to the testkit.
struct User {
    config: PathBuf,
}

impl User {
    fn new(kit: &Testkit, root: &Path, name: &str) -> User {
        let user = User {
            config: root.join(format!("config-{name}")),
        };
        let token = format!("{}\n", kit.info().token);
        user.run(
            &[
                "instance",
                "add",
                kit.url(),
                "--token-stdin",
                "--store-token-in-file",
                "--name",
                "bench",
            ],
            &token,
        );
        user
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ferry_bin());
        c.arg("--config-dir").arg(&self.config).args(args);
        c.env("FERRY_LOG", "warn");
        c
    }

    fn run(&self, args: &[&str], stdin: &str) {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferry runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ferry {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn add_folder(&self, project: &str, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        self.run(
            &["folder", "add", "bench", project, dir.to_str().unwrap()],
            "",
        );
    }

    fn sync_forever(&self) -> Running {
        Running(
            self.command(&["sync"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ferry sync runs"),
        )
    }
}

fn new_project(kit: &Testkit, path: &str, with_readme: bool) -> String {
    admin(
        kit,
        "POST",
        "/projects",
        json!({"namespace": "editor", "path": path, "with_readme": with_readme}),
    );
    format!("editor/{path}")
}

/// The server's tip of `main` for a project.
fn server_tip(kit: &Testkit, project: &str) -> Option<String> {
    let bare = kit.repo_dir(project);
    if let Ok(s) = std::fs::read_to_string(bare.join("refs/heads/main")) {
        return Some(s.trim().to_string());
    }
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "-q", "refs/heads/main"])
        .current_dir(&bare)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn clone_url(kit: &Testkit, project: &str) -> String {
    let token = &kit.info().token;
    kit.url().replacen("://", &format!("://bench:{token}@"), 1) + &format!("/{project}.git")
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} took over {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn median(v: &[Duration]) -> Duration {
    percentile(v, 0.5)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn write_tree(root: &Path, files: usize, rng: &mut Rng) {
    for i in 0..files {
        let dir = root.join(format!("section-{:02}", i % 50));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("page-{i:05}.md")), rng.text(2048)).unwrap();
    }
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    ticks / hz
}

/// Runs `cmd` to the end: its wall time, peak resident memory, and peak
/// anonymous memory (sampled; the rest is file pages mapped from disk,
/// which the system can drop), both in MiB.
#[allow(unsafe_code)] // wait4(2) with rusage has no std or rustix wrapper.
fn timed_peak(mut cmd: Command) -> (Duration, f64, f64) {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("command runs");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let anon = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("RssAnon:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                    .unwrap_or(0.0);
                peak = peak.max(anon / 1024.0);
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child spawned above, which no one else waits for.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let anon = sampler.join().unwrap_or(0.0);
    assert_eq!(waited, pid as libc::pid_t, "waited for the command");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the command succeeded"
    );
    std::mem::forget(child);
    (t.elapsed(), usage.ru_maxrss as f64 / 1024.0, anon)
}

/// Resident memory of a process in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Runs the sync benchmarks and prints their table.
pub fn run(plan: Plan) -> anyhow::Result<()> {
    anyhow::ensure!(
        ferry_bin().exists(),
        "no ferry binary at {} (build it with `cargo build --release --bin ferry`, or set FERRY_BIN)",
        ferry_bin().display()
    );
    let kit = Testkit::start(Options::default())?;
    let root = tempfile::tempdir()?;
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut rows: Vec<[String; 4]> = Vec::new();

    // 1 + 2: a running `ferry sync` sending saves and receiving pushes.
    if plan.runs("live") {
        let project = new_project(&kit, "live", true);
        let user = User::new(&kit, root.path(), "live");
        let folder = root.path().join("Live");
        user.add_folder(&project, &folder);
        let other = root.path().join("other-git");
        git(
            root.path(),
            &["clone", "-q", &clone_url(&kit, &project), "other-git"],
        );
        let sync = user.sync_forever();
        std::thread::sleep(Duration::from_secs(2));

        let mut save_times = Vec::new();
        for i in 0..plan.saves {
            let before = server_tip(&kit, &project);
            std::fs::write(folder.join("notes.md"), format!("save {i}\n{}", i * 7))?;
            let took = wait_until(
                "a save reaching the server",
                Duration::from_secs(30),
                || server_tip(&kit, &project) != before,
            );
            save_times.push(took);
            // A person's pace: saves a second or more apart (a file closed
            // again within the quiet period is taken as written in bursts).
            std::thread::sleep(Duration::from_millis(1000 + rng.below(500)));
        }

        let mut pull_times = Vec::new();
        let mut git_pull_times = Vec::new();
        let watcher_clone = root.path().join("pull-git");
        git(
            root.path(),
            &["clone", "-q", &clone_url(&kit, &project), "pull-git"],
        );
        for i in 0..plan.pushes {
            git(&other, &["pull", "-q", "--rebase"]);
            let content = format!("pushed {i}\n");
            std::fs::write(other.join("incoming.md"), &content)?;
            git(&other, &["add", "-A"]);
            git(&other, &["commit", "-qm", "Another editor's change"]);
            git(&other, &["push", "-q", "origin", "HEAD:main"]);
            let took = wait_until(
                "a push reaching the folder",
                Duration::from_secs(60),
                || {
                    std::fs::read(folder.join("incoming.md")).ok().as_deref()
                        == Some(content.as_bytes())
                },
            );
            pull_times.push(took);
            let t = Instant::now();
            git(&watcher_clone, &["pull", "-q", "--ff-only"]);
            git_pull_times.push(t.elapsed());
            // Land the next push at a random point of the poll cycle.
            std::thread::sleep(Duration::from_millis(rng.below(3000)));
        }
        drop(sync);

        // The git CLI doing one save's work by hand: commit and push.
        let mut git_save_times = Vec::new();
        for i in 0..plan.saves.min(20) {
            git(&other, &["pull", "-q", "--rebase"]);
            std::fs::write(other.join("notes-git.md"), format!("git save {i}\n"))?;
            let t = Instant::now();
            git(&other, &["add", "-A"]);
            git(&other, &["commit", "-qm", "Update notes-git.md"]);
            git(&other, &["push", "-q", "origin", "HEAD:main"]);
            git_save_times.push(t.elapsed());
        }
        rows.push([
            format!(
                "save → commit on the server, {} saves (close-after-write, 1–1.5 s apart; quiet period 1 s)",
                plan.saves
            ),
            format!(
                "median {}, p95 {}",
                ms(median(&save_times)),
                ms(percentile(&save_times, 0.95))
            ),
            format!(
                "`git add -A && git commit && git push`: median {}",
                ms(median(&git_save_times))
            ),
            "median ≤ 400 ms, p95 ≤ 1 s (before #12: median 1125 ms)".into(),
        ]);
        rows.push([
            format!(
                "another client's push → file updated here, {} pushes (active)",
                plan.pushes
            ),
            format!(
                "median {}, p95 {}",
                secs(median(&pull_times)),
                secs(percentile(&pull_times, 0.95))
            ),
            format!(
                "`git pull` once the push is known: median {}",
                ms(median(&git_pull_times))
            ),
            "median ≤ 5 s".into(),
        ]);
    }

    // 3 + 4: many new files committed and pushed, then cloned.
    if plan.runs("bulk") {
        let ferry_project = new_project(&kit, "bulk-ferry", false);
        let git_project = new_project(&kit, "bulk-git", false);
        let user = User::new(&kit, root.path(), "bulk");
        let folder = root.path().join("Bulk");
        user.add_folder(&ferry_project, &folder);
        let mut tree_rng = Rng(42);
        write_tree(&folder, plan.files, &mut tree_rng);
        let clone = root.path().join("bulk-git");
        git(
            root.path(),
            &["clone", "-q", &clone_url(&kit, &git_project), "bulk-git"],
        );
        let mut tree_rng = Rng(42);
        write_tree(&clone, plan.files, &mut tree_rng);
        // Both sides start with files older than the quiet period.
        std::thread::sleep(Duration::from_millis(1500));

        let t = Instant::now();
        user.run(&["sync", "--once"], "");
        let ferry_push = t.elapsed();
        anyhow::ensure!(
            git(
                &kit.repo_dir(&ferry_project),
                &["ls-tree", "-r", "--name-only", "main"]
            )
            .lines()
            .count()
                == plan.files,
            "ferry pushed every file"
        );
        let t = Instant::now();
        git(&clone, &["add", "-A"]);
        git(&clone, &["commit", "-qm", "Add files"]);
        git(&clone, &["push", "-q", "origin", "HEAD:main"]);
        let git_push = t.elapsed();
        rows.push([
            format!(
                "{} new files (2 KiB) committed and pushed (`ferry sync --once`)",
                plan.files
            ),
            secs(ferry_push),
            format!(
                "`git add -A && git commit && git push`: {} ({:.2}×)",
                secs(git_push),
                ferry_push.as_secs_f64() / git_push.as_secs_f64()
            ),
            "≤ 1.5×".into(),
        ]);

        let mut ferry_clone = Vec::new();
        let mut git_clone = Vec::new();
        for run in 0..plan.clones {
            // Both start with the disk's queue flushed: this VM's I/O is noisy.
            let _ = Command::new("sync").status();
            let reader = User::new(&kit, root.path(), &format!("reader-{run}"));
            let dir = root.path().join(format!("Clone-{run}"));
            let t = Instant::now();
            reader.add_folder(&ferry_project, &dir);
            ferry_clone.push(t.elapsed());
            let _ = Command::new("sync").status();
            let t = Instant::now();
            git(
                root.path(),
                &[
                    "clone",
                    "-q",
                    &clone_url(&kit, &ferry_project),
                    &format!("git-clone-{run}"),
                ],
            );
            git_clone.push(t.elapsed());
        }
        let (f, g) = (median(&ferry_clone), median(&git_clone));
        rows.push([
            format!(
                "clone of those {} files (`ferry folder add`), median of {}",
                plan.files, plan.clones
            ),
            secs(f),
            format!(
                "`git clone`: {} ({:.2}×)",
                secs(g),
                f.as_secs_f64() / g.as_secs_f64()
            ),
            "≤ 1.1×".into(),
        ]);
    }

    // 5: one large file from another client, applied to the folder.
    if plan.runs("large") {
        let project = new_project(&kit, "large", true);
        let user = User::new(&kit, root.path(), "large");
        let folder = root.path().join("Large");
        user.add_folder(&project, &folder);
        let pusher = root.path().join("large-push");
        git(
            root.path(),
            &["clone", "-q", &clone_url(&kit, &project), "large-push"],
        );
        let puller = root.path().join("large-pull");
        git(
            root.path(),
            &["clone", "-q", &clone_url(&kit, &project), "large-pull"],
        );
        // Incompressible bytes, written in pieces.
        {
            use std::io::Write;
            let mut f = std::fs::File::create(pusher.join("video.bin"))?;
            let mut chunk = vec![0u8; 1 << 20];
            for _ in 0..plan.large_mib {
                for b in chunk.iter_mut() {
                    *b = rng.next() as u8;
                }
                f.write_all(&chunk)?;
            }
        }
        git(&pusher, &["add", "video.bin"]);
        git(&pusher, &["commit", "-qm", "Add video"]);
        git(&pusher, &["push", "-q", "origin", "HEAD:main"]);
        let _ = Command::new("sync").status();
        let (ferry_time, ferry_rss, ferry_anon) = timed_peak(user.command(&["sync", "--once"]));
        anyhow::ensure!(
            std::fs::metadata(folder.join("video.bin"))?.len() == (plan.large_mib as u64) << 20,
            "ferry wrote the whole file"
        );
        let _ = Command::new("sync").status();
        let mut pull = Command::new("git");
        pull.args(["pull", "-q", "--ff-only"]).current_dir(&puller);
        let (git_time, git_rss, git_anon) = timed_peak(pull);
        rows.push([
            format!(
                "a {} MiB file pushed by another client, applied (`ferry sync --once`): time, peak RSS (of it anonymous)",
                plan.large_mib
            ),
            format!(
                "{}, {ferry_rss:.0} MiB ({ferry_anon:.0} MiB)",
                secs(ferry_time)
            ),
            format!(
                "`git pull`: {}, {git_rss:.0} MiB ({git_anon:.0} MiB)",
                secs(git_time)
            ),
            "memory bounded".into(),
        ]);
    }

    // 6: many folders doing nothing.
    if plan.runs("idle") {
        let user = User::new(&kit, root.path(), "idle");
        for i in 0..plan.folders {
            let project = new_project(&kit, &format!("idle-{i:02}"), true);
            user.add_folder(&project, &root.path().join(format!("Idle-{i:02}")));
        }
        let sync = user.sync_forever();
        let pid = sync.0.id();
        // The first two minutes after start count as active (fast polling).
        admin(&kit, "DELETE", "/requests", Value::Null);
        let active = Duration::from_secs(125);
        std::thread::sleep(active);
        let active_requests = requests(&kit);
        let cpu_before = cpu_seconds(pid);
        admin(&kit, "DELETE", "/requests", Value::Null);
        std::thread::sleep(Duration::from_secs(plan.idle_secs));
        let idle_requests = requests(&kit);
        let cpu = cpu_seconds(pid) - cpu_before;
        let rss = rss_mib(pid);
        drop(sync);
        let per_hour = |n: u64, d: Duration| n as f64 * 3600.0 / d.as_secs_f64();
        let idle = Duration::from_secs(plan.idle_secs);
        rows.push([
            format!(
                "{} folders idle for {} s (default 60 s idle poll)",
                plan.folders, plan.idle_secs
            ),
            format!(
                "{:.2} CPU s ({:.1} CPU s/hour); {:.0} requests/hour ({:.0} per folder)",
                cpu,
                cpu * 3600.0 / idle.as_secs_f64(),
                per_hour(idle_requests, idle),
                per_hour(idle_requests, idle) / plan.folders as f64
            ),
            format!(
                "first 2 min after start (3 s poll): {:.0} requests/hour per folder",
                per_hour(active_requests, active) / plan.folders as f64
            ),
            "small".into(),
        ]);
        rows.push([
            format!("RSS of `ferry sync` with {} folders", plan.folders),
            format!("{rss:.1} MiB"),
            "–".into(),
            "–".into(),
        ]);
    }

    println!("ferry sync benchmark (ferry-testkit on loopback, release build)");
    println!("| what | ferry | git CLI, same run | goal |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
    Ok(())
}
