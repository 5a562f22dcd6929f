// Types of what the shell sends; they mirror the Rust structs in
// src-tauri/src/{commands,events}.rs and src/sync/.

export type SyncState = "synced" | "syncing" | "paused" | "offline" | "conflict" | "error";

export interface Activity {
  at: string;
  incoming: boolean;
  path: string;
  commit: string | null;
  url: string | null;
}

export interface FolderStatus {
  id: string;
  name: string;
  path: string;
  state: SyncState;
  message: string;
  /** Why the folder is in its state: branch on this, never on the message. */
  reason?: Reason | null;
  last_synced: string | null;
  pending: number;
  recent: Activity[];
  conflicts: string[];
  notes?: Note[];
  pending_deletion?: PendingDeletion | null;
}

/** Why a folder is in its state (mirrors ferry::sync::Reason). */
export type Reason =
  | "user_paused"
  | "waiting_for_files"
  | "conflict"
  | "files_not_synced"
  | "folder_missing"
  | "not_set_up"
  | "mass_delete"
  | "incoming_mass_delete"
  | "other_process"
  | "sign_in"
  | "offline"
  | "problem";

/** Something the user should know about one path of a folder. */
export interface Note {
  path: string;
  kind:
    | "unsafe_name"
    | "not_holdable"
    | "occupied"
    | "case_collision"
    | "submodule"
    | "nested_repository"
    | "unreadable";
  message: string;
}

/** A large deletion a folder paused on, waiting for the user. */
export interface PendingDeletion {
  deleted: number;
  tracked: number;
  incoming: boolean;
  fingerprint: string;
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

/** An error a command returned: a stable code and a sentence for people. */
export interface UiError {
  code: string;
  message: string;
}

export type Outcome = "pass" | "warn" | "fail" | "skipped";

export interface CheckStep {
  id: string;
  title: string;
  outcome: Outcome;
  millis: number;
  detail: string;
}

/** The server check (`ferry instance check`). */
export interface CheckReport {
  address: string;
  base_url: string | null;
  steps: CheckStep[];
  ok: boolean;
}

export interface SignInLinks {
  token: string;
  token_before_16: string;
  token_scopes: string[];
  applications: string;
  redirect_uri: string;
  oauth_scopes: string[];
}

export interface Connected {
  instance: string;
  name: string;
  username: string;
  url: string;
  warnings: string[];
}

export interface Project {
  id: number;
  name: string;
  path_with_namespace: string;
  name_with_namespace: string;
  default_branch: string | null;
  web_url: string;
  last_activity_at: string | null;
  namespace: { full_path: string; kind: string };
  empty_repo?: boolean | null;
}

export interface ProjectPage {
  projects: Project[];
  next_page: number | null;
}

/** Clone progress, streamed while a folder is set up. */
export interface CloneProgress {
  received_objects: number;
  total_objects: number;
  received_bytes: number;
  checked_out: number;
  total_files: number;
}

export type SetUp =
  | { how: "cloned" }
  | { how: "adopted" }
  | { how: "backed_up"; backup: string }
  | { how: "uploading"; files: number };

export interface AddedFolder {
  id: string;
  path: string;
  set_up: SetUp;
  web_url: string;
}

export interface AccountView {
  id: string;
  name: string;
  url: string;
  username: string | null;
  auth: "token" | "oauth";
  oauth_client_id: string | null;
  token_url: string;
  folders: number;
}

export interface Preferences {
  start_at_login: boolean;
  notifications: boolean;
  poll_interval_secs: number;
  quiet_period_ms: number;
  commit_messages: "descriptive" | "simple";
  sign_ins_in_plain_file: boolean;
}

export interface AppInfo {
  version: string;
  logs: string;
  settings: string;
}
