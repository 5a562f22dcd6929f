//! The tray icon: its picture, tooltip and menu follow the engine's status.
//!
//! The menu: a status line, each folder with its state, Open Ferry, Sync
//! now, Pause syncing (for 1 hour / until resumed) or Resume, Quit Ferry. On Linux panels that show no tooltips (AppIndicator), the
//! status line in the menu carries the same words.

use ferry::sync::{Overview, SyncState};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::state::Shell;
use crate::window;

const TRAY_ID: &str = "ferry";

/// The PNG for a state: a coloured disc with a white glyph (icons/tray/).
pub fn icon_png(state: SyncState) -> &'static [u8] {
    match state {
        SyncState::Synced => include_bytes!("../../icons/tray/synced@2x.png"),
        SyncState::Syncing => include_bytes!("../../icons/tray/syncing@2x.png"),
        SyncState::Paused => include_bytes!("../../icons/tray/paused@2x.png"),
        SyncState::Offline => include_bytes!("../../icons/tray/offline@2x.png"),
        SyncState::Conflict => include_bytes!("../../icons/tray/conflict@2x.png"),
        SyncState::Error => include_bytes!("../../icons/tray/error@2x.png"),
    }
}

/// The label of the pause item for the current overview.
pub fn pause_label(overview: &Overview) -> &'static str {
    if overview.paused {
        "Resume syncing"
    } else {
        "Pause syncing"
    }
}

/// One line per folder in the menu: its name and state in words.
pub fn folder_lines(overview: &Overview) -> Vec<String> {
    overview
        .folders
        .iter()
        .map(|f| format!("{} — {}", f.name, f.state.label()))
        .collect()
}

/// Builds the menu for an overview: status, one line per folder, Open
/// Ferry, Sync now, Pause (for an hour / until resumed) or Resume, Quit.
fn build_menu(app: &AppHandle, overview: &Overview) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        "status",
        overview.tooltip(),
        false,
        None::<&str>,
    )?)?;
    let lines = folder_lines(overview);
    if !lines.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        for (i, line) in lines.iter().enumerate() {
            menu.append(&MenuItem::with_id(
                app,
                format!("folder:{i}"),
                line,
                true,
                None::<&str>,
            )?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open Ferry",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "sync_now",
        "Sync now",
        true,
        None::<&str>,
    )?)?;
    if overview.paused {
        menu.append(&MenuItem::with_id(
            app,
            "resume",
            "Resume syncing",
            true,
            None::<&str>,
        )?)?;
    } else {
        let hour = MenuItem::with_id(app, "pause_hour", "For 1 hour", true, None::<&str>)?;
        let until = MenuItem::with_id(app, "pause", "Until I resume", true, None::<&str>)?;
        menu.append(&Submenu::with_items(
            app,
            pause_label(overview),
            true,
            &[&hour, &until],
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        "Quit Ferry",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// What the menu shows; the menu is rebuilt only when this changes.
fn menu_key(overview: &Overview) -> (String, Vec<String>, bool) {
    (overview.tooltip(), folder_lines(overview), overview.paused)
}

/// Adds the tray icon and keeps it in step with the engine.
pub fn install(app: &AppHandle, shell: &Shell) -> tauri::Result<()> {
    let overview = shell.app().overview();
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_png(overview.overall()))?)
        .tooltip(overview.tooltip())
        .menu(&build_menu(app, &overview)?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;

    let mut updates = shell.app().subscribe();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut shown = (menu_key(&overview), overview.overall());
        while updates.changed().await.is_ok() {
            let overview = updates.borrow_and_update().clone();
            let now = (menu_key(&overview), overview.overall());
            if now == shown {
                continue;
            }
            if let Err(e) = show(&handle, &tray, &overview) {
                tracing::warn!("could not update the tray icon: {e}");
            }
            shown = now;
        }
    });
    tracing::info!("tray icon installed");
    Ok(())
}

