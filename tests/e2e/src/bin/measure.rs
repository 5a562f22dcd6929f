//! `ferry-e2e-measure [RUNS]`: start-up time and memory of `ferry-desktop`
//! (set `FERRY_DESKTOP_BIN` to measure a release build), on a private Xvfb.
//!
//! For each run: launch → the window is mapped → the welcome screen is
//! painted (the blue "Get started" button is on screen). Then memory (RSS) of
//! the app and its WebKit helper processes with the window open, and again
//! after the window is closed to the tray.

use std::time::{Duration, Instant};

use ferry_e2e::{accent_blue, app_binary, count_pixels, wait_for, Desktop};

/// RSS in KiB of `pid` and of every descendant process.
fn tree_rss_kib(pid: u32) -> (u64, u64) {
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    };
    let mut children = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for task in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = task.path().join("children");
            if let Ok(list) = std::fs::read_to_string(path) {
                for c in list.split_whitespace().filter_map(|c| c.parse().ok()) {
                    children.push(c);
                    stack.push(c);
                }
            }
        }
    }
    (rss(pid), children.into_iter().map(rss).sum())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    println!("binary: {}", app_binary().display());
    let size = std::fs::metadata(app_binary())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("binary size: {:.1} MiB", size as f64 / 1048576.0);

    let mut mapped = Vec::new();
    let mut painted = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let desktop = Desktop::start();
        let start = Instant::now();
        let app = desktop.launch_app();
        let window = wait_for("the window", Duration::from_secs(30), || {
            desktop.x11().visible_window("Ferry")
        });
        mapped.push(start.elapsed().as_secs_f64() * 1000.0);
        let (x, y, w, h) = window.geometry;
        wait_for("the welcome screen", Duration::from_secs(30), || {
            let px = desktop.x11().pixels(x, y, w, h);
            (count_pixels(&px, accent_blue) > 2000).then_some(())
        });
        painted.push(start.elapsed().as_secs_f64() * 1000.0);
        eprintln!(
            "run {run}: mapped {:.0} ms, painted {:.0} ms",
            mapped[run], painted[run]
        );
        if run + 1 == runs {
            last = Some((desktop, app, window));
        }
    }
    println!(
        "start to window mapped: median {:.0} ms; to welcome painted: median {:.0} ms ({runs} runs)",
        median(&mut mapped),
        median(&mut painted)
    );

    let (desktop, app, window) = last.expect("at least one run");
    std::thread::sleep(Duration::from_secs(3));
    let (main, helpers) = tree_rss_kib(app.pid());
    println!(
        "RSS, window open: app {:.1} MiB + WebKit helpers {:.1} MiB = {:.1} MiB",
        main as f64 / 1024.0,
        helpers as f64 / 1024.0,
        (main + helpers) as f64 / 1024.0
    );
    desktop.close_window(&window);
    wait_for("the window to close", Duration::from_secs(10), || {
        desktop
            .x11()
            .visible_window("Ferry")
            .is_none()
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    let (main, helpers) = tree_rss_kib(app.pid());
    println!(
        "RSS, closed to the tray: app {:.1} MiB + WebKit helpers {:.1} MiB = {:.1} MiB",
        main as f64 / 1024.0,
        helpers as f64 / 1024.0,
        (main + helpers) as f64 / 1024.0
    );
}
