// The contract between Ferry's shell and its UI: every type a command takes
// or returns, and every command. Generated from the Rust code by `make types`
// (src-tauri/src/contract.rs); `make check-types` fails when it differs.
// Do not edit by hand.

import type { Channel } from "@tauri-apps/api/core";

/**
 * An account as the Accounts screen (and `ferry instance list --json`)
 * shows it.
 */
export type AccountView = {
  /**
   * Its id.
   */
  id: string,
  /**
   * Its name.
   */
  name: string,
  /**
   * The GitLab's address.
   */
  url: string,
  /**
   * Who is signed in.
   */
  username: string | null,
  /**
   * `token` or `oauth`.
   */
  auth: AuthKind,
  /**
   * The OAuth application's ID, for signing in again.
   */
  oauth_client_id: string | null,
  /**
   * Where to create a new token for it.
   */
  token_url: string,
  /**
   * How many folders use it.
   */
  folders: number, };

/**
 * One file sent or received.
 */
export type Activity = {
  /**
   * When.
   */
  at: string,
  /**
   * True for a change from GitLab, false for one sent.
   */
  incoming: boolean,
  /**
   * The file.
   */
  path: string,
  /**
   * The commit (id) that carried it.
   */
  commit: string | null,
  /**
   * That commit's page on GitLab, once GitLab has it.
   */
  url: string | null, };

/**
 * A folder the wizard just set up.
 */
export type AddedFolder = {
  /**
   * Its id.
   */
  id: string,
  /**
   * Where it is.
   */
  path: string,
  /**
   * How it was set up (cloned, adopted, backed up, uploading).
   */
  set_up: SetUp,
  /**
   * The project's page on GitLab.
   */
  web_url: string, };

/**
 * What the About screen shows.
 */
export type AppInfo = {
  /**
   * Ferry's version.
   */
  version: string,
  /**
   * Where the log files are.
   */
  logs: string,
  /**
   * Where the settings are.
   */
  settings: string,
  /**
   * A build run from a checkout: it never starts at login.
   */
  development_build: boolean,
  /**
   * A login item starts Ferry now.
   */
  starts_at_login: boolean, };

/**
 * What the window needs to draw its first screen.
 */
export type AppOverview = {
  /**
   * Nothing is configured yet: show the welcome.
   */
  first_run: boolean,
  /**
   * The settings file could not be used.
   */
  settings_problem: SettingsProblem | null,
  /**
   * Every folder's status.
   */
  status: StatusView, };

/**
 * How an account signs in to GitLab.
 */
export type AuthKind = "token" | "oauth";

/**
 * How Ferry words the commits it makes.
 */
export type CommitMessageStyle = "descriptive" | "simple";

/**
 * A connected account, as the wizard shows it.
 */
export type Connected = {
  /**
   * The account's id (for the next steps).
   */
  instance: string,
  /**
   * Its name.
   */
  name: string,
  /**
   * Who signed in.
   */
  username: string,
  /**
   * The GitLab's address.
   */
  url: string,
  /**
   * Things to know (a token expiring soon).
   */
  warnings: Array<string>, };

/**
 * What to do with files already in the chosen folder.
 */
export type ExistingFiles = "backup" | "upload";

/**
 * The answer to "can this be a synced folder?", as the UI and `--json` see it.
 */
export type FolderCheck = { "outcome": "accepted",
  /**
   * The folder and what is in it.
   */
  folder: FolderChoice, } | { "outcome": "rejected",
  /**
   * A stable code ([`FolderRejection::code`]).
   */
  reason: string,
  /**
   * What is wrong and what to do, for a content editor.
   */
  message: string, };

/**
 * A directory that passed every check.
 */
export type FolderChoice = {
  /**
   * The folder, with symbolic links resolved.
   */
  path: string,
  /**
   * Entries directly inside it (0 for an empty folder).
   */
  existing_entries: number,
  /**
   * It already contains a `.git` directory.
   */
  is_git_repository: boolean, };

/**
 * The status of one synced folder.
 */
