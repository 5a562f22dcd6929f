// Pure helpers for the connect wizard and the folder cards: progress text,
// sizes, and conflict copies. Tested in wizard.test.ts.

import type { CheckReport, CloneProgress, SetUp } from "./types";

/** "512 bytes", "2.0 KB", "1.4 MB", "3.25 GB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export interface ProgressView {
  /** The bar's value and maximum; max 0 means "not known yet". */
  value: number;
  max: number;
  /** One line under the bar. */
  text: string;
}

/** What the clone's progress bar shows: objects, bytes and rate, then files. */
export function progressView(p: CloneProgress | null, elapsedMs: number): ProgressView {
  if (!p || (p.total_objects === 0 && p.total_files === 0)) {
    return { value: 0, max: 0, text: "Connecting to GitLab…" };
  }
  if (p.total_files > 0 && p.received_objects >= p.total_objects) {
    return {
      value: p.checked_out,
      max: p.total_files,
      text: `Writing files: ${p.checked_out} of ${p.total_files}`,
    };
  }
  const seconds = Math.max(elapsedMs / 1000, 0.001);
  const rate = p.received_bytes / seconds;
  return {
    value: p.received_objects,
    max: p.total_objects,
    text: `Downloading: ${p.received_objects} of ${p.total_objects} objects · ${formatBytes(p.received_bytes)} · ${formatBytes(Math.round(rate))}/s`,
  };
}

/** The sentence for how a new folder was set up. */
export function setUpText(s: SetUp): string {
  switch (s.how) {
    case "cloned":
      return "The repository's files are in your folder.";
    case "adopted":
      return "The folder already held this repository; Ferry uses it as it is.";
    case "backed_up":
      return `The files that were in the folder were moved to ${s.backup}. Nothing was deleted.`;
    case "uploading":
      return s.files === 1
        ? "The item in your folder is being uploaded to the repository."
        : `The ${s.files} items in your folder are being uploaded to the repository.`;
  }
}

const CONFLICT = / \(conflict \d{4}-\d{2}-\d{2} \d{4}[^)]*\)/;

/** True for a conflict copy's name: `NAME (conflict YYYY-MM-DD HHMM HOST).EXT`. */
export function isConflictCopy(path: string): boolean {
  return CONFLICT.test(path);
}

/** The file a conflict copy was made beside. */
export function conflictOriginal(path: string): string {
  return path.replace(CONFLICT, "");
}

/** "index.md" from "docs/index.md". */
export function fileName(path: string): string {
  const parts = path.split("/");
  return parts[parts.length - 1] || path;
}

const PROBLEMS: Record<string, string> = {
  address: "That doesn't look like a web address",
  dns: "The server's name can't be found",
  connect: "The server can't be reached",
  tls: "The connection can't be trusted",
  gitlab: "This doesn't look like a GitLab",
  sign_in: "The sign-in didn't work",
  scopes: "The token is missing permissions",
  git: "Saving files over git doesn't work",
};

/** The heading above a failed server check step. */
export function problemHeading(stepId: string): string {
  return PROBLEMS[stepId] ?? "Something needs fixing";
}


export type AccountState = { kind: "checking" | "ok" | "expiring" | "sign-in" | "unreachable"; text: string };

/** An account's state in words, from its connection check. */
export function accountState(r: CheckReport | "checking" | undefined): AccountState {
  if (!r || r === "checking") return { kind: "checking", text: "Checking the connection…" };
  const failed = r.steps.find((s) => s.outcome === "fail");
  if (failed && (failed.id === "sign_in" || failed.id === "scopes")) {
    return { kind: "sign-in", text: `Sign in again: ${failed.detail}` };
  }
  if (failed) return { kind: "unreachable", text: `${failed.title}: ${failed.detail}` };
  const warned = r.steps.find((s) => s.outcome === "warn" && s.id === "scopes");
  if (warned) return { kind: "expiring", text: warned.detail };
  return { kind: "ok", text: "Connected" };
}
