//! `ferry`: the headless command line over the same engine as the desktop app.
//!
//! Every listing takes `--json`. `--config-dir` (or `FERRY_CONFIG_DIR`)
//! isolates all of Ferry's state, for tests and scripts.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use ferry::config::ConfigStore;
use ferry::gitlab::account::{AccountError, Accounts};
use ferry::gitlab::address;
use ferry::gitlab::diagnose::{self, CheckInput, Outcome};
use ferry::gitlab::oauth::{App, SignInOptions};
use ferry::paths::StateDirs;
use ferry::secrets::{Sensitive, PLAIN_FILE_WARNING};
use ferry::sync::cycle;
use ferry::sync::folder_choice::{check_folder, ChoiceContext, FolderCheck};
use ferry::sync::setup::{self, ExistingFiles};
use ferry::sync::worker;
use ferry::sync::{Engine, Overview, SyncState};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Keep a folder in sync with a GitLab repository"
)]
struct Cli {
    /// Keep all of Ferry's state (settings, logs) in this directory.
    #[arg(long, global = true, env = "FERRY_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show each folder's sync status.
    Status {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Synced folders.
    #[command(subcommand)]
    Folder(FolderCommand),
    /// Keep every folder in sync (until stopped), printing status changes.
    Sync {
        /// One full cycle per folder, then exit: 0 only if every folder ends synced.
        #[arg(long)]
        once: bool,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Ferry's settings file.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// GitLab servers and the accounts Ferry uses on them.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// List the projects an account can push to, or create one.
    Repos {
        /// The account (its name) or the server's address.
        instance: String,
        /// Only projects matching this text (searched on the server).
        #[arg(long)]
        search: Option<String>,
        /// Create a new private project with this name instead of listing.
        #[arg(long, value_name = "NAME")]
        create: Option<String>,
        /// With --create: the group (path) to create it in; default: your own namespace.
        #[arg(long, value_name = "PATH", requires = "create")]
        namespace: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Connect to a GitLab server with a personal access token or an OAuth application.
    Add {
        /// The GitLab address (what you open in the browser), e.g. https://gitlab.example.org
        url: String,
        /// Read a personal access token from standard input.
        #[arg(long, conflicts_with = "oauth")]
        token_stdin: bool,
        /// Sign in in the browser through an OAuth application registered on the server.
        #[arg(long, requires = "client_id")]
        oauth: bool,
        /// The OAuth application's ID.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Read the OAuth application's secret from standard input (confidential applications).
        #[arg(long, requires = "oauth")]
        client_secret_stdin: bool,
        /// Listen for the OAuth answer on this port (for servers that need a fixed redirect port).
        #[arg(long, value_name = "PORT", requires = "oauth")]
        port: Option<u16>,
        /// Give up waiting for the browser sign-in after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
        /// Don't open a browser; just print the address to open.
        #[arg(long)]
        no_browser: bool,
        /// A CA certificate (PEM) for a server with a private certificate authority.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// A name for this account (default: user@server).
        #[arg(long)]
        name: Option<String>,
        /// No keyring on this computer: keep the sign-in in a plain file instead (less safe).
        #[arg(long)]
        store_token_in_file: bool,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Sign an account in again (its token expired or was revoked), keeping its folders.
    Reconnect {
        /// The account (its name).
        name: String,
        /// Read the new personal access token from standard input.
        #[arg(long, required = true)]
        token_stdin: bool,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the connection step by step; exits 0 only if every step passes.
    Check {
        /// The account (its name) or any GitLab address.
        target: String,
        /// A CA certificate (PEM), when checking an address.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// Read a personal access token from standard input, when checking an address.
        #[arg(long)]
        token_stdin: bool,
        /// A project (namespace/path) to test git over HTTPS with.
        #[arg(long)]
        project: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the pages to create a token or register Ferry's OAuth application on a server.
    Links {
        /// The GitLab address.
        url: String,
        /// A CA certificate (PEM) for a server with a private certificate authority.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the accounts.
    List {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account and forget its sign-in (synced folders must be removed first).
    Remove {
        /// The account (its name) or the server's address.
        target: String,
    },
}

#[derive(Subcommand)]
enum FolderCommand {
    /// Start syncing DIR with PROJECT (an id or namespace/path) of an account.
    Add {
        /// The account (its name) or the server's address.
        instance: String,
        /// The project: numeric id or namespace/path.
        project: String,
        /// The folder on this computer.
        dir: PathBuf,
        /// The branch (default: the project's default branch).
        #[arg(long)]
        branch: Option<String>,
        /// Upload the folder's existing files into the project (default for an empty project).
        #[arg(long, conflicts_with = "backup_existing")]
        upload_existing: bool,
        /// Move the folder's existing files to a backup folder first (default otherwise).
        #[arg(long)]
        backup_existing: bool,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop syncing a folder (its files stay where they are).
    Remove {
        /// The folder's path or id.
        target: String,
    },
    /// Approve the large deletion a folder paused on (exactly that set of files).
    AllowDeletion {
        /// The folder's path or id.
        target: String,
    },
    /// List the synced folders.
    List {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check whether a directory can become a synced folder (what a drop on the window does).
    Check {
        /// The directory to check.
        dir: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Print where the settings file is.
    Path,
    /// Start with fresh settings; the current file is kept as a copy.
    Reset,
}

fn main() -> ExitCode {
    ferry::logging::init_stderr("warn");
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn read_stdin_line(what: &str) -> anyhow::Result<Sensitive<String>> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = line.trim().to_string();
    anyhow::ensure!(!line.is_empty(), "No {what} was given on standard input.");
    Ok(Sensitive::new(line))
}

/// Prints an account error (and its JSON form) and returns exit code 1.
fn account_failure(e: AccountError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"error": {"code": e.code(), "message": e.to_string()}})
        );
    }
    eprintln!("{e}");
    ExitCode::FAILURE
}

fn accounts_for(dirs: &StateDirs, store: &ConfigStore) -> anyhow::Result<Accounts> {
    let config = store.load()?;
    Ok(Accounts::new(
        &dirs.config,
        ferry::secrets::store_for(&config, &dirs.config),
    ))
}

fn print_report(report: &diagnose::Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    for step in &report.steps {
        let mark = match step.outcome {
            Outcome::Pass => "ok  ",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "skip",
        };
        println!(
            "{mark} {:<46} {:>5} ms  {}",
            step.title, step.millis, step.detail
        );
    }
    Ok(())
}

fn run_instance(
    cmd: InstanceCommand,
    dirs: &StateDirs,
    store: &ConfigStore,
) -> anyhow::Result<ExitCode> {
    match cmd {
        InstanceCommand::Add {
            url,
            token_stdin,
            oauth,
            client_id,
            client_secret_stdin,
            port,
            timeout,
            no_browser,
            ca_file,
            name,
            store_token_in_file,
            json,
        } => {
            anyhow::ensure!(
                token_stdin || oauth,
                "Choose how to sign in: --token-stdin (a personal access token) or --oauth --client-id ID."
            );
            if store_token_in_file {
                eprintln!("Warning: {PLAIN_FILE_WARNING}");
                store.update(|c| c.preferences.sign_ins_in_plain_file = true)?;
            }
            let accounts = accounts_for(dirs, store)?;
            let rt = runtime()?;
            let result = if token_stdin {
                let token = read_stdin_line("access token")?;
                rt.block_on(accounts.add_with_token(&url, token, ca_file, name))
            } else {
                let client_secret = if client_secret_stdin {
                    Some(read_stdin_line("application secret")?)
                } else {
                    None
                };
                let app = App {
                    client_id: client_id.unwrap_or_default(),
                    client_secret,
                };
                let options = SignInOptions {
                    port,
                    timeout: Duration::from_secs(timeout),
                    open_browser: !no_browser,
                };
                rt.block_on(accounts.add_with_oauth(&url, app, ca_file, name, &options, |u| {
                    eprintln!(
                        "Sign in to GitLab in your browser. If it doesn't open, open this address:\n  {u}\n\
                         (The application must be registered with the redirect URI {} and the scopes {}.)",
                        address::OAUTH_REDIRECT_URI,
                        address::OAUTH_SCOPES.join(" ")
                    );
                }))
            };
            match result {
                Ok(added) => {
                    if json {
                        println!("{}", serde_json::to_string(&added)?);
                    } else {
                        println!(
                            "Connected to {} as {} ({}). Saved as “{}”.",
                            added.instance.url,
                            added.user.name,
                            added.user.username,
                            added.instance.name
                        );
                    }
                    for w in &added.warnings {
                        eprintln!("Note: {w}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(account_failure(e, json)),
            }
        }
        InstanceCommand::Reconnect {
            name,
            token_stdin: _,
            json,
        } => {
            let accounts = accounts_for(dirs, store)?;
            let token = read_stdin_line("access token")?;
            match runtime()?.block_on(accounts.reconnect_with_token(&name, token)) {
                Ok(again) => {
                    if json {
                        println!("{}", serde_json::to_string(&again)?);
                    } else {
                        println!(
                            "Signed in again to {} as {}. Folders using “{}” continue syncing.",
                            again.instance.url, again.user.username, again.instance.name
                        );
                    }
                    for w in &again.warnings {
                        eprintln!("Note: {w}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(account_failure(e, json)),
            }
        }
        InstanceCommand::Check {
            target,
            ca_file,
            token_stdin,
            project,
            json,
        } => {
            let accounts = accounts_for(dirs, store)?;
            let rt = runtime()?;
            let input = match accounts.find(&target) {
                Ok(instance) => {
                    let credential = match rt.block_on(accounts.credential(&instance)) {
                        Ok(c) => Some(c),
                        Err(e) => return Ok(account_failure(e, json)),
                    };
                    (
                        instance.url.clone(),
                        instance.ca_file.clone(),
                        credential,
                        instance.username.clone(),
                    )
                }
                Err(_) => {
                    let credential = if token_stdin {
                        Some(ferry::gitlab::account::OwnedCredential::Personal(
                            read_stdin_line("access token")?,
                        ))
                    } else {
                        None
                    };
                    (target.clone(), ca_file, credential, None)
                }
            };
            let report = rt.block_on(diagnose::check(CheckInput {
                address: &input.0,
                ca_file: input.1.as_deref(),
                credential: input.2,
                username: input.3,
                project,
            }));
            print_report(&report, json)?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        InstanceCommand::Links { url, ca_file, json } => {
            let rt = runtime()?;
            let server = match rt.block_on(ferry::gitlab::client::Server::find(
                &url,
                ca_file.as_deref(),
            )) {
                Ok(s) => s,
                Err(e) => return Ok(account_failure(e.into(), json)),
            };
            let base = server.base();
            let links = json!({
                "base_url": base,
                "token": address::token_creation_url(base),
                "token_before_16": address::token_creation_url_legacy(base),
                "token_scopes": address::TOKEN_SCOPES,
                "applications": address::applications_url(base),
                "redirect_uri": address::OAUTH_REDIRECT_URI,
                "oauth_scopes": address::OAUTH_SCOPES,
            });
            if json {
                println!("{links}");
            } else {
                println!("GitLab found at {base}\n");
                println!("Personal access token — create one (name and scopes are filled in):");
                println!("  {}", address::token_creation_url(base));
                println!(
                    "  (GitLab before 16: {})\n",
                    address::token_creation_url_legacy(base)
                );
                println!("OAuth application — register Ferry at:");
                println!("  {}", address::applications_url(base));
                println!("  Redirect URI: {}", address::OAUTH_REDIRECT_URI);
                println!("  Scopes:       {}", address::OAUTH_SCOPES.join(" "));
                println!("  Then: ferry instance add {base} --oauth --client-id <Application ID> [--client-secret-stdin]");
            }
            Ok(ExitCode::SUCCESS)
        }
        InstanceCommand::List { json } => {
            let instances = store.load()?.instances;
            if json {
                println!("{}", serde_json::to_string(&instances)?);
            } else if instances.is_empty() {
                println!("No accounts yet. Add one with: ferry instance add URL --token-stdin");
            } else {
                for i in &instances {
                    let how = match i.auth {
                        ferry::config::AuthKind::Token => "access token",
                        ferry::config::AuthKind::Oauth => "OAuth",
                    };
                    println!(
                        "{}  {}  {} ({how})",
                        i.name,
                        i.url,
                        i.username.as_deref().unwrap_or("?")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        InstanceCommand::Remove { target } => {
            let accounts = accounts_for(dirs, store)?;
            match accounts.remove(&target) {
                Ok(i) => {
                    println!("Removed the account “{}” and forgot its sign-in.", i.name);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(account_failure(e, false)),
            }
        }
    }
}

fn run_repos(
    instance: String,
    search: Option<String>,
    create: Option<String>,
    namespace: Option<String>,
    json: bool,
    dirs: &StateDirs,
    store: &ConfigStore,
) -> anyhow::Result<ExitCode> {
    let accounts = accounts_for(dirs, store)?;
    let account = match accounts.find(&instance) {
        Ok(a) => a,
        Err(e) => return Ok(account_failure(e, json)),
    };
    let server = match accounts.server(&account) {
        Ok(s) => s,
        Err(e) => return Ok(account_failure(e, json)),
    };
    let rt = runtime()?;
    if let Some(name) = create {
        let result = rt.block_on(accounts.with_credential(&account, |cred| {
            let server = server.clone();
            let name = name.clone();
            let namespace = namespace.clone();
            async move {
                let ns_id = match namespace {
                    Some(path) => {
                        let all = server.project_namespaces(cred.as_credential()).await?;
                        match all
                            .into_iter()
                            .find(|n| n.full_path.eq_ignore_ascii_case(&path))
                        {
                            Some(n) => Some(n.id),
                            None => {
                                return Err(ferry::gitlab::Error::NotFound {
                                    host: server.host().to_string(),
                                    what: format!("group {path} where you can create projects"),
                                })
                            }
                        }
                    }
                    None => None,
                };
                server
                    .create_project(cred.as_credential(), &name, ns_id)
                    .await
            }
        }));
        return match result {
            Ok(p) => {
                if json {
                    println!("{}", serde_json::to_string(&p)?);
                } else {
                    println!("Created {} ({})", p.path_with_namespace, p.web_url);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(account_failure(e, json)),
        };
    }
    let result = rt.block_on(accounts.with_credential(&account, |cred| {
        let server = server.clone();
        let search = search.clone();
        async move {
            server
                .pushable_projects(cred.as_credential(), search.as_deref())
                .await
        }
    }));
    match result {
        Ok(projects) => {
            if json {
                println!("{}", serde_json::to_string(&projects)?);
            } else if projects.is_empty() {
                println!(
                    "No projects you can push to{}.",
                    search.map(|s| format!(" match “{s}”")).unwrap_or_default()
                );
            } else {
                for p in &projects {
                    println!(
                        "{:<40} {:<8} {:<10} {}",
                        p.path_with_namespace,
                        p.default_branch.as_deref().unwrap_or("(empty)"),
                        p.visibility.as_deref().unwrap_or(""),
                        p.last_activity_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(account_failure(e, json)),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_folder_add(
    instance: &str,
    project: &str,
    dir: &std::path::Path,
    branch: Option<&str>,
    existing: Option<ExistingFiles>,
    json: bool,
    dirs: &StateDirs,
    store: &ConfigStore,
) -> anyhow::Result<ExitCode> {
    let accounts = accounts_for(dirs, store)?;
    let account = match accounts.find(instance) {
        Ok(a) => a,
        Err(e) => return Ok(account_failure(e, json)),
    };
    trust_accounts_ca(dirs, store)?;
    let rt = runtime()?;
    let quiet = json;
    let last = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let result = rt.block_on(setup::add_folder(
        &accounts,
        store,
        &dirs.config,
        &account,
        project,
        dir,
        branch,
        existing,
        move |p| {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if !quiet && last.elapsed() > Duration::from_millis(250) {
                *last = std::time::Instant::now();
                if p.total_files > 0 {
                    eprintln!("Writing files: {}/{}", p.checked_out, p.total_files);
                } else {
                    eprintln!(
                        "Downloading: {}/{} objects, {:.1} MiB",
                        p.received_objects,
                        p.total_objects,
                        p.received_bytes as f64 / 1048576.0
                    );
                }
            }
        },
    ));
    match result {
        Ok(added) => {
            if json {
                println!("{}", serde_json::to_string(&added)?);
            } else {
                println!(
                    "Syncing {} with {} ({}).",
                    added.folder.path.display(),
                    added.folder.project,
                    added.web_url
                );
                match &added.set_up {
                    setup::SetUp::BackedUp { backup } => println!(
                        "The files that were in the folder were moved to {}. Nothing was deleted.",
                        backup.display()
                    ),
                    setup::SetUp::Uploading { files } => {
                        println!("The {files} items already in the folder will be uploaded by the first sync.")
                    }
                    setup::SetUp::Adopted => println!(
                        "The folder already was a copy of this project: Ferry uses it as it is."
                    ),
                    setup::SetUp::Cloned => {}
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!("{}", json!({"error": {"message": e.to_string()}}));
            }
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Lets git trust the private CAs of the configured accounts.
fn trust_accounts_ca(dirs: &StateDirs, store: &ConfigStore) -> anyhow::Result<()> {
    let config = store.load()?;
    let files: Vec<PathBuf> = config
        .instances
        .iter()
        .filter_map(|i| i.ca_file.clone())
        .collect();
    ferry::git::trust_ca_files(&files, &dirs.config)?;
    Ok(())
}

const STATUS_FILE: &str = "status.json";

/// The status a running `ferry sync` (or the app) wrote, if it is still running.
fn live_status(dirs: &StateDirs) -> Option<Overview> {
    let text = std::fs::read_to_string(dirs.config.join(STATUS_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = v["pid"].as_u64()? as i32;
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    if !alive {
        return None;
    }
    serde_json::from_value(v["overview"].clone()).ok()
}

/// Status without a running sync: what each folder's repository says.
fn offline_status(config: &ferry::config::Config) -> Overview {
    let mut overview = Engine::new(config).overview();
    for (f, folder) in overview.folders.iter_mut().zip(&config.folders) {
        let branch = folder.branch.clone().unwrap_or_else(|| "main".into());
        match ferry::git::Repo::open(&folder.path, &branch) {
            Ok(repo) => {
                f.pending = repo.pending() as u32;
                f.message = "Ferry isn't running: start it to sync".into();
            }
            Err(_) => {
                f.state = SyncState::Error;
                f.message = format!("The folder {} is missing", folder.path.display());
            }
        }
    }
    overview
}

fn print_overview_line(overview: &Overview, json: bool) {
    if json {
        let mut v = serde_json::to_value(overview).unwrap_or_default();
        v["overall"] = json!(overview.overall());
        println!("{v}");
    } else {
        for f in &overview.folders {
            println!("{:<10} {}  {}", f.state.as_str(), f.path, f.message);
        }
    }
}

fn run_sync(
    once: bool,
    json: bool,
    dirs: &StateDirs,
    store: &ConfigStore,
) -> anyhow::Result<ExitCode> {
    let config = store.load()?;
    trust_accounts_ca(dirs, store)?;
    let accounts = std::sync::Arc::new(Accounts::new(
        &dirs.config,
        ferry::secrets::store_for(&config, &dirs.config),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if once {
        return rt.block_on(sync_once(&config, accounts, json));
    }
    rt.block_on(async move {
        let engine = Engine::new(&config);
        engine.start(&config, accounts);
        let mut updates = engine.subscribe();
        let status_path = dirs.config.join(STATUS_FILE);
        let mut last_printed = String::new();
        loop {
            let overview = updates.borrow_and_update().clone();
            let record = json!({"pid": std::process::id(), "overview": overview});
            let _ = ferry::config::write_atomically(&status_path, record.to_string().as_bytes());
            let line = serde_json::to_string(
                &overview
                    .folders
                    .iter()
                    .map(|f| (&f.state, &f.message))
                    .collect::<Vec<_>>(),
            )?;
            if line != last_printed {
                print_overview_line(&overview, json);
                last_printed = line;
            }
            tokio::select! {
                changed = updates.changed() => if changed.is_err() { break },
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate() => break,
            }
        }
        engine.shutdown().await;
        let _ = std::fs::remove_file(&status_path);
        Ok(ExitCode::SUCCESS)
    })
}

async fn terminate() {
    #[cfg(unix)]
    {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

async fn sync_once(
    config: &ferry::config::Config,
    accounts: std::sync::Arc<Accounts>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut all_synced = true;
    for folder in config.folders.iter().filter(|f| !f.paused) {
        let Some(instance) = config.instances.iter().find(|i| i.id == folder.instance) else {
            eprintln!("{}: its account was removed", folder.path.display());
            all_synced = false;
            continue;
        };
        let settings = worker::FolderSettings {
            folder: folder.clone(),
            instance: instance.clone(),
            preferences: config.preferences.clone(),
            idle_poll: Duration::from_secs(config.preferences.poll_interval_secs),
        };
        let mut result;
        let mut tries = 0;
        loop {
            result = worker::run_cycle(&settings, &accounts).await;
            // Files still being written: wait for them (a while), then sync again.
            match &result {
                Ok(r) if !r.waiting.is_empty() && tries < 60 => {
                    tries += 1;
                    let wait = r.retry_in_ms.unwrap_or(200).min(2_000);
                    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
                }
                _ => break,
            }
        }
        let (state, message) = cycle::describe(&result);
        all_synced &= state == SyncState::Synced;
        if json {
            println!(
                "{}",
                json!({"folder": folder.id, "path": folder.path, "state": state, "message": message, "report": result.as_ref().ok()})
            );
        } else {
            println!(
                "{:<10} {}  {message}",
                state.as_str(),
                folder.path.display()
            );
        }
    }
    Ok(if all_synced {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dirs = StateDirs::resolve(cli.config_dir.as_deref())?;
    let store = ConfigStore::new(&dirs.config);
    match cli.command {
        Command::Instance(cmd) => return run_instance(cmd, &dirs, &store),
        Command::Sync { once, json } => return run_sync(once, json, &dirs, &store),
        Command::Folder(FolderCommand::Add {
            instance,
            project,
            dir,
            branch,
            upload_existing,
            backup_existing,
            json,
        }) => {
            let existing = if upload_existing {
                Some(ExistingFiles::Upload)
            } else if backup_existing {
                Some(ExistingFiles::Backup)
            } else {
                None
            };
            return run_folder_add(
                &instance,
                &project,
                &dir,
                branch.as_deref(),
                existing,
                json,
                &dirs,
                &store,
            );
        }
        Command::Folder(FolderCommand::AllowDeletion { target }) => {
            let config = store.load()?;
            let wanted = std::fs::canonicalize(&target).unwrap_or_else(|_| PathBuf::from(&target));
            let Some(folder) = config
                .folders
                .iter()
                .find(|f| f.id == target || f.path == wanted)
            else {
                eprintln!("No synced folder is called {target}. See: ferry folder list");
                return Ok(ExitCode::FAILURE);
            };
            let branch = folder.branch.clone().unwrap_or_else(|| "main".into());
            return match cycle::allow_pending_deletion(&folder.path, &branch) {
                Ok(true) => {
                    println!("Approved: the next sync of {target} goes ahead with the deletion.");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(false) => {
                    eprintln!("{target} isn't waiting for a deletion to be approved.");
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
        Command::Folder(FolderCommand::Remove { target }) => {
            let removed = store.update(|c| {
                let before = c.folders.len();
                let wanted =
                    std::fs::canonicalize(&target).unwrap_or_else(|_| PathBuf::from(&target));
                c.folders.retain(|f| f.id != target && f.path != wanted);
                before - c.folders.len()
            })?;
            if removed == 0 {
                eprintln!("No synced folder is called {target}. See: ferry folder list");
                return Ok(ExitCode::FAILURE);
            }
            println!("Stopped syncing {target}. Its files stay where they are.");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Repos {
            instance,
            search,
            create,
            namespace,
            json,
        } => return run_repos(instance, search, create, namespace, json, &dirs, &store),
        Command::Status { json } => {
            let config = store.load()?;
            let overview = live_status(&dirs).unwrap_or_else(|| offline_status(&config));
            if json {
                let mut value = serde_json::to_value(&overview)?;
                value["overall"] = json!(overview.overall());
                println!("{value}");
            } else if overview.folders.is_empty() {
                println!("No folders are synced yet.");
            } else {
                for f in &overview.folders {
                    print_folder_status(f);
                }
            }
        }
        Command::Folder(FolderCommand::List { json }) => {
            let config = store.load()?;
            if json {
                println!("{}", serde_json::to_string(&config.folders)?);
            } else if config.folders.is_empty() {
                println!("No folders are synced yet.");
            } else {
                for f in &config.folders {
                    println!("{}  {} ({})", f.path.display(), f.project, f.instance);
                }
            }
        }
        Command::Folder(FolderCommand::Check { dir, json }) => {
            let config = store.load()?;
            let ctx = ChoiceContext::for_user(&config, &dirs.config);
            let result = check_folder(&dir, &ctx);
            if json {
                let outcome = FolderCheck::from(result.clone());
                println!("{}", serde_json::to_string(&outcome)?);
            }
            return Ok(match result {
                Ok(choice) => {
                    if !json {
                        println!("{} can be synced.", choice.path.display());
                        if choice.existing_entries > 0 {
                            println!(
                                "It is not empty ({} items): its files are kept safe before anything is synced into it.",
                                choice.existing_entries
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    if !json {
                        eprintln!("{why}");
                    }
                    ExitCode::FAILURE
                }
            });
        }
        Command::Settings(SettingsCommand::Path) => println!("{}", store.path().display()),
        Command::Settings(SettingsCommand::Reset) => {
            match store.reset().context("resetting the settings")? {
                Some(copy) => println!(
                    "Fresh settings saved. The old file was kept at {}.",
                    copy.display()
                ),
                None => println!("Fresh settings saved."),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one folder's status for a person: state, message, when it last
/// synced, what is waiting and the last few files in and out.
fn print_folder_status(f: &ferry::sync::status::FolderStatus) {
    println!("{:<10} {}  {}", f.state.as_str(), f.path, f.message);
    if let Some(at) = f.last_synced {
        println!(
            "           last synced {}",
            at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S")
        );
    }
    if f.pending > 0 {
        println!("           {} change(s) waiting to be sent", f.pending);
    }
    for a in f.recent.iter().take(5) {
        let arrow = if a.incoming { "received" } else { "sent    " };
        let link = a
            .url
            .as_deref()
            .map(|u| format!("  {u}"))
            .unwrap_or_default();
        println!("           {arrow} {}{link}", a.path);
    }
}