fn show(app: &AppHandle, tray: &TrayIcon, overview: &Overview) -> tauri::Result<()> {
    let state = overview.overall();
    // Menu first: once the picture changes, the menu matches it.
    tray.set_menu(Some(build_menu(app, overview)?))?;
    tray.set_tooltip(Some(overview.tooltip()))?;
    tray.set_icon(Some(Image::from_bytes(icon_png(state))?))?;
    tracing::info!(state = state.as_str(), "tray shows {}", overview.tooltip());
    Ok(())
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let shell = app.state::<Shell>();
    let id = event.id().as_ref();
    tracing::info!(item = id, "tray menu");
    let done = match id {
        "sync_now" => shell.app().sync_now(),
        "pause" => shell.app().pause_for(None),
        "pause_hour" => shell
            .app()
            .pause_for(Some(std::time::Duration::from_secs(3600))),
        "resume" => shell.app().resume(),
        "quit" => {
            tracing::info!("quit from the tray");
            app.exit(0);
            Ok(())
        }
        "open" => {
            window::show_main(app);
            Ok(())
        }
        other if other.starts_with("folder:") => {
            window::show_main(app);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = done {
        tracing::warn!(item = id, "the tray's request failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Decodes a tray PNG to RGBA and returns (width, height, pixel at x,y).
    fn pixel(png_bytes: &[u8], x: usize, y: usize) -> (u32, u32, [u8; 4]) {
        let mut decoder = png::Decoder::new(png_bytes);
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            info.color_type,
            png::ColorType::Rgba,
            "tray icons have alpha"
        );
        let i = (y * info.width as usize + x) * 4;
        (
            info.width,
            info.height,
            [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]],
        )
    }

    #[test]
    fn every_state_has_its_own_legible_icon() {
        let distinct: HashSet<&[u8]> = SyncState::ALL.iter().map(|s| icon_png(*s)).collect();
        assert_eq!(distinct.len(), 6, "one picture per state");
        for state in SyncState::ALL {
            let (w, h, corner) = pixel(icon_png(state), 0, 0);
            assert_eq!((w, h), (64, 64), "{state:?}: 64 px for HiDPI panels");
            assert_eq!(corner[3], 0, "{state:?}: transparent around the disc");
        }
    }

    #[test]
    fn each_icon_is_the_colour_of_its_state() {
        // A point inside the disc, left of the glyph.
        let colour = |s| pixel(icon_png(s), 11, 32).2;
        let [r, g, b, _] = colour(SyncState::Synced);
        assert!(g > r + 40 && g > b + 40, "synced is green: {r},{g},{b}");
        let [r, g, b, _] = colour(SyncState::Syncing);
        assert!(b > r + 80 && b > g + 40, "syncing is blue: {r},{g},{b}");
        let [r, g, b, _] = colour(SyncState::Paused);
        assert!(
            r.abs_diff(g) < 20 && g.abs_diff(b) < 25,
            "paused is grey: {r},{g},{b}"
        );
        let [r, g, b, _] = colour(SyncState::Offline);
        assert!(b > g + 60 && r > g, "offline is violet: {r},{g},{b}");
        let [r, g, b, _] = colour(SyncState::Conflict);
        assert!(r > g + 60 && g > b, "conflict is amber: {r},{g},{b}");
        let [r, g, b, _] = colour(SyncState::Error);
        assert!(r > g + 100 && r > b + 100, "error is red: {r},{g},{b}");
    }

    #[test]
    fn pause_item_offers_the_opposite_of_the_current_state() {
        let mut o = Overview {
            folders: vec![],
            paused: false,
        };
        assert_eq!(pause_label(&o), "Pause syncing");
        o.paused = true;
        assert_eq!(pause_label(&o), "Resume syncing");
        assert_eq!(o.tooltip(), "Ferry — Syncing is paused");
    }

    #[test]
    fn each_folder_has_a_line_with_its_state() {
        let folder = |name: &str, state| ferry::sync::FolderStatus {
            id: name.into(),
            name: name.into(),
            path: format!("/home/e/{name}"),
            state,
            message: String::new(),
            reason: None,
            last_synced: None,
            pending: 0,
            recent: vec![],
            conflicts: vec![],
            notes: vec![],
            pending_deletion: None,
        };
        let o = Overview {
            folders: vec![
                folder("Website", SyncState::Synced),
                folder("Handbook", SyncState::Error),
            ],
            paused: false,
        };
        assert_eq!(
            folder_lines(&o),
            ["Website — Synced", "Handbook — Needs attention"]
        );
    }
}
