// Typed calls into the shell. The UI calls only Ferry's own commands.

import { Channel, invoke } from "@tauri-apps/api/core";
import { open } from "@tauri-apps/plugin-dialog";
import type { AppOverview, FolderCheck, UiEvent } from "./types";

export const overview = () => invoke<AppOverview>("overview");
export const checkFolder = (path: string) => invoke<FolderCheck>("check_folder", { path });
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

/** The system folder picker; null when the user cancels. */
export async function pickFolder(): Promise<string | null> {
  const picked = await open({ directory: true, multiple: false, title: "Choose the folder to keep in sync" });
  return typeof picked === "string" ? picked : null;
}
