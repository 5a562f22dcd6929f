//! `ferry repos …`: the projects an account can push to, or a new one.

use super::instance::failure;
use super::*;

pub(crate) fn run_repos(
    app: &Ferry,
    account: &str,
    search: Option<&str>,
    create: Option<&str>,
    namespace: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    if let Some(name) = create {
        return match rt.block_on(app.create_project(account, name, namespace)) {
            Ok(p) => {
                if json {
                    println!("{}", serde_json::to_string(&p)?);
                } else {
                    println!("Created {} ({})", p.path_with_namespace, p.web_url);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(failure(e, json)),
        };
    }
    let projects = match rt.block_on(app.projects(account, search, Pages::All)) {
        Ok(page) => page.projects,
        Err(e) => return Ok(failure(e, json)),
    };
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
