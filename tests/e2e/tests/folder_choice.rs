//! Choosing the folder to sync, the two ways a user does it: a real
//! drag and drop from another application (XDND, driven with the mouse),
//! and the system folder picker. Both end in the engine's folder checks.

use std::path::Path;

use std::time::Duration;

mod flow;

use ferry_e2e::{wait_for, Desktop, Driver, Session, WindowInfo};
use ferry_testkit::Options;
use flow::drag_source;

/// Connects with a token and picks a repository, as a user does, to reach
/// the folder step; returns the window and the drop zone's centre on screen.
fn folder_step<'a>(
    desktop: &Desktop,
    session: &Session<'a>,
    kit: &ferry_testkit::Testkit,
) -> (WindowInfo, (i32, i32)) {
    let window = wait_for("the Ferry window", Duration::from_secs(15), || {
        desktop.x11().visible_window("Ferry")
    });
    flow::connect_with_token(session, kit, None);
    flow::pick_repository(session, "editor/website");
    let centre = flow::drop_target(desktop, session);
    (window, centre)
}

fn result_of(session: &Session<'_>) -> (String, String, String) {
    let result = session.find("[data-testid=folder-result]");
    (
        session
            .attribute(&result, "data-outcome")
            .unwrap_or_default(),
        session
            .attribute(&result, "data-reason")
            .unwrap_or_default(),
        session.text(&result),
    )
}

fn make_home(home: &Path) {
    std::fs::create_dir_all(home.join("Website")).unwrap();
    std::fs::create_dir_all(home.join("Photos")).unwrap();
    std::fs::write(home.join("Photos/beach.jpg"), b"\xff\xd8").unwrap();
    std::fs::write(home.join("Photos/notes.md"), "# notes").unwrap();
    std::fs::write(home.join("letter.txt"), "Dear...").unwrap();
}

#[test]
fn a_folder_dropped_on_the_window_is_checked_and_accepted() {
    let (desktop, kit) = flow::desktop_and_kit(Options::default());
    make_home(&desktop.home());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    let (_, target) = folder_step(&desktop, &session, &kit);
    let zone = session.find(".dropzone");

    let photos = [desktop.home().join("Photos")];
    desktop.drag_and_drop(&drag_source(), &photos, target, || {
        // The drop zone highlights while a folder is over the window.
        let ready = session.attribute(&zone, "data-tone").as_deref() == Some("ready");
        if ready {
            desktop.screenshot("05-drop-hover");
        }
        ready
    });
    let (outcome, _, text) = result_of(&session);
    assert_eq!(outcome, "accepted", "{text}");
    assert!(text.contains("Photos can be synced"), "{text}");
    assert!(
        text.contains("2 items") && text.contains("backup folder"),
        "the user is told what happens to the existing files: {text}"
    );
    assert_eq!(
        session.attribute(&zone, "data-tone").as_deref(),
        Some("idle"),
        "the highlight ends after the drop"
    );
    session.screenshot("06-drop-accepted");
}

#[test]
fn dropping_several_items_or_a_file_is_refused_with_a_reason() {
    let (desktop, kit) = flow::desktop_and_kit(Options::default());
    make_home(&desktop.home());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    let (_, target) = folder_step(&desktop, &session, &kit);
    let zone = session.find(".dropzone");

    let two = [
        desktop.home().join("Website"),
        desktop.home().join("Photos"),
    ];
    desktop.drag_and_drop(&drag_source(), &two, target, || {
        // Two items are refused already while hovering.
        let refused = session.attribute(&zone, "data-tone").as_deref() == Some("refuse");
        if refused {
            desktop.screenshot("07-drop-two-hover");
        }
        refused
    });
    let (outcome, reason, text) = result_of(&session);
    assert_eq!(
        (outcome.as_str(), reason.as_str()),
        ("rejected", "several_items"),
        "{text}"
    );
    assert!(text.contains("You dropped 2 items"), "{text}");
    session.screenshot("08-drop-two-refused");

    let letter = [desktop.home().join("letter.txt")];
    desktop.drag_and_drop(&drag_source(), &letter, target, || {
        session.attribute(&zone, "data-tone").as_deref() == Some("ready")
    });
    let (outcome, reason, text) =
        wait_for("the file to be refused", Duration::from_secs(10), || {
            let r = result_of(&session);
            (r.1 == "not_a_directory").then_some(r)
        });
    assert_eq!(
        (outcome.as_str(), reason.as_str()),
        ("rejected", "not_a_directory")
    );
    assert!(text.contains("is a file, not a folder"), "{text}");
}

