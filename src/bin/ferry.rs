//! `ferry`: the headless command line over the same engine as the desktop app.
//!
//! Every listing takes `--json`. `--config-dir` (or `FERRY_CONFIG_DIR`)
//! isolates all of Ferry's state, for tests and scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use ferry::config::ConfigStore;
use ferry::paths::StateDirs;
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dirs = StateDirs::resolve(cli.config_dir.as_deref())?;
    let store = ConfigStore::new(&dirs.config);
    match cli.command {
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
