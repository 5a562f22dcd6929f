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
use ferry::sync::folder_choice::{check_folder, ChoiceContext, FolderCheck};
use ferry::sync::Engine;

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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dirs = StateDirs::resolve(cli.config_dir.as_deref())?;
    let store = ConfigStore::new(&dirs.config);
    match cli.command {
        Command::Instance(cmd) => return run_instance(cmd, &dirs, &store),
        Command::Repos {
            instance,
            search,
            create,
            namespace,
            json,
        } => return run_repos(instance, search, create, namespace, json, &dirs, &store),
        Command::Status { json } => {
            let config = store.load()?;
            let overview = Engine::new(&config).overview();
            if json {
                let mut value = serde_json::to_value(&overview)?;
                value["overall"] = json!(overview.overall());
                println!("{value}");
            } else if overview.folders.is_empty() {
                println!("No folders are synced yet.");
            } else {
                for f in &overview.folders {
                    println!("{:<10} {}  {}", f.state.as_str(), f.path, f.message);
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
