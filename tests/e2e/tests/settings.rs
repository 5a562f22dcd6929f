//! The Settings screen in a real window: preferences are saved and applied
//! (the login item appears and goes — for an installed Ferry only; a build
//! run from the checkout never registers one), About shows the version and
//! opens the log folder.

use std::time::Duration;

use ferry_e2e::{wait_for, Desktop, Driver};

const ACCOUNT: &str = "version = 2\n\n[[instances]]\nid = \"work\"\nname = \"Work\"\n\
                       url = \"https://git.example.org\"\nauth = \"token\"\n";

#[test]
fn preferences_are_saved_and_start_at_login_follows_them() {
    let desktop = Desktop::start();
    std::fs::write(desktop.config_dir().join("settings.toml"), ACCOUNT).unwrap();
    // An installed copy, outside the checkout.
    let installed = desktop.installed_app();
    let driver = Driver::start(&desktop);
    let session = driver.session_of(&installed);
    session.find_with_text("h1", "Your folders");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        desktop.login_items().is_empty(),
        "never registered without the user's choice: {:?}",
        desktop.login_items()
    );

    session.click(&session.find_with_text("button", "Settings"));
    session.find_with_text("h1", "Settings");
    let version = session.find("[data-testid=version]");
    assert_eq!(
        session.text(&version),
        format!("Ferry {}", env!("CARGO_PKG_VERSION"))
    );
    session.screenshot("settings");

    // Turned on: the login item starts this installed copy, in the tray.
    session.click(&session.find("input[name=start-at-login]"));
    let entry = wait_for("the login item", Duration::from_secs(10), || {
        desktop
            .login_items()
            .into_iter()
            .find(|p| p.extension().is_some_and(|x| x == "desktop"))
    });
    let desktop_file = std::fs::read_to_string(&entry).unwrap();
    assert!(
        desktop_file.contains(&format!("Exec={} --hidden", installed.display())),
        "starts the installed copy in the tray: {desktop_file}"
    );

    // Turned off: gone.
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

#[test]
fn a_build_from_the_checkout_never_starts_at_login_and_removes_what_one_left() {
    let desktop = Desktop::start();
    std::fs::write(
        desktop.config_dir().join("settings.toml"),
        format!("{ACCOUNT}\n[preferences]\nstart_at_login = true\n"),
    )
    .unwrap();
    // What an earlier Ferry run from a checkout left behind.
    let autostart = desktop.home().join(".config/autostart");
    std::fs::create_dir_all(&autostart).unwrap();
    let stale = autostart.join("Ferry.desktop");
    std::fs::write(
        &stale,
        format!(
            "[Desktop Entry]\nType=Application\nName=Ferry\nExec={} --hidden\n",
            ferry_e2e::app_binary().display()
        ),
    )
    .unwrap();
    let driver = Driver::start(&desktop);
    let session = driver.session();
    session.find_with_text("h1", "Your folders");
    wait_for(
        "the stale login item to go",
        Duration::from_secs(10),
        || (!stale.exists()).then_some(()),
    );

    session.click(&session.find_with_text("button", "Settings"));
    let toggle = session.find("input[name=start-at-login]");
    assert!(
        session.attribute(&toggle, "disabled").is_some(),
        "a development build can't be set to start at login"
    );
    session.find_with_text("[data-testid=login-dev-note]", "development build");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        desktop.login_items().is_empty(),
        "{:?}",
        desktop.login_items()
    );
}
