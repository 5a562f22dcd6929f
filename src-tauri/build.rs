//! Generates the app's context and one permission per app command, so the
//! capability files can allow exactly our commands and nothing else.

fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "overview",
        "choose_folder",
        "check_dropped",
        "reset_settings",
        "watch_events",
        "pause_syncing",
        "resume_syncing",
        "sync_now",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
