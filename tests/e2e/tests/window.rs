//! The main window in a real WebKitGTK window, driven through WebDriver:
//! the welcome screen, the wizard's start and the folder checks behind a
//! drop, the folders list, a damaged settings file, and closing to the tray.

use std::time::Duration;

use ferry_e2e::{process_alive, wait_for, Desktop, Driver};
use serde_json::json;

#[test]
fn welcome_then_the_wizard_and_the_folder_checks_behind_a_drop() {
    let desktop = Desktop::start();
    let driver = Driver::start(&desktop);
    let session = driver.session();

    let title = session.find_with_text("h1", "Welcome to Ferry");
    assert_eq!(session.text(&title), "Welcome to Ferry");
    let window = wait_for("a window titled Ferry", Duration::from_secs(10), || {
        desktop.x11().visible_window("Ferry")
    });
    assert!(
        window.geometry.2 >= 560,
        "usable width: {:?}",
        window.geometry
    );
    session.screenshot("01-welcome");
    desktop.screenshot("01-welcome-desktop");

    let start = session.find_with_text("button", "Get started");
    session.click(&start);
    // The wizard starts with where the user's GitLab is.
    session.find_with_text("h1", "Where is your GitLab?");
    session.find("input[name=address]");
    session.screenshot("02-wizard-start");

    // The command a drop on the window calls, through the real IPC.
    let home = desktop.home();
    std::fs::create_dir_all(home.join("Website")).unwrap();
    std::fs::create_dir_all(home.join("Existing")).unwrap();
    std::fs::write(home.join("Existing/index.md"), "# Hello").unwrap();
    std::fs::write(home.join("notes.txt"), "x").unwrap();
    let check = |paths: Vec<String>| {
        let v = session.invoke("check_dropped", json!({ "paths": paths }));
        assert!(v.get("err").is_none(), "the command is allowed: {v}");
        v["ok"].clone()
    };
    let p = |name: &str| home.join(name).display().to_string();

    let ok = check(vec![p("Website")]);
    assert_eq!(ok["outcome"], "accepted", "{ok}");
    assert_eq!(ok["folder"]["existing_entries"], 0);
    let existing = check(vec![p("Existing")]);
    assert_eq!(existing["outcome"], "accepted");
    assert_eq!(existing["folder"]["existing_entries"], 1, "the UI can warn");
    for (paths, reason) in [
        (vec![p("notes.txt")], "not_a_directory"),
        (vec![p("Website"), p("Existing")], "several_items"),
        (vec![p("Missing")], "missing"),
        (vec![home.display().to_string()], "home_folder"),
        (vec!["/etc".to_string()], "system_folder"),
        (vec![], "nothing_dropped"),
    ] {
        let v = check(paths.clone());
        assert_eq!(v["outcome"], "rejected", "{paths:?}: {v}");
        assert_eq!(v["reason"], reason, "{paths:?}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.len() > 20),
            "a sentence for the user: {v}"
        );
    }

    // Core commands that are not Ferry's own are refused: capabilities deny by default.
    let v = session.execute_async(
        "const done = arguments[0];\
         window.__TAURI_INTERNALS__.invoke('plugin:window|set_title', {label: 'main', value: 'pwned'})\
           .then(v => done({ok: v}), e => done({err: String(e)}));",
        json!([]),
    );
    assert!(
        v.get("err").is_some(),
        "the page can't retitle the window: {v}"
    );
    assert!(
        desktop.x11().visible_window("Ferry").is_some(),
        "the title is unchanged"
    );
}

/// Waits until the welcome screen's blue button is on screen.
fn session_free_wait_for_paint(desktop: &Desktop, window: &ferry_e2e::WindowInfo) {
    let (x, y, w, h) = window.geometry;
    wait_for(
        "the welcome screen to paint",
        Duration::from_secs(20),
        || {
            let px = desktop.x11().pixels(x, y, w, h);
            (ferry_e2e::count_pixels(&px, ferry_e2e::accent_blue) > 2000).then_some(())
        },
    );
}