#[test]
fn choose_folder_opens_the_system_picker_in_the_home_folder() {
    let (desktop, kit) = flow::desktop_and_kit(Options::default());
    make_home(&desktop.home());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    folder_step(&desktop, &session, &kit);

    // `typed`: what the user types in the picker, relative to the home folder
    // it opens in (`~/` is home itself); None cancels with Escape.
    let pick = |typed: Option<&str>, shot: &str| {
        session.click(&session.find_with_text("button", "Choose folder"));
        wait_for("the folder picker", Duration::from_secs(10), || {
            desktop
                .x11()
                .visible_window("Choose the folder to keep in sync")
        });
        std::thread::sleep(Duration::from_millis(700));
        desktop.screenshot(shot);
        match typed {
            Some(typed) => {
                // "~" opens the picker's location field; then the rest, slowly
                // enough for its inline completion to keep up.
                desktop.xdotool(&["type", "~"]);
                std::thread::sleep(Duration::from_millis(500));
                desktop.xdotool(&["type", "--delay", "60", &typed[1..]]);
                std::thread::sleep(Duration::from_millis(300));
                // Enter picks a typed folder; on the folder already shown it
                // only navigates, and then Open (Alt+O) picks it, as a user would.
                desktop.xdotool(&["key", "Return"]);
                std::thread::sleep(Duration::from_millis(1000));
                if desktop
                    .x11()
                    .visible_window("Choose the folder to keep in sync")
                    .is_some()
                {
                    desktop.xdotool(&["key", "alt+o"]);
                }
            }
            None => desktop.xdotool(&["key", "Escape"]),
        }
        let closed = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            desktop
                .x11()
                .visible_window("Choose the folder to keep in sync")
                .is_none()
        });
        if !closed {
            desktop.screenshot(&format!("{shot}-stuck"));
            panic!("the folder picker did not close; see {shot}-stuck.png");
        }
    };

    pick(Some("~/Website"), "09-folder-picker");
    let (outcome, _, text) = wait_for(
        "the chosen folder's result",
        Duration::from_secs(10),
        || {
            let r = result_of(&session);
            r.2.contains("Website").then_some(r)
        },
    );
    assert_eq!(outcome, "accepted", "{text}");
    assert!(text.contains("The folder is empty"), "{text}");
    session.screenshot("10-picker-accepted");

    pick(None, "11-folder-picker-cancel");
    std::thread::sleep(Duration::from_millis(500));
    let (outcome, _, text) = result_of(&session);
    assert!(
        outcome == "accepted" && text.contains("Website"),
        "cancelling keeps the earlier choice: {text}"
    );
    let zone = session.find(".dropzone");
    assert_eq!(
        session.attribute(&zone, "data-tone").as_deref(),
        Some("idle")
    );

    pick(Some("~/"), "12-folder-picker-home");
    let (outcome, reason, text) = wait_for(
        "the home folder to be refused",
        Duration::from_secs(10),
        || {
            let r = result_of(&session);
            (r.0 == "rejected").then_some(r)
        },
    );
    assert_eq!(
        (outcome.as_str(), reason.as_str()),
        ("rejected", "home_folder"),
        "{text}"
    );
    assert!(text.contains("whole home folder"), "{text}");
    session.screenshot("13-picker-home-refused");
}
