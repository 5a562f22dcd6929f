//! The main window: shown, focused, or built again after it was closed.

use tauri::{AppHandle, Manager, WebviewWindowBuilder};

/// The main window's label in tauri.conf.json.
pub const MAIN: &str = "main";

/// Brings the main window to the front, building it if it was closed.
pub fn show_main(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == MAIN) else {
        tracing::error!("tauri.conf.json has no main window");
        return;
    };
    match WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()) {
        Ok(window) => {
            let _ = window.set_focus();
            tracing::info!("main window opened");
        }
        Err(e) => tracing::error!("could not open the main window: {e}"),
    }
}
