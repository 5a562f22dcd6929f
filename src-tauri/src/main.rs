//! `ferry-desktop`: the Tauri shell over Ferry's engine.
//!
//! This crate only registers things: plugins, the main window, the tray and
//! the commands. It holds no sync logic; each command is a few lines that
//! call the engine, and everything it does is reachable from the `ferry` CLI.
//!
//! Lifecycle: one instance per user (a second launch opens the first one's
//! window); closing the window destroys it, releasing the webview, while
//! Ferry keeps running in the tray; "Open Ferry" builds it again.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

include!("command_list.rs");

/// Tauri's handler for the commands `with_commands!` lists.
macro_rules! invoke_handler {
    ($($module:ident :: $command:ident),* $(,)?) => {
        tauri::generate_handler![$($module::$command),*]
    };
}

mod commands;
mod connect;
#[cfg(test)]
mod contract;
mod events;
mod folders;
mod login;
mod notify;
mod prefs;
mod state;
mod tray;
mod window;

use std::path::PathBuf;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::state::Shell;

/// The argument the login item starts Ferry with: no window, just the tray.
const HIDDEN: &str = "--hidden";

fn main() {
    let config_dir = config_dir_arg(std::env::args().skip(1));
    let dirs = match ferry::paths::StateDirs::resolve(config_dir.as_deref()) {
        Ok(dirs) => dirs,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let _log_guard = match ferry::logging::init_with_file(&dirs.logs) {
        Ok(guard) => Some(guard),
        Err(e) => {
            ferry::logging::init_stderr("info");
            tracing::warn!("{e}; logging to the terminal only");
            None
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %dirs.config.display(), "Ferry starting");
    let shell = Shell::open(dirs);

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("another launch asked for the window");
            window::show_main(app);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN]),
        ))
        .manage(shell)
        .invoke_handler(with_commands!(invoke_handler))
        .setup(|app| {
            let shell = app.state::<Shell>().inner().clone();
            if let Err(e) = tray::install(app.handle(), &shell) {
                // No tray host, or no appindicator library: the window still works.
                tracing::warn!("the tray icon is not available: {e}");
            }
            notify::install(app.handle(), &shell);
            if let Ok(config) = shell.settings() {
                login::at_start(app.handle(), config.preferences.start_at_login);
            }
            if std::env::args().any(|a| a == HIDDEN) {
                // Started at login: live in the tray until asked for.
                if let Some(w) = app.get_webview_window(window::MAIN) {
                    let _ = w.destroy();
                }
                tracing::info!("started at login; the window opens from the tray");
            }
            shell.start_syncing();
            Ok(())
        })
        .on_window_event(|window, event| match event {
            WindowEvent::DragDrop(drop) => {
                window.state::<Shell>().relay_drag_drop(drop);
            }
            WindowEvent::Destroyed => tracing::info!(
                window = window.label(),
                "window closed; Ferry keeps running in the tray"
            ),
            _ => {}
        })
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            tracing::error!("Ferry could not start its window: {e}");
            eprintln!("Ferry could not start its window: {e}");
            std::process::exit(1);
        });

    app.run(|app, event| match event {
        RunEvent::ExitRequested {
            api, code: None, ..
        } => {
            // The last window closed: stay in the tray. Quit passes an exit code.
            api.prevent_exit();
        }
        RunEvent::Exit => {
            // Quit: let running cycles end and leave the last known status.
            let shell = app.state::<Shell>().inner().clone();
            tauri::async_runtime::block_on(async move { shell.app().stop().await });
            tracing::info!("Ferry stopped");
        }
        _ => {}
    });
}

/// `--config-dir DIR` or `--config-dir=DIR`, as the CLI takes it.
fn config_dir_arg(mut args: impl Iterator<Item = String>) -> Option<PathBuf> {
    while let Some(arg) = args.next() {
        if arg == "--config-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(dir) = arg.strip_prefix("--config-dir=") {
            return Some(PathBuf::from(dir));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_dir_is_read_in_both_spellings() {
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            config_dir_arg(args(&["--config-dir", "/x"])),
            Some("/x".into())
        );
        assert_eq!(
            config_dir_arg(args(&["--config-dir=/y"])),
            Some("/y".into())
        );
        assert_eq!(config_dir_arg(args(&["--other"])), None);
    }
}
