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
        "check_server",
        "sign_in_links",
        "choose_ca_file",
        "connect_with_token",
        "connect_with_oauth",
        "cancel_sign_in",
        "list_projects",
        "create_project",
        "add_folder",
        "folder_sync_now",
        "folder_set_paused",
        "folder_allow_deletion",
        "open_folder",
        "open_file",
        "open_in_gitlab",
        "open_url",
        "remove_folder",
        "list_accounts",
        "test_account",
        "remove_account",
        "get_preferences",
        "set_preferences",
        "app_info",
        "open_logs",
        "reconnect_with_token",
        "reconnect_with_oauth",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
