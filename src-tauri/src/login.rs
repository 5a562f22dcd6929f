//! The login item, kept as [`ferry::app::login_item`] decides: a build run
//! from a checkout never registers one, an installed Ferry only when the
//! user chose it.

use std::path::{Path, PathBuf};

use ferry::app::login_item::{self, Builds, Change};
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt;

/// The program a login item should start: the AppImage if Ferry runs from
/// one, else this executable.
fn program(app: &AppHandle) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    if let Some(appimage) = app.env().appimage {
        return Some(appimage.into());
    }
    let _ = app;
    std::env::current_exe().ok()
}

/// How development builds are told from installed ones: this binary's
/// own target folder is known at build time (see build.rs).
fn builds() -> Builds {
    Builds {
        target_dir: option_env!("FERRY_BUILD_TARGET_DIR").map(Into::into),
    }
}

/// True when this is a build inside a checkout, which never starts at login.
pub fn development_build(app: &AppHandle) -> bool {
    program(app).is_none_or(|p| builds().is_development(&p))
}

/// The program the login item starts, if there is one.
fn registered(app: &AppHandle) -> Option<PathBuf> {
    if !app.autolaunch().is_enabled().unwrap_or(false) {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        // The XDG autostart entry the plugin writes: ~/.config/autostart/NAME.desktop.
        let entry = ferry::paths::home_dir()?
            .join(".config/autostart")
            .join(format!("{}.desktop", app.package_info().name));
        if let Ok(text) = std::fs::read_to_string(entry) {
            return login_item::autostart_program(&text).map(Path::to_path_buf);
        }
    }
    // Elsewhere the item's target can't be read: take it to be this one,
    // unless this is a development build (then it's no item of ours to
    // touch: an installed Ferry's item must not be taken for a checkout's).
    if development_build(app) {
        None
    } else {
        program(app)
    }
}

/// True when a login item starts Ferry.
pub fn starts_at_login(app: &AppHandle) -> bool {
    registered(app).is_some()
}

fn apply(app: &AppHandle, change: Change) {
    let launcher = app.autolaunch();
    let result = match change {
        Change::Register => launcher.enable(),
        Change::Remove => launcher.disable(),
        Change::Leave => return,
    };
    match result {
        Ok(()) => tracing::info!(?change, "login item"),
        Err(e) => tracing::warn!("could not change starting at login: {e}"),
    }
}

/// At start: removes an item a checkout left, re-points the user's item at
/// this binary, or removes it if the user turned it off; never adds one.
pub fn at_start(app: &AppHandle, wanted: Option<bool>) {
    let Some(exe) = program(app) else { return };
    let change = builds().at_start(&exe, wanted, registered(app).as_deref());
    apply(app, change);
}

/// The user turned starting at login on or off.
pub fn on_choice(app: &AppHandle, wanted: bool) {
    let Some(exe) = program(app) else { return };
    if wanted && builds().is_development(&exe) {
        tracing::info!("a development build doesn't start at login");
    }
    let change = builds().on_choice(&exe, wanted, registered(app).as_deref());
    apply(app, change);
}
