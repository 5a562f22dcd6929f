// Typed calls into the shell. The UI calls only Ferry's own commands.

import { Channel, invoke } from "@tauri-apps/api/core";
import type { AppOverview, FolderCheck, UiEvent } from "./types";

export const overview = () => invoke<AppOverview>("overview");
export const checkDropped = (paths: string[]) => invoke<FolderCheck>("check_dropped", { paths });
export const resetSettings = () => invoke<AppOverview>("reset_settings");
export const pauseSyncing = () => invoke<void>("pause_syncing");
export const resumeSyncing = () => invoke<void>("resume_syncing");
export const syncNow = () => invoke<void>("sync_now");

/** Streams status changes and drags over the window to `handler`. */
export function watchEvents(handler: (event: UiEvent) => void): Promise<void> {
  const channel = new Channel<UiEvent>();
  channel.onmessage = handler;
  return invoke<void>("watch_events", { onEvent: channel });
}

/** The system folder picker, then the folder checks; null when the user cancels. */
export const chooseFolder = () => invoke<FolderCheck | null>("choose_folder");
