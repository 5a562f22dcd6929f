// Types of what the shell sends; they mirror the Rust structs in
// src-tauri/src/{commands,events}.rs and src/sync/.

export type SyncState = "synced" | "syncing" | "paused" | "offline" | "conflict" | "error";

export interface FolderStatus {
  id: string;
  name: string;
  path: string;
  state: SyncState;
  message: string;
  last_synced: string | null;
  pending: number;
}

export interface StatusView {
  overall: SyncState;
  summary: string;
  folders: FolderStatus[];
  paused: boolean;
}

export interface SettingsProblem {
  message: string;
  copy: string | null;
}

export interface AppOverview {
  first_run: boolean;
  settings_problem: SettingsProblem | null;
  status: StatusView;
}

export interface FolderChoice {
  path: string;
  existing_entries: number;
  is_git_repository: boolean;
}

export type FolderCheck =
  | { outcome: "accepted"; folder: FolderChoice }
  | { outcome: "rejected"; reason: string; message: string };

export type UiEvent =
  | ({ type: "status" } & StatusView)
  | { type: "drag_enter"; items: number }
  | { type: "drag_leave" }
  | { type: "dropped"; paths: string[] };
