// How a sync state reads and looks: the same words and colours as the tray.

import type { SyncState } from "./types";

const LABELS: Record<SyncState, string> = {
  synced: "Synced",
  syncing: "Syncing",
  paused: "Paused",
  offline: "Offline",
  conflict: "Conflict",
  error: "Needs attention",
};

/** The word for a state, as in the tray menu and `ferry status`. */
export function stateLabel(state: SyncState): string {
  return LABELS[state];
}

/** "just now", "2 minutes ago", "yesterday", ... for a past moment. */
export function timeAgo(iso: string | null, now: Date = new Date()): string {
  if (!iso) return "never";
  const then = new Date(iso);
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (Number.isNaN(seconds)) return "never";
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? "a minute ago" : `${minutes} minutes ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return hours === 1 ? "an hour ago" : `${hours} hours ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 30) return `${days} days ago`;
  return then.toLocaleDateString();
}

/** "1 change waiting", "3 changes waiting", or nothing. */
export function pendingText(pending: number): string {
  if (pending <= 0) return "";
  return pending === 1 ? "1 change waiting to be sent" : `${pending} changes waiting to be sent`;
}