export type FolderStatus = {
  /**
   * The folder's [`crate::config::Folder::id`].
   */
  id: string,
  /**
   * The folder's name as shown to the user (its last path component).
   */
  name: string,
  /**
   * Where it is on disk.
   */
  path: string,
  /**
   * Its state.
   */
  state: SyncState,
  /**
   * One sentence for a content editor: what is happening or what to do.
   */
  message: string,
  /**
   * Why it is in this state (none: nothing to explain).
   */
  reason: Reason | null,
  /**
   * When it was last fully in sync.
   */
  last_synced: string | null,
  /**
   * Local commits not yet on GitLab.
   */
  pending: number,
  /**
   * Recent files in and out, newest first.
   */
  recent: Array<Activity>,
  /**
   * Conflict copies still in the folder (paths inside it): the folder
   * shows `conflict` until the user has dealt with them.
   */
  conflicts: Array<string>,
  /**
   * What the user should know about particular paths: files from GitLab
   * the folder couldn't take, submodules, nested repositories left out.
   */
  notes: Array<Note>,
  /**
   * A large deletion waiting for the user's confirmation.
   */
  pending_deletion: PendingDeletion | null, };

/**
 * The namespace a project lives in.
 */
export type Namespace = {
  /**
   * Numeric id (for creating projects in it).
   */
  id: number,
  /**
   * Display name.
   */
  name: string,
  /**
   * Path segment.
   */
  path: string,
  /**
   * `user` or `group`.
   */
  kind: string,
  /**
   * Full path (`group/subgroup`).
   */
  full_path: string, };

/**
 * Something the user should know about one path.
 */
export type Note = {
  /**
   * The path inside the folder, as in the tree.
   */
  path: string,
  /**
   * What it is about.
   */
  kind: NoteKind,
  /**
   * One sentence for a content editor.
   */
  message: string, };

/**
 * The kinds of [`Note`].
 */
export type NoteKind = "unsafe_name" | "not_holdable" | "occupied" | "case_collision" | "submodule" | "nested_repository" | "unreadable";

/**
 * How a step went.
 */
export type Outcome = "pass" | "warn" | "fail" | "skipped";

/**
 * A large deletion waiting for the user's approval.
 */
export type PendingDeletion = {
  /**
   * Files it deletes.
   */
  deleted: number,
  /**
   * Files tracked before it.
   */
  tracked: number,
  /**
   * True when it comes from GitLab, false when made in the folder.
   */
  incoming: boolean,
  /**
   * Names exactly this set of deletions.
   */
  fingerprint: string, };

/**
 * User preferences, with the defaults a new user gets.
 */
export type Preferences = {
  /**
   * Start Ferry when the user logs in; `None` until the user chooses
   * (the wizard's last step offers it; see [`crate::app::login_item`]).
   */
  start_at_login: boolean | null,
  /**
   * Show desktop notifications for things that need the user.
   */
  notifications: boolean,
  /**
   * Seconds between checks for others' changes while idle.
   */
  poll_interval_secs: number,
  /**
   * Milliseconds a file must stay unchanged before it is committed.
   */
  quiet_period_ms: number,
  /**
   * How commit messages are written.
   */
  commit_messages: CommitMessageStyle,
  /**
   * The user chose to keep sign-ins in a plain file because no keyring is
   * available (never the default; see [`crate::secrets::PlainFileStore`]).
   */
  sign_ins_in_plain_file: boolean, };

/**
 * Clone progress, for a progress bar.
 */
export type Progress = {
  /**
   * Objects received so far.
   */
  received_objects: number,
  /**
   * Objects in all.
   */
  total_objects: number,
  /**
   * Bytes received so far.
   */
  received_bytes: number,
  /**
   * Files written to the folder (after the download).
   */
  checked_out: number,
  /**
   * Files to write in all.
   */
  total_files: number, };

/**
 * A project, as the repository list shows it.
 */
export type Project = {
  /**
   * Numeric id.
   */
  id: number,
  /**
   * Display name.
   */
  name: string,
  /**
   * `namespace/path`.
   */
  path_with_namespace: string,
  /**
   * `Namespace / Name`.
   */
  name_with_namespace: string,
  /**
   * `None` while the repository has no commits.
   */
  default_branch: string | null,
  /**
   * The git URL (credentials never go in it).
   */
  http_url_to_repo: string,
  /**
   * The project's page.
   */
  web_url: string,
  /**
   * Last push or change.
   */
  last_activity_at: string | null,
  /**
   * `private`, `internal` or `public`.
   */
  visibility: string | null,
  /**
   * Where it lives.
   */
  namespace: Namespace,
  /**
   * No commits yet.
   */
  empty_repo: boolean | null,
  /**
   * Read-only.
   */
  archived: boolean | null, };

/**
 * One page of the projects an account can push to.
 */
export type ProjectPage = {
  /**
   * The projects on this page, most recently active first.
   */
  projects: Array<Project>,
  /**
   * The next page, if there is one.
   */
  next_page: number | null, };

/**
 * Why a folder is in its state, for front ends to branch on (never on
 * the message's words).
 */
