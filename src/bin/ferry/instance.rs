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

/// Prints an account error (and its JSON form) and returns exit code 1.
pub(crate) fn account_failure(e: AccountError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"error": {"code": e.code(), "message": e.to_string()}})
        );
    }
    eprintln!("{e}");
    ExitCode::FAILURE
}

pub(crate) fn accounts_for(dirs: &StateDirs, store: &ConfigStore) -> anyhow::Result<Accounts> {
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

pub(crate) fn run_instance(
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
