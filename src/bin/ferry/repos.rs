//! `ferry repos …`: the projects an account can push to, or a new one.

use super::instance::{account_failure, accounts_for};
use super::*;

pub(crate) fn run_repos(
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
