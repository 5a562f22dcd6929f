//! Events the shell sends to the UI over one IPC channel: status changes
//! from the engine and drags over the window.

use ferry::sync::{Overview, SyncState};
use serde::Serialize;
use ts_rs::TS;

/// The status as the UI and tray draw it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StatusView {
    /// The worst folder's state.
    pub overall: SyncState,
    /// The tray's one-line summary.
    pub summary: String,
    /// Every folder, with its paused flag and the rest.
    #[serde(flatten)]
    pub overview: Overview,
}

impl From<Overview> for StatusView {
    fn from(overview: Overview) -> Self {
        Self {
            overall: overview.overall(),
            summary: overview.tooltip(),
            overview,
        }
    }
}

/// One message to the UI.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UiEvent {
    /// The engine's status changed.
    Status(StatusView),
    /// Something is being dragged over the window.
    DragEnter {
        /// How many items are being dragged (0 when not known yet).
        items: usize,
    },
    /// The drag left the window without a drop.
    DragLeave,
    /// Items were dropped on the window.
    Dropped {
        /// The dropped paths, as the file manager gave them.
        paths: Vec<String>,
    },
}
