//! How the window looks at 100% and 200% scale, light and dark: each main
//! screen is screenshotted, follows the desktop's colour scheme, and fits
//! its window without sideways scrolling.

use std::time::Duration;

use ferry_e2e::{wait_for, Desktop, Driver, Session};
use serde_json::{json, Value};

fn script(session: &Session<'_>, body: &str) -> Value {
    session.execute_async(
        &format!("const done = arguments[arguments.length - 1]; done(({body})());"),
        json!([]),
    )
}

/// The page's background brightness (0–255) and whether it scrolls sideways.
fn looks(session: &Session<'_>) -> (f64, bool) {
    let v = script(
        session,
        "() => { const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);\
           return { light: (c[0] + c[1] + c[2]) / 3,\
                    sideways: document.documentElement.scrollWidth > window.innerWidth + 1 }; }",
    );
    (
        v["light"].as_f64().unwrap_or(-1.0),
        v["sideways"].as_bool().unwrap_or(true),
    )
}

fn check(dark: bool, scale: u32) {
    let desktop = if scale == 2 {
        Desktop::start_sized(2560, 1600)
    } else {
        Desktop::start()
    };
    let mut desktop = desktop;
    if dark {
        desktop.set_env("GTK_THEME", "Adwaita:dark");
    }
    desktop.set_env("GDK_SCALE", &scale.to_string());
    let site = desktop.home().join("Website");
    std::fs::create_dir_all(&site).unwrap();
    let name = format!("look-{}-{}x", if dark { "dark" } else { "light" }, scale);

    // First run: the welcome, then the wizard's first step.
    {
        let driver = Driver::start(&desktop);
        let session = driver.session();
        session.find_with_text("h1", "Welcome to Ferry");
        let (light, sideways) = looks(&session);
        assert_eq!(light < 60.0, dark, "{name}: background brightness {light}");
        assert!(!sideways, "{name}: the welcome fits its window");
        session.screenshot(&format!("{name}-welcome"));
        desktop.screenshot(&format!("{name}-welcome-desktop"));
        session.click(&session.find_with_text("button", "Get started"));
        session.find_with_text("h1", "Where is your GitLab?");
        assert!(!looks(&session).1, "{name}: the wizard fits its window");
        session.screenshot(&format!("{name}-wizard"));
    }
    // With a folder: the folders list.
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
    wait_for("the card", Duration::from_secs(10), || {
        session.find_all("li.card").into_iter().next()
    });
    assert!(
        !looks(&session).1,
        "{name}: the folders list fits its window"
    );
    session.screenshot(&format!("{name}-folders"));
}

#[test]
fn light_at_100_percent() {
    check(false, 1);
}

#[test]
fn dark_at_100_percent() {
    check(true, 1);
}

#[test]
fn light_at_200_percent() {
    check(false, 2);
}

#[test]
fn dark_at_200_percent() {
    check(true, 2);
}
