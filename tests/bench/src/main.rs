//! `ferry-bench sync [--saves N] [--pushes N] [--files N] [--folders N] [--idle-secs S] [--clones N] [--large-mib N] [--only live,bulk,large,idle]`:
//! the sync engine's latency, throughput and idle cost (see `sync.rs`).
//!
//! `ferry-bench connect [--projects N] [--runs R]`: the time and the number of
//! HTTP requests for adding an account and listing its repositories on a
//! server with N projects (ferry-testkit on loopback), beside `curl` fetching
//! the same pages (the floor: network + server, no parsing).
//!
//! Figures are printed as a table; nothing is asserted.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::gitlab::account::Accounts;
use ferry::secrets::{MemoryStore, Sensitive};
use ferry_testkit::{Options, Testkit};
use serde_json::{json, Value};

mod sync;

/// Calls one of the testkit's admin endpoints.
fn admin(kit: &Testkit, method: &str, path: &str, body: Value) -> Value {
    let url = format!("{}/-/testkit{path}", kit.url());
    let c = reqwest::blocking::Client::new();
    let r = match method {
        "DELETE" => c.delete(url).send(),
        "GET" => c.get(url).send(),
        _ => c.post(url).json(&body).send(),
    }
    .expect("admin request");
    r.json().unwrap_or(Value::Null)
}

fn requests(kit: &Testkit) -> u64 {
    admin(kit, "GET", "/requests", Value::Null)["total"]
        .as_u64()
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn connect(projects: usize, runs: usize) -> anyhow::Result<()> {
    let kit = Testkit::start(Options::default())?;
    let seeded = kit.info().projects.len();
    admin(
        &kit,
        "POST",
        "/projects/bulk",
        json!({"namespace": "editor", "count": projects.saturating_sub(seeded), "prefix": "site"}),
    );
    let token = kit.info().token.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let mut add_times = Vec::new();
    let mut add_requests = 0;
    let mut list_times = Vec::new();
    let mut list_requests = 0;
    let mut listed = 0;
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let accounts = Accounts::new(dir.path(), Arc::new(MemoryStore::default()));
        admin(&kit, "DELETE", "/requests", Value::Null);
        let t = Instant::now();
        let added = rt.block_on(accounts.add_with_token(
            kit.url(),
            Sensitive::new(token.clone()),
            None,
            None,
        ))?;
        add_times.push(t.elapsed());
        add_requests = requests(&kit);

        admin(&kit, "DELETE", "/requests", Value::Null);
        let server = accounts.server(&added.instance)?;
        let t = Instant::now();
        let cred = rt.block_on(accounts.credential(&added.instance))?;
        let list = rt.block_on(server.pushable_projects(cred.as_credential(), None))?;
        list_times.push(t.elapsed());
        list_requests = requests(&kit);
        listed = list.len();
    }

    // The floor: curl fetching the same pages over one connection, discarding the bodies.
    let pages = listed.div_ceil(100).max(1);
    let urls: Vec<String> = (1..=pages)
        .map(|p| {
            format!(
                "{}/api/v4/projects?archived=false&membership=true&min_access_level=30&order_by=last_activity_at&sort=desc&per_page=100&page={p}",
                kit.url()
            )
        })
        .collect();
    let mut curl_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-H",
                &format!("PRIVATE-TOKEN: {token}"),
            ])
            .args(urls.iter().flat_map(|u| ["-o", "/dev/null", u.as_str()]))
            .status()?;
        anyhow::ensure!(status.success(), "curl failed");
        curl_times.push(t.elapsed());
    }

    println!(
        "ferry connect benchmark: {listed} projects the user can push to, {runs} runs, median"
    );
    println!("| step | ferry | requests | baseline |");
    println!("|---|---|---|---|");
    println!(
        "| instance add (find server, check token + scopes, save) | {} | {add_requests} | – |",
        ms(median(add_times))
    );
    println!(
        "| repos (all pages, parsed) | {} | {list_requests} | curl, same {pages} pages: {} |",
        ms(median(list_times)),
        ms(median(curl_times))
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("connect") => connect(value("--projects", 1000), value("--runs", 5)),
        Some("sync") => sync::run(sync::Plan {
            saves: value("--saves", 50),
            pushes: value("--pushes", 20),
            files: value("--files", 5000),
            folders: value("--folders", 10),
            idle_secs: value("--idle-secs", 300) as u64,
            clones: value("--clones", 7),
            large_mib: value("--large-mib", 500),
            only: args
                .iter()
                .position(|a| a == "--only")
                .and_then(|i| args.get(i + 1))
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        }),
        _ => {
            eprintln!("usage: ferry-bench connect [--projects N] [--runs R]");
            eprintln!("       ferry-bench sync [--saves N] [--pushes N] [--files N] [--folders N] [--idle-secs S] [--clones N] [--large-mib N] [--only live,bulk,large,idle]");
            std::process::exit(2);
        }
    }
}
