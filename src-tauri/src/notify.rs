//! Desktop notifications for what needs the user — a conflict, "sign in
//! again", a protected branch, a folder that vanished — never for routine
//! syncs. Each is sent once, when a folder enters that state.

use ferry::sync::{Overview, Reason, SyncState};
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

use crate::state::Shell;

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The headline.
    pub title: String,
    /// One or two sentences.
    pub body: String,
}

fn o_conflicts(old: Option<&ferry::sync::FolderStatus>) -> &[String] {
    old.map(|o| o.conflicts.as_slice()).unwrap_or(&[])
}

/// What changed between two overviews that the user must hear about.
pub fn alerts(before: &Overview, after: &Overview) -> Vec<Alert> {
    let mut out = Vec::new();
    for f in &after.folders {
        // A folder that just appeared starts out quiet.
        let Some(old) = before.folders.iter().find(|o| o.id == f.id) else {
            continue;
        };
        let old = Some(old);
        let was = |s: SyncState| {
            old.is_some_and(|o| o.state == s && o.message == f.message && o.reason == f.reason)
        };
        let alert = match f.state {
            // A new conflict copy, not a reworded message about an old one.
            SyncState::Conflict
                if f.conflicts.iter().any(|c| !o_conflicts(old).contains(c))
                    || (f.conflicts.is_empty() && !was(SyncState::Conflict)) =>
            {
                Some(format!("Two versions of a file were kept in {}", f.name))
            }
            SyncState::Error if !was(SyncState::Error) => Some(format!("{} needs you", f.name)),
            // Paused by Ferry itself (a vanished folder, a mass deletion), not by the user.
            SyncState::Paused
                if !after.paused
                    && f.reason != Some(Reason::UserPaused)
                    && !was(SyncState::Paused) =>
            {
                Some(format!("Syncing {} is paused", f.name))
            }
            _ => None,
        };
        if let Some(title) = alert {
            out.push(Alert {
                title: plain(&title),
                body: plain(&f.message),
            });
        }
    }
    out
}

/// `text` with the characters notification daemons read as markup
/// escaped: file names come from collaborators, and GNOME Shell or dunst
/// would otherwise render `<a href>` or `<b>` in them.
fn plain(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Shows notifications as the engine's status changes, if the user wants them.
pub fn install(app: &AppHandle, shell: &Shell) {
    let mut updates = shell.app().subscribe();
    let app = app.clone();
    let shell = shell.clone();
    tauri::async_runtime::spawn(async move {
        let mut before = updates.borrow_and_update().clone();
        while updates.changed().await.is_ok() {
            let after = updates.borrow_and_update().clone();
            let due = alerts(&before, &after);
            // The settings file is read only when there is something to say.
            let wanted = !due.is_empty()
                && shell
                    .settings()
                    .map(|c| c.preferences.notifications)
                    .unwrap_or(true);
            for alert in due.into_iter().filter(|_| wanted) {
                tracing::info!(title = %alert.title, "notification");
                if let Err(e) = app
                    .notification()
                    .builder()
                    .title(&alert.title)
                    .body(&alert.body)
                    .show()
                {
                    tracing::warn!("could not show a notification: {e}");
                }
            }
            before = after;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry::sync::FolderStatus;

    fn overview(state: SyncState, message: &str) -> Overview {
        Overview {
            folders: vec![FolderStatus {
                id: "site".into(),
                name: "Website".into(),
                path: "/home/e/Website".into(),
                state,
                message: message.into(),
                reason: None,
                last_synced: None,
                pending: 0,
                recent: vec![],
                conflicts: vec![],
                notes: vec![],
                pending_deletion: None,
            }],
            paused: false,
        }
    }

    #[test]
    fn sec12_collaborator_names_are_not_markup() {
        let a = overview(SyncState::Synced, "Up to date");
        let mut b = overview(SyncState::Conflict, "Both kept");
        b.folders[0].conflicts = vec!["<a href=\"https://x\">y</a>.md".into()];
        b.folders[0].message = "Both versions kept: <a href=\"https://x\">y</a>.md".into();
        let told = alerts(&a, &b);
        assert_eq!(told.len(), 1);
        assert!(
            !told[0].body.contains('<') && told[0].body.contains("&lt;a href"),
            "the name is shown as text, never as a link: {}",
            told[0].body
        );
    }

    #[test]
    fn routine_syncs_say_nothing() {
        let a = overview(SyncState::Synced, "Up to date");
        let b = overview(SyncState::Syncing, "Syncing…");
        assert!(alerts(&a, &b).is_empty());
        assert!(alerts(&b, &a).is_empty());
        let offline = overview(SyncState::Offline, "GitLab can't be reached");
        assert!(alerts(&a, &offline).is_empty(), "offline heals itself");
    }

    #[test]
    fn a_conflict_or_an_error_is_told_once() {
        let ok = overview(SyncState::Synced, "Up to date");
        let conflict = overview(
            SyncState::Conflict,
            "Both versions were kept (about (conflict …).md)",
        );
        let told = alerts(&ok, &conflict);
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].title, "Two versions of a file were kept in Website");
        assert!(alerts(&conflict, &conflict).is_empty(), "not again");
        let mut listed = overview(SyncState::Conflict, "about (conflict …).md");
        listed.folders[0].conflicts = vec!["about (conflict …).md".into()];
        assert_eq!(alerts(&ok, &listed).len(), 1);
        let mut reworded = listed.clone();
        reworded.folders[0].message = "Two versions were kept: about (conflict …).md".into();
        assert!(
            alerts(&listed, &reworded).is_empty(),
            "same copy, new words"
        );
        let mut another = reworded.clone();
        another.folders[0]
            .conflicts
            .push("index (conflict …).md".into());
        assert_eq!(
            alerts(&reworded, &another).len(),
            1,
            "a second copy is news"
        );
        let error = overview(SyncState::Error, "Sign in again: your token was revoked.");
        let told = alerts(&ok, &error);
        assert_eq!(told[0].title, "Website needs you");
        assert_eq!(told[0].body, "Sign in again: your token was revoked.");
    }

    #[test]
    fn a_new_folder_is_not_news() {
        let none = Overview {
            folders: vec![],
            paused: false,
        };
        let starting = overview(SyncState::Syncing, "Starting…");
        assert!(alerts(&none, &starting).is_empty());
    }

    #[test]
    fn a_vanished_folder_is_told_but_a_user_pause_is_not() {
        let ok = overview(SyncState::Synced, "Up to date");
        let mut user = overview(SyncState::Paused, "Paused");
        user.folders[0].reason = Some(Reason::UserPaused);
        assert!(alerts(&ok, &user).is_empty());
        // The words don't decide: a user pause worded otherwise stays quiet.
        user.folders[0].message = "Paused until 14:00".into();
        assert!(alerts(&ok, &user).is_empty());
        let mut all = overview(SyncState::Paused, "Paused");
        all.paused = true;
        assert!(alerts(&ok, &all).is_empty());
        let mut vanished = overview(SyncState::Paused, "The folder /home/e/Website is missing.");
        vanished.folders[0].reason = Some(Reason::FolderMissing);
        assert_eq!(alerts(&ok, &vanished)[0].title, "Syncing Website is paused");
    }
}
