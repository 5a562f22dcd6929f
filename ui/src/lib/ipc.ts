// Typed calls into the shell. The UI calls only Ferry's own commands.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AccountView,
  AddedFolder,
  AppInfo,
  AppOverview,
  CheckReport,
  CloneProgress,
  Connected,
  FolderCheck,
  Preferences,
  Project,
  ProjectPage,
  SignInLinks,
  UiEvent,
} from "./types";

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

// The connect wizard.
export const checkServer = (address: string, caFile: string | null) =>
  invoke<CheckReport>("check_server", { address, caFile });
export const signInLinks = (baseUrl: string) => invoke<SignInLinks>("sign_in_links", { baseUrl });
export const chooseCaFile = () => invoke<string | null>("choose_ca_file");
export const connectWithToken = (address: string, token: string, caFile: string | null) =>
  invoke<Connected>("connect_with_token", { address, token, caFile });
export const connectWithOauth = (address: string, clientId: string, clientSecret: string | null, caFile: string | null) =>
  invoke<Connected>("connect_with_oauth", { address, clientId, clientSecret, caFile });
export const cancelSignIn = () => invoke<void>("cancel_sign_in");
export const reconnectWithToken = (instance: string, token: string) =>
  invoke<Connected>("reconnect_with_token", { instance, token });
export const reconnectWithOauth = (instance: string, clientId: string, clientSecret: string | null) =>
  invoke<Connected>("reconnect_with_oauth", { instance, clientId, clientSecret });
export const listProjects = (instance: string, search: string | null, page: number) =>
  invoke<ProjectPage>("list_projects", { instance, search, page });
export const createProject = (instance: string, name: string) => invoke<Project>("create_project", { instance, name });

/** Sets up a folder, streaming clone progress to `onProgress`. */
export function addFolder(
  instance: string,
  project: string,
  path: string,
  existing: "backup" | "upload" | null,
  onProgress: (p: CloneProgress) => void,
): Promise<AddedFolder> {
  const channel = new Channel<CloneProgress>();
  channel.onmessage = onProgress;
  return invoke<AddedFolder>("add_folder", { instance, project, path, existing, onProgress: channel });
}

// Folders and accounts.
export const folderSyncNow = (id: string) => invoke<void>("folder_sync_now", { id });
export const folderSetPaused = (id: string, paused: boolean) => invoke<void>("folder_set_paused", { id, paused });
export const folderAllowDeletion = (id: string) => invoke<void>("folder_allow_deletion", { id });
export const openFolder = (id: string) => invoke<void>("open_folder", { id });
export const openFile = (id: string, path: string) => invoke<void>("open_file", { id, path });
export const openInGitlab = (id: string) => invoke<void>("open_in_gitlab", { id });
export const openUrl = (url: string) => invoke<void>("open_url", { url });
export const removeFolder = (id: string) => invoke<void>("remove_folder", { id });
export const listAccounts = () => invoke<AccountView[]>("list_accounts");
export const testAccount = (id: string) => invoke<CheckReport>("test_account", { id });
export const removeAccount = (id: string) => invoke<void>("remove_account", { id });

/** The message of an error a command returned (a UiError or anything else). */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** The code of an error a command returned, or "internal". */
export function errorCode(e: unknown): string {
  if (e && typeof e === "object" && "code" in e) return String((e as { code: unknown }).code);
  return "internal";
}

// Settings.
export const getPreferences = () => invoke<Preferences>("get_preferences");
export const setPreferences = (preferences: Preferences) => invoke<Preferences>("set_preferences", { preferences });
export const appInfo = () => invoke<AppInfo>("app_info");
export const openLogs = () => invoke<void>("open_logs");