#[test]
fn closing_the_window_keeps_ferry_running_and_a_second_launch_reopens_it() {
    let desktop = Desktop::start();
    let mut app = desktop.launch_app();
    let window = wait_for("the Ferry window", Duration::from_secs(20), || {
        desktop.x11().visible_window("Ferry")
    });
    assert_eq!(window.pid, Some(app.pid()), "the window belongs to the app");
    // Close it once the page has loaded, as a user would.
    session_free_wait_for_paint(&desktop, &window);
    desktop.close_window(&window);
    wait_for("the window to go away", Duration::from_secs(10), || {
        desktop
            .x11()
            .visible_window("Ferry")
            .is_none()
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        app.try_exit_status().is_none() && process_alive(app.pid()),
        "closing the window leaves Ferry running in the tray"
    );
    desktop.screenshot("03-closed-to-tray");
    wait_for("the log to note the close", Duration::from_secs(5), || {
        app.log()
            .contains("Ferry keeps running in the tray")
            .then_some(())
    });

    let second = desktop
        .command(ferry_e2e::app_binary())
        .output()
        .expect("launch a second ferry-desktop");
    assert!(
        second.status.success(),
        "the second launch hands over and exits"
    );
    let reopened = wait_for("the window to come back", Duration::from_secs(15), || {
        desktop.x11().visible_window("Ferry")
    });
    assert_eq!(
        reopened.pid,
        Some(app.pid()),
        "the first instance opened it"
    );
    desktop.screenshot("04-reopened");
    assert!(app.log().contains("another launch asked for the window"));
}

#[test]
fn configured_folders_show_instead_of_the_welcome() {
    let desktop = Desktop::start();
    let site = desktop.home().join("Website");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        desktop.config_dir().join("settings.toml"),
        format!(
            "version = 2\n\n[[instances]]\nid = \"work\"\nname = \"Work\"\n\
             url = \"https://git.example.org\"\nauth = \"token\"\n\n\
             [[folders]]\nid = \"site\"\npath = \"{}\"\ninstance = \"work\"\n\
             project = \"editor/website\"\n",
            site.display()
        ),
    )
    .unwrap();
    let driver = Driver::start(&desktop);
    let session = driver.session();
    session.find_with_text("h1", "Your folders");
    let card = session.find_with_text(".card", "Website");
    let text = session.text(&card);
    assert!(text.contains(&site.display().to_string()), "{text}");
    // No keyring runs in this desktop session: the card says so instead of failing silently.
    let card = session.find_with_text(".card", "keyring");
    let text = session.text(&card);
    assert!(text.contains("Needs attention"), "{text}");
    assert!(
        session
            .find_all("h1")
            .iter()
            .all(|h| session.text(h) != "Welcome to Ferry"),
        "no welcome once something is configured"
    );
    session.screenshot("14-folders-list");

    // Pause from the window reaches the engine and comes back as status.
    session.click(&session.find_with_text("button", "Pause syncing"));
    session.find_with_text("button", "Resume syncing");
    session.find_with_text(".summary", "Syncing is paused");
    session.click(&session.find_with_text("button", "Resume syncing"));
    session.find_with_text("button", "Pause syncing");
}

#[test]
fn a_damaged_settings_file_is_explained_and_kept() {
    let desktop = Desktop::start();
    let settings = desktop.config_dir().join("settings.toml");
    std::fs::write(&settings, "version = 2\n[[folders]\n").unwrap();
    let driver = Driver::start(&desktop);
    let session = driver.session();
    let panel = session.find_with_text("[role=alert]", "couldn't read its settings");
    let text = session.text(&panel);
    assert!(text.contains("damaged"), "{text}");
    assert!(
        text.contains("settings.unreadable-"),
        "names the kept copy: {text}"
    );
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "version = 2\n[[folders]\n",
        "the damaged file is not overwritten"
    );
    session.screenshot("15-settings-damaged");

    session.click(&session.find_with_text("button", "Start with fresh settings"));
    session.find_with_text("h1", "Welcome to Ferry");
    let copies: Vec<_> = std::fs::read_dir(desktop.config_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("settings.") && name != "settings.toml" && name != "settings.lock"
        })
        .collect();
    assert_eq!(copies.len(), 1, "one copy of the damaged file is kept");
    assert!(copies[0]
        .file_name()
        .to_string_lossy()
        .starts_with("settings.unreadable-"));
    assert_eq!(
        std::fs::read_to_string(copies[0].path()).unwrap(),
        "version = 2\n[[folders]\n"
    );
}
