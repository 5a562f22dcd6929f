//! `ferry`: the headless command line over the same application as the
//! desktop app ([`ferry::app::App`]): each command parses its arguments,
//! calls the application, and prints.
//!
//! Every listing takes `--json`. `--config-dir` (or `FERRY_CONFIG_DIR`)
//! isolates all of Ferry's state, for tests and scripts.

mod folder;
mod instance;
mod repos;
mod settings;
mod sync;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use ferry::app::{App as Ferry, AppError, NewFolder, Pages};
use ferry::gitlab::account::{AccountError, Added};
use ferry::gitlab::address;
use ferry::gitlab::diagnose::{self, Outcome};
use ferry::gitlab::oauth::{App, SignInOptions};
use ferry::paths::StateDirs;
use ferry::secrets::{Sensitive, PLAIN_FILE_WARNING};
use ferry::sync::cycle;
use ferry::sync::folder_choice::FolderCheck;
use ferry::sync::setup::{self, ExistingFiles};
use ferry::sync::Overview;

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
    /// Pause all syncing (in the Ferry that syncs: the app, or `ferry sync`).
    Pause {
        /// For this long (`30m`, `1h`, `2h`; at most a day); else until `ferry resume`.
        #[arg(long = "for", value_name = "DURATION", value_parser = settings::parse_duration)]
        duration: Option<Duration>,
    },
    /// Resume syncing after a pause.
    Resume,
    /// Sync now: every folder, or the one named.
    SyncNow {
        /// The folder (its path or id).
        folder: Option<String>,
    },
    /// Ferry's settings and preferences.
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
        #[arg(long, conflicts_with = "oauth")]
        token_stdin: bool,
        /// Sign in again in the browser through the account's OAuth application.
        #[arg(long, requires = "client_id")]
        oauth: bool,
        /// The OAuth application's ID.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Read the OAuth application's secret from standard input (confidential applications).
        #[arg(long, requires = "oauth")]
        client_secret_stdin: bool,
        /// Give up waiting for the browser sign-in after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
        /// Don't open a browser; just print the address to open.
        #[arg(long)]
        no_browser: bool,
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
    /// Pause syncing a folder until it is resumed.
    Pause {
        /// The folder's path or id.
        target: String,
    },
    /// Resume syncing a paused folder.
    Resume {
        /// The folder's path or id.
        target: String,
    },
    /// Open a folder in the file manager, one of its files, or its project on GitLab.
    Open {
        /// The folder's path or id.
        target: String,
        /// A file inside the folder (a path relative to it).
        file: Option<String>,
        /// Open the project's page on GitLab instead.
        #[arg(long, conflicts_with = "file")]
        gitlab: bool,
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
    /// Show the preferences.
    Show {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change a preference (see `ferry settings show` for the names).
    Set {
        /// The preference, e.g. poll_interval_secs.
        name: String,
        /// Its new value, e.g. 300.
        value: String,
    },
    /// Open the folder of log files (and print where it is).
    Logs,
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dirs = StateDirs::resolve(cli.config_dir.as_deref())?;
    if let Command::Sync { once, json } = cli.command {
        return sync::run_sync(once, json, dirs);
    }
    let app = Ferry::open(dirs);
    match cli.command {
        Command::Sync { .. } => unreachable!("handled above"),
        Command::Instance(cmd) => return instance::run_instance(cmd, &app),
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
            let new = NewFolder {
                account: &instance,
                project: &project,
                dir: &dir,
                branch: branch.as_deref(),
                existing,
            };
            return folder::run_folder_add(&app, new, json);
        }
        Command::Folder(FolderCommand::AllowDeletion { target }) => {
            return folder::allow_deletion(&app, &target)
        }
        Command::Folder(FolderCommand::Remove { target }) => return folder::remove(&app, &target),
        Command::Folder(FolderCommand::Pause { target }) => {
            return folder::set_paused(&app, &target, true)
        }
        Command::Folder(FolderCommand::Resume { target }) => {
            return folder::set_paused(&app, &target, false)
        }
        Command::Folder(FolderCommand::Open {
            target,
            file,
            gitlab,
        }) => return folder::open(&app, &target, file.as_deref(), gitlab),
        Command::Repos {
            instance,
            search,
            create,
            namespace,
            json,
        } => {
            return repos::run_repos(
                &app,
                &instance,
                search.as_deref(),
                create.as_deref(),
                namespace.as_deref(),
                json,
            )
        }
        Command::Status { json } => return sync::status(&app, json),
        Command::Folder(FolderCommand::List { json }) => {
            let config = app.settings()?;
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
            let result = app.check_folder(&dir);
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
        Command::Pause { duration } => return sync::pause(&app, duration),
        Command::Resume => return sync::resume(&app),
        Command::SyncNow { folder } => return sync::sync_now(&app, folder.as_deref()),
        Command::Settings(SettingsCommand::Show { json }) => return settings::show(&app, json),
        Command::Settings(SettingsCommand::Set { name, value }) => {
            return settings::set(&app, &name, &value)
        }
        Command::Settings(SettingsCommand::Logs) => return settings::logs(&app),
        Command::Settings(SettingsCommand::Path) => println!("{}", app.store().path().display()),
        Command::Settings(SettingsCommand::Reset) => {
            match app.store().reset().context("resetting the settings")? {
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
