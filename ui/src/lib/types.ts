// The types of what the shell sends and takes. They are generated from the
// Rust code into ./bindings.ts (`make types`; `make check-types` fails when
// that file is stale), so nothing here is written by hand: this file only
// gives a few of them the names the UI has always used.

export type {
  AccountView,
  Activity,
  AddedFolder,
  AppInfo,
  AppOverview,
  AuthKind,
  CommitMessageStyle,
  Commands,
  Connected,
  FolderCheck,
  FolderChoice,
  FolderStatus,
  Namespace,
  Note,
  NoteKind,
  Outcome,
  PendingDeletion,
  Preferences,
  Project,
  ProjectPage,
  Reason,
  SetUp,
  SettingsProblem,
  SignInLinks,
  StatusView,
  SyncState,
  UiError,
  UiEvent,
} from "./bindings";

/** The server or account check (`ferry instance check`). */
export type { Report as CheckReport, Step as CheckStep } from "./bindings";

/** Clone progress, streamed while a folder is set up. */
export type { Progress as CloneProgress } from "./bindings";
