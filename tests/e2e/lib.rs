//! Harness for Ferry's end-to-end tests: the real `ferry-desktop` binary in
//! a real WebKitGTK window on a private Xvfb display and D-Bus session,
//! driven through `tauri-driver` + WebKitWebDriver, plus X11 tools for what
//! WebDriver cannot reach (window close, the tray, pixels).
//!
//! Every test gets its own display, bus, config dir and home, so tests run
//! in parallel and never touch the user's settings. Screenshots go to
//! `target/e2e-screenshots/`.
//!
//! Needs (Debian): xvfb, dbus, openbox, wmctrl, webkit2gtk-driver, xdotool, imagemagick,
//! trayer, and `cargo install tauri-driver`; and a built app (`make build`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, ImageFormat, MapState, Window};
use x11rb::rust_connection::RustConnection;

/// The workspace's `target/` directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The `ferry-desktop` binary under test: `$FERRY_DESKTOP_BIN`, else the debug build.
pub fn app_binary() -> PathBuf {
    let path = std::env::var_os("FERRY_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/ferry-desktop"));
    assert!(
        path.exists(),
        "{} is missing: run `make build` before the end-to-end tests",
        path.display()
    );
    path.canonicalize().expect("the app binary path resolves")
}

/// Where screenshots are saved, created on first use.
pub fn screenshot_dir() -> PathBuf {
    let dir = target_dir().join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/e2e-screenshots");
    dir
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A temporary directory removed on drop, named with lower-case letters and
/// digits only, so that typing its path with xdotool needs no Shift.
pub struct TestRoot(PathBuf);

impl TestRoot {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "ferry-e2e-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the test root");
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed when dropped.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private X display and D-Bus session bus, with an isolated home and
/// config dir for the app.
pub struct Desktop {
    /// `:N`
    pub display: String,
    /// The private session bus address.
    pub bus: String,
    /// Temp dir holding `home/` and `config/`.
    pub root: TestRoot,
    children: Vec<Guarded>,
    extra_env: Vec<(String, String)>,
}

impl Desktop {
    /// Starts Xvfb (1280x800) on a free display and a D-Bus session bus.
    pub fn start() -> Desktop {
        Self::start_sized(1280, 800)
    }

    /// [`Desktop::start`] with a screen of `width` x `height` pixels (for 200% scale).
    pub fn start_sized(width: u32, height: u32) -> Desktop {
        let screen = format!("{width}x{height}x24");
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &screen,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb (Debian package xvfb)");
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("Xvfb prints its display number");
        let display = format!(":{}", line.trim());
        assert!(
            line.trim().parse::<u32>().is_ok(),
            "Xvfb display number: {line:?}"
        );

        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (Debian package dbus)");
        let mut bus = String::new();
        BufReader::new(dbus.stdout.take().expect("piped"))
            .read_line(&mut bus)
            .expect("dbus-daemon prints its address");

        let root = TestRoot::new();
        // A real window manager: it closes windows the way a user's desktop does.
        let (wm_home, wm_display, wm_bus) = (
            root.path().to_path_buf(),
            display.clone(),
            bus.trim().to_string(),
        );
        let start_openbox = move |attempt: u32| {
            let log = std::fs::File::create(wm_home.join(format!("openbox-{attempt}.log")))
                .expect("create openbox's log");
            Command::new("openbox")
                .env("DISPLAY", &wm_display)
                .env("DBUS_SESSION_BUS_ADDRESS", &wm_bus)
                .env("HOME", &wm_home)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start openbox (Debian package openbox)")
        };
        let openbox = start_openbox(1);
        for dir in [
            "bin",
            "home",
            "config",
            "home/.config",
            "home/.local/share",
            "runtime",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).expect("create test dirs");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                root.path().join("runtime"),
                std::fs::Permissions::from_mode(0o700),
            );
        }
        // xdg-open records what the app asked to open (a folder, a file).
        let opener = root.path().join("bin/xdg-open");
        std::fs::write(
            &opener,
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$FERRY_E2E_OPENED\"\n",
        )
        .expect("write the recording xdg-open");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755));
        }
        let mut desktop = Desktop {
            display: display.clone(),
            bus: bus.trim().to_string(),
            root,
            children: vec![Guarded(xvfb), Guarded(dbus)],
            extra_env: Vec::new(),
        };
        let wm_up = |d: &Desktop, within: Duration| {
            let start = Instant::now();
            while start.elapsed() < within {
                let up = d
                    .command("wmctrl")
                    .arg("-m")
                    .output()
                    .is_ok_and(|o| o.status.success());
                if up {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        };
        // Under load openbox has, rarely, not come up: start it once more
        // before giving up, and say what it printed.
        let mut openbox = Guarded(openbox);
        if !wm_up(&desktop, Duration::from_secs(15)) {
            let exited = openbox.0.try_wait().ok().flatten();
            eprintln!("openbox not up after 15 s (exited: {exited:?}); starting it again");
            drop(openbox);
            openbox = Guarded(start_openbox(2));
            if !wm_up(&desktop, Duration::from_secs(30)) {
                let logs: String = (1..=2)
                    .map(|n| {
                        std::fs::read_to_string(
                            desktop.root.path().join(format!("openbox-{n}.log")),
                        )
                        .unwrap_or_default()
                    })
                    .collect();
                panic!("the window manager did not start on {display}:\n{logs}");
            }
        }
        desktop.children.push(openbox);
        desktop
    }

    /// [`wait_for`], saving a screenshot named after `what` when it times out.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if start.elapsed() > timeout {
                let name: String = what
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let shot = self.screenshot(&format!("FAILED-{name}"));
                panic!(
                    "timed out after {timeout:?} waiting for {what}; see {}",
                    shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Adds a variable to the environment of every process started later.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// Where the recording browser and xdg-open write what they were asked to open.
    pub fn opened_log(&self) -> PathBuf {
        self.root.path().join("opened.txt")
    }

    /// Every link, folder or file the app asked the system to open, in order.
    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.opened_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Records every desktop notification sent on this desktop's bus
    /// (`dbus-monitor` on the Notify call); read them with [`Desktop::notifications`].
    pub fn watch_notifications(&mut self) {
        let log = std::fs::File::create(self.root.path().join("notifications.txt"))
            .expect("create the notifications log");
        let mut cmd = self.command("dbus-monitor");
        cmd.args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(log)
        .stderr(Stdio::null());
        self.spawn_guarded(&mut cmd);
        std::thread::sleep(Duration::from_millis(300));
    }

    /// What [`Desktop::watch_notifications`] has seen so far.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(self.root.path().join("notifications.txt")).unwrap_or_default()
    }

    /// Starts gnome-keyring's Secret Service on this desktop's bus, with an
    /// unlocked login keyring (as a desktop login does).
    pub fn start_keyring(&mut self) {
        use std::io::Write;
        let mut keyring = self
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring)");
        keyring
            .stdin
            .take()
            .expect("piped")
            .write_all(b"test-password")
            .expect("unlock the keyring");
        self.children.push(Guarded(keyring));
        wait_for("the Secret Service", Duration::from_secs(10), || {
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
                .ok()
                .filter(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        });
    }

    /// The isolated home folder.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// A copy of the app outside the checkout, as an installed Ferry is
    /// (a build under `target/` never starts at login).
    pub fn installed_app(&self) -> PathBuf {
        let dir = self.root.path().join("opt/ferry");
        std::fs::create_dir_all(&dir).unwrap();
        let installed = dir.join("ferry-desktop");
        if !installed.exists() {
            std::fs::copy(app_binary(), &installed).expect("copy the app");
        }
        installed
    }

    /// The login items in this desktop's home (`~/.config/autostart`).
    pub fn login_items(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.home().join(".config/autostart"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Ferry's isolated config dir (`FERRY_CONFIG_DIR`).
    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    /// The environment every process on this desktop gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home();
        let p = |s: &str| home.join(s).display().to_string();
        vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus.clone()),
            ("HOME".into(), home.display().to_string()),
            ("XDG_CONFIG_HOME".into(), p(".config")),
            ("XDG_DATA_HOME".into(), p(".local/share")),
            (
                "XDG_RUNTIME_DIR".into(),
                self.root.path().join("runtime").display().to_string(),
            ),
            (
                "FERRY_CONFIG_DIR".into(),
                self.config_dir().display().to_string(),
            ),
            (
                "FERRY_LOG".into(),
                std::env::var("FERRY_LOG").unwrap_or_else(|_| "info".into()),
            ),
            ("NO_AT_BRIDGE".into(), "1".into()),
            // Links and folders the app opens are recorded, not shown.
            ("BROWSER".into(), browser_binary().display().to_string()),
            (
                "FERRY_E2E_OPENED".into(),
                self.opened_log().display().to_string(),
            ),
            (
                "PATH".into(),
                format!(
                    "{}:{}",
                    self.root.path().join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
            ("GDK_BACKEND".into(), "x11".into()),
            // Software rendering: Xvfb has no GPU.
            ("LIBGL_ALWAYS_SOFTWARE".into(), "1".into()),
        ]
        .into_iter()
        .chain(self.extra_env.iter().cloned())
        .collect()
    }

    /// A command with this desktop's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env());
        cmd
    }

    /// Starts a process on this desktop, killed when the desktop goes away.
    pub fn spawn_guarded(&mut self, cmd: &mut Command) {
        let child = cmd.spawn().expect("spawn a helper process");
        self.children.push(Guarded(child));
    }

    /// Starts trayer, an XEmbed system tray, along the top edge.
    pub fn start_tray_host(&mut self) {
        // trayer has, rarely, never mapped its panel (nothing on screen, nothing
        // printed): start it once more before giving up.
        for attempt in 1..=2 {
            let log = self.root.path().join(format!("trayer-{attempt}.log"));
            let mut cmd = self.command("trayer");
            cmd.args([
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "40",
                "--transparent",
                "false",
                "--tint",
                "0xdddddd",
                "--SetDockType",
                "true",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create trayer's log"));
            let trayer = Guarded(cmd.spawn().expect("start trayer (Debian package trayer)"));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if self.x11().find_by_class("trayer").is_some() {
                    self.children.push(trayer);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!(
                "trayer attempt {attempt}: no panel in 10 s; it said: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        self.screenshot("FAILED-trayer");
        panic!("trayer's panel did not appear in two attempts");
    }

    /// Launches the app directly (not through WebDriver).
    pub fn launch_app(&self) -> App {
        let log = self.root.path().join("app-stderr.log");
        let child = self
            .command(app_binary())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the app's stderr log"))
            .spawn()
            .expect("launch ferry-desktop");
        App {
            child: Some(child),
            log_dir: self.config_dir().join("logs"),
        }
    }

    /// An X11 connection to this display.
    pub fn x11(&self) -> X11 {
        let (conn, screen) =
            x11rb::connect(Some(&self.display)).expect("connect to the test display");
        let root = conn.setup().roots[screen].root;
        X11 { conn, root }
    }

    /// A screenshot of the whole screen, saved as `target/e2e-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        let ok = self
            .command("import")
            .args(["-window", "root"])
            .arg(&path)
            .status()
            .expect("run ImageMagick's import")
            .success();
        assert!(ok, "screenshot {name} failed");
        path
    }

    /// Closes a window as a user does with its close button: the window
    /// manager asks the app (`_NET_CLOSE_WINDOW` → `WM_DELETE_WINDOW`).
    pub fn close_window(&self, w: &WindowInfo) {
        let ok = self
            .command("wmctrl")
            .args(["-i", "-c", &format!("0x{:x}", w.id)])
            .status()
            .expect("run wmctrl")
            .success();
        assert!(ok, "wmctrl could not close window {:?}", w.name);
    }

    /// Runs xdotool on this display.
    pub fn xdotool(&self, args: &[&str]) {
        let ok = self
            .command("xdotool")
            .args(args)
            .status()
            .expect("run xdotool")
            .success();
        assert!(ok, "xdotool {args:?} failed");
    }
}

impl Desktop {
    /// Drags `paths` from a GTK drag source (as a file manager offers them)
    /// to screen point `to` with real mouse events, and drops once `over`
    /// says the target has seen the drag (polled for up to 5 s). A drag the
    /// target never saw (the source missed the press under load) is
    /// released and tried again, up to three times.
    pub fn drag_and_drop(
        &self,
        drag_source: &Path,
        paths: &[PathBuf],
        to: (i32, i32),
        mut over: impl FnMut() -> bool,
    ) {
        for attempt in 1..=3 {
            let _source = Guarded(
                self.command(drag_source)
                    .args(paths)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start the drag source"),
            );
            let source = wait_for("the drag source window", Duration::from_secs(10), || {
                self.x11().visible_window("ferry-e2e drag source")
            });
            std::thread::sleep(Duration::from_millis(300));
            let (x, y, w, h) = source.geometry;
            let (sx, sy) = (x + w as i32 / 2, y + h as i32 / 2);
            let move_to =
                |x: i32, y: i32| self.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
            move_to(sx, sy);
            std::thread::sleep(Duration::from_millis(200));
            self.xdotool(&["mousedown", "1"]);
            // Move in steps, as a hand does: GTK starts a drag after a
            // threshold, and XDND needs motion over the target to negotiate.
            for i in 1..=20 {
                let f = f64::from(i) / 20.0;
                move_to(
                    sx + (f64::from(to.0 - sx) * f) as i32,
                    sy + (f64::from(to.1 - sy) * f) as i32,
                );
                std::thread::sleep(Duration::from_millis(40));
            }
            let start = Instant::now();
            let mut seen = false;
            let mut wiggle = 0;
            while start.elapsed() < Duration::from_secs(5) {
                wiggle = 3 - wiggle;
                move_to(to.0 + wiggle, to.1 + wiggle);
                if over() {
                    seen = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            self.xdotool(&["mouseup", "1"]);
            // The target fetches the dropped data from the source after the
            // release: let the source finish (it quits when the drag ends).
            let mut source_process = _source;
            let ended = Instant::now();
            while ended.elapsed() < Duration::from_secs(10)
                && source_process.0.try_wait().ok().flatten().is_none()
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            if seen {
                return;
            }
            eprintln!("drag attempt {attempt}: the target never saw the drag; trying again");
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("the drop target never saw the drag in three attempts");
    }
}

/// The test browser: records what it opens and completes ferry-testkit's
/// OAuth sign-in form.
pub fn browser_binary() -> PathBuf {
    target_dir().join("debug/ferry-e2e-browser")
}

/// A running `ferry-desktop` process launched by [`Desktop::launch_app`].
pub struct App {
    child: Option<Child>,
    log_dir: PathBuf,
}

impl App {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Whether it has exited, and how.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_for("ferry-desktop to exit", timeout, || self.try_exit_status())
    }

    /// Everything the app logged so far.
    pub fn log(&self) -> String {
        read_logs(&self.log_dir)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Concatenates the app's log files in `dir`.
pub fn read_logs(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::File::open(e.path()).and_then(|mut f| f.read_to_string(&mut out));
        }
    }
    out
}

/// True while a process with `pid` exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A top-level window as X11 sees it.
#[derive(Debug, Clone)]
pub struct WindowInfo {
    /// X window id.
    pub id: Window,
    /// `WM_NAME`.
    pub name: String,
    /// `WM_CLASS` (instance and class, joined by a space).
    pub class: String,
    /// Mapped and on screen.
    pub viewable: bool,
    /// Absolute x, y, width, height.
    pub geometry: (i32, i32, u32, u32),
    /// `_NET_WM_PID`, when set.
    pub pid: Option<u32>,
}

/// Queries and pokes the X server directly.
pub struct X11 {
    conn: RustConnection,
    root: Window,
}

impl X11 {
    /// Every window on the display, depth first.
    pub fn windows(&self) -> Vec<WindowInfo> {
        let mut out = Vec::new();
        let mut stack = vec![self.root];
        while let Some(w) = stack.pop() {
            let Some(tree) = self.conn.query_tree(w).ok().and_then(|c| c.reply().ok()) else {
                continue;
            };
            for &child in tree.children.iter() {
                if let Some(info) = self.info(child) {
                    out.push(info);
                }
                stack.push(child);
            }
        }
        out
    }

    fn info(&self, w: Window) -> Option<WindowInfo> {
        let attrs = self.conn.get_window_attributes(w).ok()?.reply().ok()?;
        let geo = self.conn.get_geometry(w).ok()?.reply().ok()?;
        let abs = self
            .conn
            .translate_coordinates(w, self.root, 0, 0)
            .ok()?
            .reply()
            .ok()?;
        let text = |atom: u32| -> String {
            self.conn
                .get_property(false, w, atom, AtomEnum::ANY, 0, 1024)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|r| {
                    String::from_utf8_lossy(&r.value)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
        let pid_atom = self.atom("_NET_WM_PID");
        let pid = self
            .conn
            .get_property(false, w, pid_atom, AtomEnum::CARDINAL, 0, 1)
            .ok()
            .and_then(|c| c.reply().ok())
            .and_then(|r| r.value32().and_then(|mut v| v.next()));
        Some(WindowInfo {
            id: w,
            name: text(AtomEnum::WM_NAME.into()),
            class: text(AtomEnum::WM_CLASS.into()),
            viewable: attrs.map_state == MapState::VIEWABLE,
            geometry: (
                i32::from(abs.dst_x),
                i32::from(abs.dst_y),
                u32::from(geo.width),
                u32::from(geo.height),
            ),
            pid,
        })
    }

    fn atom(&self, name: &str) -> u32 {
        self.conn
            .intern_atom(false, name.as_bytes())
            .expect("intern_atom request")
            .reply()
            .expect("intern_atom reply")
            .atom
    }

    /// The viewable top-level window titled exactly `title`.
    pub fn visible_window(&self, title: &str) -> Option<WindowInfo> {
        self.windows()
            .into_iter()
            .find(|w| w.viewable && w.name == title && w.geometry.2 > 50)
    }

    /// The first viewable window whose class contains `class`.
    pub fn find_by_class(&self, class: &str) -> Option<WindowInfo> {
        self.windows()
            .into_iter()
            .find(|w| w.viewable && w.class.contains(class))
    }

    /// The RGB pixels of a screen rectangle, row by row.
    pub fn pixels(&self, x: i32, y: i32, w: u32, h: u32) -> Vec<[u8; 3]> {
        let image = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                x as i16,
                y as i16,
                w as u16,
                h as u16,
                !0,
            )
            .expect("get_image request")
            .reply()
            .expect("get_image reply");
        // 24-bit depth arrives as 32-bit BGRX.
        image
            .data
            .chunks_exact(4)
            .map(|p| [p[2], p[1], p[0]])
            .collect()
    }
}

/// The UI's accent blue (#1f6feb), e.g. the "Get started" button.
pub fn accent_blue(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    b > 200 && r < 80 && (90..140).contains(&g)
}

/// Counts pixels matching `pred` in a region.
pub fn count_pixels(pixels: &[[u8; 3]], pred: impl Fn([u8; 3]) -> bool) -> usize {
    pixels.iter().filter(|p| pred(**p)).count()
}

/// `tauri-driver` on a free port, with WebKitWebDriver behind it.
pub struct Driver {
    _process: Guarded,
    base: String,
    agent: ureq::Agent,
}

/// A WebDriver session: the app, launched by WebKitWebDriver.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

impl Driver {
    /// Starts tauri-driver on `desktop`.
    pub fn start(desktop: &Desktop) -> Driver {
        let port = free_port();
        let native = free_port();
        let bin = std::env::var_os("TAURI_DRIVER")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
            })
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("tauri-driver"));
        let process = desktop
            .command(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {} ({e}); install it with `cargo install tauri-driver --locked`",
                    bin.display()
                )
            });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let driver = Driver {
            _process: Guarded(process),
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        wait_for("tauri-driver to listen", Duration::from_secs(20), || {
            driver
                .agent
                .get(format!("{}/status", driver.base))
                .call()
                .ok()
        });
        driver
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path} failed: {e}"))
    }

    /// A WebDriver call that may fail (an element replaced by a re-render).
    fn try_request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}{}", self.base, path);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let value: Value = response
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: bad JSON ({e})"));
        if !status.is_success() {
            return Err(value);
        }
        Ok(value.get("value").cloned().unwrap_or(Value::Null))
    }

    /// Launches the app in a new session.
    pub fn session(&self) -> Session<'_> {
        self.session_of(&app_binary())
    }

    /// Launches the app at `app` (an installed copy) in a new session.
    pub fn session_of(&self, app: &Path) -> Session<'_> {
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "wry",
                    "tauri:options": { "application": app.display().to_string() }
                }
            }
        });
        let value = self.request("POST", "/session", Some(caps));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_string();
        Session { driver: self, id }
    }
}

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element found in the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .request(method, &format!("/session/{}{}", self.id, path), body)
    }

    /// Finds elements matching a CSS selector (empty when none).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        // The page may be re-rendering: that is "none yet", callers wait.
        let v = self
            .driver
            .try_request(
                "POST",
                &format!("/session/{}/elements", self.id),
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to 10 s for an element matching `css`.
    pub fn find(&self, css: &str) -> Element {
        wait_for(&format!("element {css}"), Duration::from_secs(10), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// Waits for the first element matching `css` whose text contains `text`.
    pub fn find_with_text(&self, css: &str, text: &str) -> Element {
        wait_for(
            &format!("{css} containing {text:?}"),
            Duration::from_secs(10),
            || {
                self.find_all(css)
                    .into_iter()
                    .find(|e| self.text(e).contains(text))
            },
        )
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Types `text` into a field, as a keyboard does (after what is there).
    pub fn type_text(&self, e: &Element, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Empties a field.
    pub fn clear(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
    }

    /// Waits up to `timeout` for an element matching `css` whose text contains `text`.
    pub fn wait_text(&self, css: &str, text: &str, timeout: Duration) -> Element {
        wait_for(&format!("{css} containing {text:?}"), timeout, || {
            self.find_all(css)
                .into_iter()
                .find(|e| self.text(e).contains(text))
        })
    }

    /// An element's visible text ("" once the page has replaced it).
    pub fn text(&self, e: &Element) -> String {
        self.driver
            .try_request(
                "GET",
                &format!("/session/{}/element/{}/text", self.id, e.0),
                None,
            )
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// An element's position and size in the page: (x, y, width, height).
    pub fn rect(&self, e: &Element) -> (f64, f64, f64, f64) {
        let r = self.call("GET", &format!("/element/{}/rect", e.0), None);
        let n = |k: &str| r[k].as_f64().unwrap_or_default();
        (n("x"), n("y"), n("width"), n("height"))
    }

    /// An element's attribute.
    pub fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.driver
            .try_request(
                "GET",
                &format!("/session/{}/element/{}/attribute/{name}", self.id, e.0),
                None,
            )
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Runs an async script; it receives its arguments then a callback as
    /// `arguments`, and resolves with what it passes to the callback.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Calls one of the app's commands through the real IPC, as the UI does.
    pub fn invoke(&self, command: &str, args: Value) -> Value {
        self.execute_async(
            "const [cmd, args, done] = arguments;\
             window.__TAURI_INTERNALS__.invoke(cmd, args)\
               .then(v => done({ok: v}), e => done({err: String(e)}));",
            json!([command, args]),
        )
    }

    /// The page's own screenshot, saved as `target/e2e-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("save screenshot");
        path
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.driver.base, self.id);
        let _ = self.driver.agent.delete(&url).call();
    }
}
