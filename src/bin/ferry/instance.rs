//! `ferry instance …`: connecting to GitLab servers and managing accounts.

use super::*;

pub(crate) fn read_stdin_line(what: &str) -> anyhow::Result<Sensitive<String>> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = line.trim().to_string();
    anyhow::ensure!(!line.is_empty(), "No {what} was given on standard input.");
    Ok(Sensitive::new(line))
}

/// Prints an application error (and its JSON form) and returns exit code 1.
pub(crate) fn failure(e: AppError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"error": {"code": e.code(), "message": e.to_string()}})
        );
    }
    eprintln!("{e}");
    ExitCode::FAILURE
}

/// The OAuth application and browser options from the command line (the
/// secret, if any, read from standard input).
fn oauth_sign_in(
    client_id: Option<String>,
    client_secret_stdin: bool,
    port: Option<u16>,
    timeout: u64,
    no_browser: bool,
) -> anyhow::Result<(App, SignInOptions)> {
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
    Ok((app, options))
}

/// Prints what a connected account is, and its warnings.
fn print_added(added: &Added, json: bool, again: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(added)?);
    } else if again {
        println!(
            "Signed in again to {} as {}. Folders using “{}” continue syncing.",
            added.instance.url, added.user.username, added.instance.name
        );
    } else {
        println!(
            "Connected to {} as {} ({}). Saved as “{}”.",
            added.instance.url, added.user.name, added.user.username, added.instance.name
        );
    }
    for w in &added.warnings {
        eprintln!("Note: {w}");
    }
    Ok(())
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

pub(crate) fn run_instance(cmd: InstanceCommand, app: &Ferry) -> anyhow::Result<ExitCode> {
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
            let before = app.settings()?.preferences;
            let switched = store_token_in_file && !before.sign_ins_in_plain_file;
            if switched {
                // Sign-ins live in one place: the other accounts' would be
                // out of reach in the keyring.
                if !app.settings()?.instances.is_empty() {
                    eprintln!(
                        "Other accounts keep their sign-ins in the keyring: Ferry can't move them to a \
                         plain file. Remove them first (ferry instance remove NAME), or use the keyring."
                    );
                    return Ok(ExitCode::FAILURE);
                }
                eprintln!("Warning: {PLAIN_FILE_WARNING}");
                let mut preferences = before.clone();
                preferences.sign_ins_in_plain_file = true;
                app.set_preferences(preferences)?;
            }
            let rt = runtime()?;
            let result = if token_stdin {
                let token = read_stdin_line("access token")?;
                rt.block_on(app.connect_with_token(&url, token, ca_file, name))
            } else {
                let (oauth_app, options) =
                    oauth_sign_in(client_id, client_secret_stdin, port, timeout, no_browser)?;
                rt.block_on(app.connect_with_oauth(&url, oauth_app, ca_file, name, options, |u| {
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
                    print_added(&added, json, false)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    if switched {
                        // Nothing was added: where sign-ins live stays as it was.
                        app.set_preferences(before)?;
                    }
                    Ok(failure(e, json))
                }
            }
        }
        InstanceCommand::Reconnect {
            name,
            token_stdin,
            oauth,
            client_id,
            client_secret_stdin,
            timeout,
            no_browser,
            json,
        } => {
            anyhow::ensure!(
                token_stdin || oauth,
                "Choose how to sign in again: --token-stdin (a new personal access token) or --oauth --client-id ID."
            );
            let rt = runtime()?;
            let result = if oauth {
                let (oauth_app, options) =
                    oauth_sign_in(client_id, client_secret_stdin, None, timeout, no_browser)?;
                rt.block_on(app.reconnect_with_oauth(&name, oauth_app, options, |u| {
                    eprintln!(
                        "Sign in to GitLab in your browser. If it doesn't open, open this address:\n  {u}"
                    );
                }))
            } else {
                let token = read_stdin_line("access token")?;
                rt.block_on(app.reconnect_with_token(&name, token))
            };
            match result {
                Ok(again) => {
                    print_added(&again, json, true)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(failure(e, json)),
            }
        }
        InstanceCommand::Check {
            target,
            ca_file,
            token_stdin,
            project,
            json,
        } => {
            let rt = runtime()?;
            let report = match rt.block_on(app.check_account(&target, project.clone())) {
                Ok(report) => report,
                // Not an account: an address.
                Err(AppError::Account(AccountError::UnknownAccount(_))) => {
                    let token = if token_stdin {
                        Some(read_stdin_line("access token")?)
                    } else {
                        None
                    };
                    rt.block_on(app.check_server(&target, ca_file.as_deref(), token, project))
                }
                Err(e) => return Ok(failure(e, json)),
            };
            print_report(&report, json)?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        InstanceCommand::Links { url, ca_file, json } => {
            let links = match runtime()?.block_on(app.sign_in_links(&url, ca_file.as_deref())) {
                Ok(links) => links,
                Err(e) => return Ok(failure(e, json)),
            };
            if json {
                println!("{}", serde_json::to_string(&links)?);
            } else {
                println!("GitLab found at {}\n", links.base_url);
                println!("Personal access token — create one (name and scopes are filled in):");
                println!("  {}", links.token);
                println!("  (GitLab before 16: {})\n", links.token_before_16);
                println!("OAuth application — register Ferry at:");
                println!("  {}", links.applications);
                println!("  Redirect URI: {}", links.redirect_uri);
                println!("  Scopes:       {}", links.oauth_scopes.join(" "));
                println!(
                    "  Then: ferry instance add {} --oauth --client-id <Application ID> [--client-secret-stdin]",
                    links.base_url
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        InstanceCommand::List { json } => {
            let accounts = match app.account_views() {
                Ok(a) => a,
                Err(e) => return Ok(failure(e, json)),
            };
            if json {
                println!("{}", serde_json::to_string(&accounts)?);
            } else if accounts.is_empty() {
                println!("No accounts yet. Add one with: ferry instance add URL --token-stdin");
            } else {
                for a in &accounts {
                    let how = match a.auth {
                        ferry::config::AuthKind::Token => "access token",
                        ferry::config::AuthKind::Oauth => "OAuth",
                    };
                    let folders = match a.folders {
                        1 => "1 folder".to_string(),
                        n => format!("{n} folders"),
                    };
                    println!(
                        "{}  {}  {} ({how}, {folders})",
                        a.name,
                        a.url,
                        a.username.as_deref().unwrap_or("?")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        InstanceCommand::Remove { target } => match app.remove_account(&target) {
            Ok(i) => {
                println!("Removed the account “{}” and forgot its sign-in.", i.name);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(failure(e, false)),
        },
    }
}
