//! `ferry sync` and `ferry status`: running the folders' loops (or one
//! cycle each), and showing the live or last known status.

use super::*;

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

/// `ferry sync [--once] [--json]`.
pub(crate) fn run_sync(once: bool, json: bool, dirs: StateDirs) -> anyhow::Result<ExitCode> {
    let app = Ferry::open(dirs);
    app.settings()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if once {
        return rt.block_on(async move {
            let all_synced = app
                .sync_once(|folder, result| {
                    let (state, message) = cycle::describe(result);
                    if json {
                        println!(
                            "{}",
                            json!({"folder": folder.id, "path": folder.path, "state": state, "message": message, "report": result.as_ref().ok()})
                        );
                    } else {
                        println!("{:<10} {}  {message}", state.as_str(), folder.path.display());
                    }
                })
                .await;
            Ok(if all_synced {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        });
    }
    rt.block_on(async move {
        app.start();
        let mut updates = app.subscribe();
        let mut last_printed = String::new();
        loop {
            let overview = updates.borrow_and_update().clone();
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
        app.stop().await;
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

/// `ferry status [--json]`: the live status of whichever process syncs,
/// or each folder's last known state.
pub(crate) fn status(app: &Ferry, json: bool) -> anyhow::Result<ExitCode> {
    app.settings()?;
    let status = app.status();
    let overview = &status.overview;
    if json {
        let mut value = serde_json::to_value(overview)?;
        value["overall"] = json!(overview.overall());
        value["running"] = json!(status.running);
        println!("{value}");
    } else if overview.folders.is_empty() {
        println!("No folders are synced yet.");
    } else {
        match status.running {
            Some(pid) => println!("Syncing (process {pid})."),
            None => {
                println!("Nothing is syncing right now: start Ferry (or `ferry sync`) to sync.")
            }
        }
        for f in &overview.folders {
            print_folder_status(f);
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

fn done_or_failed(result: Result<(), ferry::app::AppError>, done: &str) -> ExitCode {
    match result {
        Ok(()) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `ferry pause [--for DURATION]`: in the Ferry that syncs (the app too).
pub(crate) fn pause(app: &Ferry, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    let done = match duration {
        Some(d) => format!(
            "Syncing is paused for {} minutes (or until: ferry resume).",
            d.as_secs().div_ceil(60)
        ),
        None => "Syncing is paused until: ferry resume".to_string(),
    };
    Ok(done_or_failed(app.pause_for(duration), &done))
}

/// `ferry resume`.
pub(crate) fn resume(app: &Ferry) -> anyhow::Result<ExitCode> {
    Ok(done_or_failed(app.resume(), "Syncing resumed."))
}

/// `ferry sync-now [FOLDER]`.
pub(crate) fn sync_now(app: &Ferry, folder: Option<&str>) -> anyhow::Result<ExitCode> {
    Ok(match folder {
        Some(f) => done_or_failed(app.folder_sync_now(f), &format!("Syncing {f} now.")),
        None => done_or_failed(app.sync_now(), "Syncing every folder now."),
    })
}
