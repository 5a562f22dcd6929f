// The drop zone's look while something is dragged over it and after a drop.

import type { FolderCheck } from "./types";

export type ZoneTone = "idle" | "ready" | "refuse" | "checking";

export interface ZoneView {
  tone: ZoneTone;
  /** What the zone says right now. */
  text: string;
}

export const IDLE: ZoneView = { tone: "idle", text: "Drop a folder here" };

/** While dragging: one item may be a folder; several never are. */
export function onDragEnter(items: number): ZoneView {
  if (items > 1) return { tone: "refuse", text: `Drop just one folder (you are dragging ${items} items)` };
  return { tone: "ready", text: "Release to choose this folder" };
}

/** While the system folder picker is open. */
export const PICKING: ZoneView = { tone: "checking", text: "Choose a folder in the window that opened…" };

/** After a drop, while the engine checks it. */
export const CHECKING: ZoneView = { tone: "checking", text: "Checking the folder…" };

/** The sentence shown under an accepted folder about what happens to its files. */
export function existingFilesNote(check: FolderCheck): string {
  if (check.outcome !== "accepted") return "";
  const { existing_entries: n, is_git_repository: git } = check.folder;
  if (git) return "This folder is already a git repository. Ferry will check it belongs to the repository you pick before using it.";
  if (n === 0) return "The folder is empty: the repository's files will be placed here.";
  const items = n === 1 ? "1 item" : `${n} items`;
  return `The folder has ${items}. Nothing is lost: before syncing, Ferry moves them to a backup folder and tells you where, or uploads them into a new, empty repository.`;
}

/** The last part of a path, for headings. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}