export type Reason = "user_paused" | "waiting_for_files" | "conflict" | "files_not_synced" | "folder_missing" | "not_set_up" | "mass_delete" | "incoming_mass_delete" | "other_process" | "sign_in" | "offline" | "disk_full" | "waiting_for_git" | "problem";

/**
 * The whole check.
 */
export type Report = {
  /**
   * What was checked.
   */
  address: string,
  /**
   * The GitLab base URL, once found.
   */
  base_url: string | null,
  /**
   * Every step, in order.
   */
  steps: Array<Step>,
  /**
   * True when no step failed.
   */
  ok: boolean, };

/**
 * How the folder was set up.
 */
export type SetUp = { "how": "cloned" } | { "how": "adopted" } | { "how": "backed_up",
  /**
   * The backup folder.
   */
  backup: string, } | { "how": "uploading",
  /**
   * How many entries were there.
   */
  files: number, };

/**
 * The settings file could not be used; the UI explains and offers a fresh start.
 */
export type SettingsProblem = {
  /**
   * What is wrong and what to do.
   */
  message: string,
  /**
   * Where the unreadable file was copied, if it was.
   */
  copy: string | null, };

/**
 * Where to sign in on a GitLab: the token page (name and scopes filled
 * in) and the page where users register an OAuth application.
 */
export type SignInLinks = {
  /**
   * The GitLab's base URL.
   */
  base_url: string,
  /**
   * The token creation page, name and scopes filled in.
   */
  token: string,
  /**
   * The same page on GitLab before 16.
   */
  token_before_16: string,
  /**
   * The scopes a token needs.
   */
  token_scopes: Array<string>,
  /**
   * The page where users register applications.
   */
  applications: string,
  /**
   * The redirect URI to register.
   */
  redirect_uri: string,
  /**
   * The scopes to tick for the application.
   */
  oauth_scopes: Array<string>, };

/**
 * The status as the UI and tray draw it.
 */
export type StatusView = {
  /**
   * The worst folder's state.
   */
  overall: SyncState,
  /**
   * The tray's one-line summary.
   */
  summary: string,
  /**
   * Each configured folder.
   */
  folders: Array<FolderStatus>,
  /**
   * The user has paused all syncing.
   */
  paused: boolean, };

/**
 * One step of the check.
 */
export type Step = {
  /**
   * Stable id (`dns`, `tls`, ...).
   */
  id: string,
  /**
   * What was checked, for people.
   */
  title: string,
  /**
   * How it went.
   */
  outcome: Outcome,
  /**
   * Milliseconds it took.
   */
  millis: number,
  /**
   * What was found, or what went wrong and what to do.
   */
  detail: string, };

/**
 * The state of one folder, ordered from best to worst.
 */
export type SyncState = "synced" | "syncing" | "paused" | "offline" | "conflict" | "error";

/**
 * An error the UI shows: a stable code and a sentence for a content editor.
 */
export type UiError = {
  /**
   * Stable code (`missing_scopes`, `untrusted_certificate`, ...).
   */
  code: string,
  /**
   * What went wrong and what to do.
   */
  message: string, };

/**
 * One message to the UI.
 */
export type UiEvent = { "type": "status" } & StatusView | { "type": "drag_enter",
  /**
   * How many items are being dragged (0 when not known yet).
   */
  items: number, } | { "type": "drag_leave" } | { "type": "dropped",
  /**
   * The dropped paths, as the file manager gave them.
   */
  paths: Array<string>, };

/**
 * Every command the UI may call (src-tauri/src/command_list.rs): the
 * arguments `invoke` takes and what it resolves to. A command fails with a
 * `UiError` or a string.
 */
