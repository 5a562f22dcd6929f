//! `ferry folder …`: adding, checking and removing synced folders.

use super::instance::failure;
use super::*;

/// `ferry folder add`: sets up a folder for a project and saves it; a
/// running Ferry (the desktop app too) starts syncing it within a second.
pub(crate) fn run_folder_add(
    app: &Ferry,
    new: NewFolder<'_>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let quiet = json;
    let last = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let result = rt.block_on(app.add_folder(new, move |p| {
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
    }));
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
        Err(e) => Ok(failure(e, json)),
    }
}

/// `ferry folder allow-deletion DIR`: confirms the large deletion a folder
/// paused on (exactly that set of files).
pub(crate) fn allow_deletion(app: &Ferry, target: &str) -> anyhow::Result<ExitCode> {
    Ok(match app.folder_allow_deletion(target) {
        Ok(true) => {
            println!("Approved: the next sync of {target} goes ahead with the deletion.");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("{target} isn't waiting for a deletion to be approved.");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    })
}

/// `ferry folder remove`: stops syncing a folder; its files stay.
pub(crate) fn remove(app: &Ferry, target: &str) -> anyhow::Result<ExitCode> {
    Ok(match app.remove_folder(target) {
        Ok(f) => {
            println!(
                "Stopped syncing {}. Its files stay where they are.",
                f.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    })
}

/// `ferry folder pause|resume`: remembered in the settings, so a running
/// Ferry (the desktop app too) picks it up when it next reads them.
pub(crate) fn set_paused(app: &Ferry, target: &str, paused: bool) -> anyhow::Result<ExitCode> {
    Ok(match app.folder_set_paused(target, paused) {
        Ok(()) if paused => {
            println!("Paused {target}: nothing is synced until: ferry folder resume {target}");
            ExitCode::SUCCESS
        }
        Ok(()) => {
            println!("Resumed {target}.");
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    })
}

/// `ferry folder open`: the folder, one of its files, or its GitLab page.
pub(crate) fn open(
    app: &Ferry,
    target: &str,
    file: Option<&str>,
    gitlab: bool,
) -> anyhow::Result<ExitCode> {
    let opened = match (file, gitlab) {
        (_, true) => app.open_in_gitlab(target),
        (Some(file), false) => app.open_file(target, file),
        (None, false) => app.open_folder(target),
    };
    Ok(match opened {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    })
}

fn failed(e: ferry::app::AppError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::FAILURE
}
