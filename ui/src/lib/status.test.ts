import { describe, expect, it } from "vitest";
import { pendingText, stateLabel, timeAgo } from "./status";

describe("stateLabel", () => {
  it("uses the tray's words", () => {
    expect(stateLabel("synced")).toBe("Synced");
    expect(stateLabel("error")).toBe("Needs attention");
  });
});

describe("timeAgo", () => {
  const now = new Date("2026-11-22T12:00:00Z");
  it("reads like a person would say it", () => {
    expect(timeAgo("2026-11-22T11:59:50Z", now)).toBe("just now");
    expect(timeAgo("2026-11-22T11:58:00Z", now)).toBe("2 minutes ago");
    expect(timeAgo("2026-11-22T11:00:00Z", now)).toBe("an hour ago");
    expect(timeAgo("2026-11-21T11:00:00Z", now)).toBe("yesterday");
    expect(timeAgo("2026-11-12T12:00:00Z", now)).toBe("10 days ago");
  });
  it("says never for a folder that never synced", () => {
    expect(timeAgo(null, now)).toBe("never");
    expect(timeAgo("not a date", now)).toBe("never");
  });
});

describe("pendingText", () => {
  it("counts waiting changes", () => {
    expect(pendingText(0)).toBe("");
    expect(pendingText(1)).toBe("1 change waiting to be sent");
    expect(pendingText(4)).toBe("4 changes waiting to be sent");
  });
});
