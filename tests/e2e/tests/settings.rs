//! The Settings screen in a real window: preferences are saved and applied
//! (the login item appears and goes), About shows the version and opens
//! the log folder.

use std::time::Duration;

use ferry_e2e::{wait_for, Desktop, Driver};

#[test]
fn preferences_are_saved_and_start_at_login_follows_them() {
    let desktop = Desktop::start();
    std::fs::write(
        desktop.config_dir().join("settings.toml"),
        "version = 2\n\n[[instances]]\nid = \"work\"\nname = \"Work\"\n\
         url = \"https://git.example.org\"\nauth = \"token\"\n",
    )
    .unwrap();
    let autostart = desktop.home().join(".config/autostart");
    let driver = Driver::start(&desktop);
    let session = driver.session();
    session.find_with_text("h1", "Your folders");

    // On by default: the login item exists once Ferry has started.
    let entry = wait_for("the login item", Duration::from_secs(10), || {
        std::fs::read_dir(&autostart)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "desktop"))
    });
    let desktop_file = std::fs::read_to_string(&entry).unwrap();
    assert!(
        desktop_file.contains("--hidden"),
        "starts in the tray: {desktop_file}"
    );

    session.click(&session.find_with_text("button", "Settings"));
    session.find_with_text("h1", "Settings");
    let version = session.find("[data-testid=version]");
    assert_eq!(
        session.text(&version),
        format!("Ferry {}", env!("CARGO_PKG_VERSION"))
    );
    session.screenshot("settings");

    session.click(&session.find("input[name=start-at-login]"));
    session.find_with_text("[data-testid=prefs-saved]", "Saved");
    wait_for("the login item to go", Duration::from_secs(10), || {
        (!entry.exists()).then_some(())
    });
    session.click(&session.find("input[name=commit-style][value=simple]"));
    let poll = session.find("select[name=poll-interval]");
    session.click(&poll);
    session.click(&session.find("select[name=poll-interval] option[value='300']"));
    wait_for(
        "the settings file to follow",
        Duration::from_secs(10),
        || {
            let saved = std::fs::read_to_string(desktop.config_dir().join("settings.toml")).ok()?;
            (saved.contains("start_at_login = false")
                && saved.contains("commit_messages = \"simple\"")
                && saved.contains("poll_interval_secs = 300"))
            .then_some(())
        },
    );

    session.click(&session.find_with_text("button", "Open the log files"));
    wait_for("the log folder to open", Duration::from_secs(10), || {
        desktop
            .opened()
            .into_iter()
            .find(|p| p == &desktop.config_dir().join("logs").display().to_string())
    });
}
