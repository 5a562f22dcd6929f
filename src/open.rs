//! The one place Ferry opens something for the user: a web page in the
//! browser, a synced folder or one of its files with the desktop's default
//! application. Paths inside a folder come from collaborators, so a file
//! is opened only when every step to it is the folder's own (a symbolic
//! link may point at a program anywhere on the computer).

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// Why something could not be opened, for a content editor.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Only `http` and `https` addresses are opened in the browser.
    #[error("Only web links can be opened.")]
    NotALink,
    /// The path leaves the folder (absolute, or with `..`).
    #[error("Only files inside the folder can be opened.")]
    Outside,
    /// A step to the file is a symbolic link.
    #[error("{0} is a link to something outside the folder, so Ferry doesn't open it.")]
    Link(String),
    /// Nothing is there.
    #[error("{} is not there any more.", .0.display())]
    Missing(PathBuf),
    /// No program could open it.
    #[error("Ferry couldn't open {what} ({why}).")]
    NoOpener {
        /// What was to be opened.
        what: String,
        /// The system's reason.
        why: String,
    },
}

impl OpenError {
    /// A stable code for front ends.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotALink => "not_a_link",
            Self::Outside => "outside",
            Self::Link(_) => "link",
            Self::Missing(_) => "missing",
            Self::NoOpener { .. } => "no_opener",
        }
    }
}

/// Opens `url` in the user's browser: `$BROWSER` (a `:`-separated list of
/// commands; `%s` is replaced by the URL, else it is appended), else the
/// desktop's opener. Does not wait for the browser. No shell ever sees the
/// URL: each command is split into arguments as a shell would split it
/// (so `firefox '%s'` works), and the URL is one argument (SEC-10).
pub fn web_page(url: &str) -> Result<(), OpenError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(OpenError::NotALink);
    }
    let candidates: Vec<String> = match std::env::var("BROWSER") {
        Ok(list) if !list.trim().is_empty() => list.split(':').map(str::to_string).collect(),
        _ => vec![opener().to_string()],
    };
    let mut last = String::from("no browser is set up");
    for command in candidates {
        let command = command.trim();
        if command.is_empty() {
            continue;
        }
        let Ok(mut argv) = shell_words::split(command) else {
            last = format!("the $BROWSER entry “{command}” can't be read");
            continue;
        };
        if argv.iter().any(|a| a.contains("%s")) {
            for a in &mut argv {
                *a = a.replace("%s", url);
            }
        } else {
            argv.push(url.to_string());
        }
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        match launch(Command::new(program).args(args)) {
            Ok(()) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    tracing::warn!("no browser could be started");
    Err(OpenError::NoOpener {
        what: "the web page".into(),
        why: last,
    })
}

/// Opens a folder in the file manager.
pub fn folder(path: &Path) -> Result<(), OpenError> {
    if !path.is_dir() {
        return Err(OpenError::Missing(path.to_path_buf()));
    }
    with_default_app(path)
}

/// Opens `relative` (a path inside `root`, `/`-separated) with the
/// desktop's default application, refusing anything that leaves `root`
/// or passes through a symbolic link.
pub fn file_in(root: &Path, relative: &str) -> Result<(), OpenError> {
    let rel = Path::new(relative);
    if relative.is_empty()
        || rel.is_absolute()
        || rel.components().any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(OpenError::Outside);
    }
    let mut at = root.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(OpenError::Link(relative.to_string()))
            }
            Ok(_) => {}
            Err(_) => return Err(OpenError::Missing(root.join(rel))),
        }
    }
    with_default_app(&at)
}

fn with_default_app(path: &Path) -> Result<(), OpenError> {
    launch(Command::new(opener()).arg(path)).map_err(|e| OpenError::NoOpener {
        what: path.display().to_string(),
        why: e.to_string(),
    })
}

/// Starts `command` detached from Ferry's terminal and reaps it.
fn launch(command: &mut Command) -> std::io::Result<()> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

fn opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_open_in_the_browser() {
        for url in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "/usr/bin/x",
            "",
        ] {
            assert!(matches!(web_page(url), Err(OpenError::NotALink)), "{url}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_is_opened_only_through_the_folders_own_steps() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("docs")).unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.path().join("bin")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("docs/p")).unwrap();
        for path in ["../x", "/etc/passwd", "docs/../../x", ""] {
            assert!(
                matches!(file_in(root.path(), path), Err(OpenError::Outside)),
                "{path}"
            );
        }
        assert!(matches!(
            file_in(root.path(), "bin/sh"),
            Err(OpenError::Link(_))
        ));
        assert!(matches!(
            file_in(root.path(), "docs/p"),
            Err(OpenError::Link(_))
        ));
        assert!(matches!(
            file_in(root.path(), "docs/none.md"),
            Err(OpenError::Missing(_))
        ));
    }
}
