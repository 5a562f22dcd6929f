//! The tray icon in a real XEmbed tray (trayer) under Xvfb: it appears with
//! the synced picture, its menu opens, "Pause syncing" turns it grey, and
//! "Quit Ferry" ends the app. And without any tray host, the app still runs.

use std::time::Duration;

use ferry_e2e::{count_pixels, process_alive, Desktop, WindowInfo};

fn green(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    g > 100 && g > r + 50 && g > b + 40
}

fn grey(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    (70..130).contains(&r) && (r - g).abs() < 15 && (b - g).abs() < 20
}

fn tray_icon(desktop: &Desktop) -> WindowInfo {
    desktop.wait("Ferry's icon in the tray", Duration::from_secs(20), || {
        desktop.x11().find_by_class("tray-icon")
    })
}

fn icon_pixels(desktop: &Desktop, icon: &WindowInfo) -> Vec<[u8; 3]> {
    let (x, y, w, h) = icon.geometry;
    desktop.x11().pixels(x, y, w, h)
}

/// The menu is a new override-redirect window of the app, below the tray.
fn open_menu(desktop: &Desktop, icon: &WindowInfo) -> WindowInfo {
    let (x, y, w, h) = icon.geometry;
    let (cx, cy) = (x + w as i32 / 2, y + h as i32 / 2);
    let find_menu = || {
        desktop.x11().windows().into_iter().find(|win| {
            win.viewable
                && win.class.contains("ferry-desktop")
                && win.name != "Ferry"
                && win.geometry.3 > 80
                && win.geometry.1 >= y + h as i32 - 5
        })
    };
    // A click that lands while the menu is being rebuilt opens nothing; a
    // person clicks again.
    let click = || desktop.xdotool(&["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"]);
    click();
    let opened = (0..30).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        find_menu()
    });
    if opened.is_none() {
        click();
    }
    let menu = desktop.wait("the tray menu to open", Duration::from_secs(10), find_menu);
    // The menu takes the keyboard once it is mapped; give it that moment.
    std::thread::sleep(Duration::from_millis(300));
    menu
}

#[test]
fn tray_icon_shows_the_status_and_its_menu_works() {
    let mut desktop = Desktop::start();
    desktop.start_tray_host();
    let mut app = desktop.launch_app();

    let icon = tray_icon(&desktop);
    let (_, _, w, h) = icon.geometry;
    let area = (w * h) as usize;
    desktop.wait(
        "the green 'synced' picture",
        Duration::from_secs(10),
        || (count_pixels(&icon_pixels(&desktop, &icon), green) > area / 4).then_some(()),
    );
    desktop.screenshot("tray-01-synced");

    let menu = open_menu(&desktop, &icon);
    desktop.screenshot("tray-02-menu-open");
    assert!(
        menu.geometry.2 > 100,
        "the menu is wide enough to read: {:?}",
        menu.geometry
    );
    // First enabled items: Open Ferry, Sync now, Pause syncing (the status
    // line is disabled; no folders yet); Pause opens For 1 hour / Until I resume.
    desktop.xdotool(&["key", "Down", "Down", "Down", "Right"]);
    std::thread::sleep(Duration::from_millis(400));
    desktop.screenshot("tray-02b-pause-submenu");
    desktop.xdotool(&["key", "Return"]);
    desktop.wait("the grey 'paused' picture", Duration::from_secs(10), || {
        let px = icon_pixels(&desktop, &icon);
        (count_pixels(&px, grey) > area / 4 && count_pixels(&px, green) == 0).then_some(())
    });
    desktop.screenshot("tray-03-paused");
    let log = app.log();
    assert!(
        log.contains("tray menu item=\"pause_hour\"") && log.contains("syncing paused for a while"),
        "the click reached the engine:\n{log}"
    );

    // Paused, the menu offers Resume in the same place.
    open_menu(&desktop, &icon);
    desktop.screenshot("tray-04-menu-resume");
    desktop.xdotool(&["key", "Down", "Down", "Down", "Return"]);
    desktop.wait(
        "the green 'synced' picture again",
        Duration::from_secs(10),
        || (count_pixels(&icon_pixels(&desktop, &icon), green) > area / 4).then_some(()),
    );

    open_menu(&desktop, &icon);
    // Up from nothing selected lands on the last item: Quit Ferry.
    desktop.xdotool(&["key", "Up", "Return"]);
    let status = app.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "Quit ends Ferry cleanly: {status:?}");
    assert!(app.log().contains("quit from the tray"));
}

#[test]
fn runs_without_a_tray_host() {
    let desktop = Desktop::start();
    let mut app = desktop.launch_app();
    desktop.wait("the Ferry window", Duration::from_secs(20), || {
        desktop.x11().visible_window("Ferry")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        app.try_exit_status().is_none(),
        "no tray host is not a reason to crash: {:?}",
        app.try_exit_status()
    );
    assert!(process_alive(app.pid()));
    desktop.screenshot("no-tray-host");
}
