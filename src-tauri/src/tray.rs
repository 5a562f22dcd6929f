//! The tray icon: its picture, tooltip and menu follow the engine's status.
//!
//! The menu: a status line, Open Ferry, Sync now, Pause/Resume syncing,
//! Quit Ferry. On Linux panels that show no tooltips (AppIndicator), the
//! status line in the menu carries the same words.

use ferry::sync::{Overview, SyncState};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
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

struct Items {
    status: MenuItem<Wry>,
    pause: MenuItem<Wry>,
}

/// Adds the tray icon and keeps it in step with the engine.
pub fn install(app: &AppHandle, shell: &Shell) -> tauri::Result<()> {
    let overview = shell.engine().overview();
    let status = MenuItem::with_id(app, "status", overview.tooltip(), false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Ferry", true, None::<&str>)?;
    let sync_now = MenuItem::with_id(app, "sync_now", "Sync now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", pause_label(&overview), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Ferry", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &sync_now,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_png(overview.overall()))?)
        .tooltip(overview.tooltip())
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;

    let items = Items { status, pause };
    let mut updates = shell.engine().subscribe();
    tauri::async_runtime::spawn(async move {
        while updates.changed().await.is_ok() {
            let overview = updates.borrow_and_update().clone();
            if let Err(e) = show(&tray, &items, &overview) {
                tracing::warn!("could not update the tray icon: {e}");
            }
        }
    });
    tracing::info!("tray icon installed");
    Ok(())
}

fn show(tray: &TrayIcon, items: &Items, overview: &Overview) -> tauri::Result<()> {
    let state = overview.overall();
    tray.set_icon(Some(Image::from_bytes(icon_png(state))?))?;
    tray.set_tooltip(Some(overview.tooltip()))?;
    items.status.set_text(overview.tooltip())?;
    items.pause.set_text(pause_label(overview))?;
    tracing::info!(state = state.as_str(), "tray shows {}", overview.tooltip());
    Ok(())
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let shell = app.state::<Shell>();
    tracing::info!(item = event.id().as_ref(), "tray menu");
    match event.id().as_ref() {
        "open" => window::show_main(app),
        "sync_now" => shell.engine().sync_now(),
        "pause" => {
            if shell.engine().overview().paused {
                shell.engine().resume();
            } else {
                shell.engine().pause();
            }
        }
        "quit" => {
            tracing::info!("quit from the tray");
            app.exit(0);
        }
        _ => {}
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
}