export type Commands = {
  /** The first screen's data (`ferry status`). */
  overview: { args: Record<string, never>; result: AppOverview };
  /**
   * Opens the system folder picker (starting in the home folder) and checks
   * the chosen folder; `None` when the user cancels (`ferry folder check DIR`).
   */
  choose_folder: { args: Record<string, never>; result: FolderCheck | null };
  /** Can what was dropped on the window become a synced folder? */
  check_dropped: { args: { paths: Array<string> }; result: FolderCheck };
  /** Keep a copy of the settings and start fresh (`ferry settings reset`). */
  reset_settings: { args: Record<string, never>; result: AppOverview };
  /** Streams status changes and drags to the UI until the window goes away. */
  watch_events: { args: { onEvent: Channel<UiEvent> }; result: void };
  /** Pause all syncing, for `minutes` or until resumed. */
  pause_syncing: { args: { minutes?: number | null }; result: void };
  /** Resume syncing. */
  resume_syncing: { args: Record<string, never>; result: void };
  /** Run a sync cycle for every folder now. */
  sync_now: { args: Record<string, never>; result: void };
  /** Checks a server address step by step (`ferry instance check URL`). */
  check_server: { args: { address: string; caFile?: string | null }; result: Report };
  /**
   * The sign-in links for a GitLab at `base_url` (as the check found it;
   * `ferry instance links`).
   */
  sign_in_links: { args: { baseUrl: string }; result: SignInLinks };
  /** A file picker for the CA certificate an administrator handed out. */
  choose_ca_file: { args: Record<string, never>; result: string | null };
  /** Signs in with a personal access token (`ferry instance add URL --token-stdin`). */
  connect_with_token: { args: { address: string; token: string; caFile?: string | null }; result: Connected };
  /**
   * Signs in through the browser with the user's OAuth application
   * (`ferry instance add URL --oauth --client-id ID`). Waits for the browser;
   * [`cancel_sign_in`] stops waiting.
   */
  connect_with_oauth: { args: { address: string; clientId: string; clientSecret?: string | null; caFile?: string | null }; result: Connected };
  /** Stops waiting for a browser sign-in. */
  cancel_sign_in: { args: Record<string, never>; result: void };
  /**
   * Signs an account in again with a new token (`ferry instance reconnect`);
   * its folders retry at once.
   */
  reconnect_with_token: { args: { instance: string; token: string }; result: Connected };
  /** Signs an account in again through the browser; its folders retry at once. */
  reconnect_with_oauth: { args: { instance: string; clientId: string; clientSecret?: string | null }; result: Connected };
  /**
   * Repositories the account can push to, most recently active first
   * (`ferry repos NAME [--search TEXT]`).
   */
  list_projects: { args: { instance: string; search?: string | null; page: number }; result: ProjectPage };
  /**
   * Creates a private repository in the user's own namespace
   * (`ferry repos NAME --create TITLE`).
   */
  create_project: { args: { instance: string; name: string }; result: Project };
  /**
   * Clones `project` into `path` (or adopts, backs up, uploads), streaming
   * progress, then starts syncing it (`ferry folder add`).
   */
  add_folder: { args: { instance: string; project: string; path: string; existing?: ExistingFiles | null; onProgress: Channel<Progress> }; result: AddedFolder };
  /** Runs one folder's sync cycle now. */
  folder_sync_now: { args: { id: string }; result: void };
  /** Pauses (`paused = true`) or resumes one folder; remembered across restarts. */
  folder_set_paused: { args: { id: string; paused: boolean }; result: void };
  /** Confirms the large deletion a folder paused on (exactly that set of files). */
  folder_allow_deletion: { args: { id: string }; result: void };
  /** Opens the folder in the file manager. */
  open_folder: { args: { id: string }; result: void };
  /** Opens a file inside a synced folder (a conflict copy and its original). */
  open_file: { args: { id: string; path: string }; result: void };
  /** The project's page on GitLab for a folder. */
  open_in_gitlab: { args: { id: string }; result: void };
  /** Opens a web page (GitLab's token page, a commit) in the browser. */
  open_url: { args: { url: string }; result: void };
  /** Stops syncing a folder. Its files stay where they are, untouched. */
  remove_folder: { args: { id: string }; result: void };
  /** Every connected account (`ferry instance list`). */
  list_accounts: { args: Record<string, never>; result: Array<AccountView> };
  /**
   * Checks an account end to end: server, sign-in, scopes, expiry, git
   * (`ferry instance check NAME`).
   */
  test_account: { args: { id: string }; result: Report };
  /** Removes an account and its saved sign-in (refused while folders use it). */
  remove_account: { args: { id: string }; result: void };
  /** The user's preferences as saved. */
  get_preferences: { args: Record<string, never>; result: Preferences };
  /**
   * Saves preferences and hands them to the running folders' loops (not
   * starting at login: see [`set_start_at_login`]).
   */
  set_preferences: { args: { preferences: Preferences }; result: Preferences };
  /**
   * Turns starting at login on or off (the Settings toggle, the wizard's
   * offer): remembered, and the login item registered or removed at once —
   * never for a development build. Says whether Ferry now starts at login.
   */
  set_start_at_login: { args: { enabled: boolean }; result: boolean };
  /** Version and where Ferry keeps its files. */
  app_info: { args: Record<string, never>; result: AppInfo };
  /** Opens the folder of log files (to attach one to a support request). */
  open_logs: { args: Record<string, never>; result: void };
};
