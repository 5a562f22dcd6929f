import { describe, expect, it } from "vitest";
import { accountState, problemHeading, conflictOriginal, formatBytes, isConflictCopy, progressView, setUpText } from "./wizard";

describe("formatBytes", () => {
  it("reads like a file manager", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(2048)).toBe("2.0 KB");
    expect(formatBytes(1.5 * 1024 * 1024)).toBe("1.5 MB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
  });
});

describe("progressView", () => {
  it("waits before anything is known", () => {
    expect(progressView(null, 0)).toEqual({ value: 0, max: 0, text: "Connecting to GitLab…" });
  });
  it("shows objects, bytes and rate while downloading", () => {
    const v = progressView({ received_objects: 50, total_objects: 200, received_bytes: 2 * 1024 * 1024, checked_out: 0, total_files: 0 }, 2000);
    expect(v.value).toBe(50);
    expect(v.max).toBe(200);
    expect(v.text).toBe("Downloading: 50 of 200 objects · 2.0 MB · 1.0 MB/s");
  });
  it("then counts files written", () => {
    const v = progressView({ received_objects: 200, total_objects: 200, received_bytes: 1000, checked_out: 30, total_files: 90 }, 2000);
    expect(v).toEqual({ value: 30, max: 90, text: "Writing files: 30 of 90" });
  });
});

describe("conflict copies", () => {
  const copy = "docs/about (conflict 2026-11-22 1405 laptop).md";
  it("are recognised and traced to their original", () => {
    expect(isConflictCopy(copy)).toBe(true);
    expect(isConflictCopy("docs/about.md")).toBe(false);
    expect(isConflictCopy("notes (draft).md")).toBe(false);
    expect(conflictOriginal(copy)).toBe("docs/about.md");
    expect(conflictOriginal("logo (conflict 2026-11-22 1405 pc)")).toBe("logo");
  });
});

describe("setUpText", () => {
  it("names the backup folder", () => {
    expect(setUpText({ how: "backed_up", backup: "/home/e/Site (backup before Ferry 2026-11-22 1400)" })).toContain(
      "/home/e/Site (backup before Ferry 2026-11-22 1400)",
    );
    expect(setUpText({ how: "uploading", files: 3 })).toContain("3 items");
  });
});

describe("problemHeading", () => {
  it("says what failed in plain words", () => {
    expect(problemHeading("tls")).toBe("The connection can't be trusted");
    expect(problemHeading("connect")).toBe("The server can't be reached");
    expect(problemHeading("something-new")).toBe("Something needs fixing");
  });
});

describe("accountState", () => {
  const step = (id: string, outcome: "pass" | "warn" | "fail", detail = "") => ({ id, title: id, outcome, millis: 1, detail });
  it("reads a connection check as the account's state", () => {
    expect(accountState("checking").kind).toBe("checking");
    expect(accountState({ address: "", base_url: null, ok: true, steps: [step("sign_in", "pass")] })).toEqual({ kind: "ok", text: "Connected" });
    expect(accountState({ address: "", base_url: null, ok: true, steps: [step("scopes", "warn", "Your token expires in 3 days.")] })).toEqual({
      kind: "expiring",
      text: "Your token expires in 3 days.",
    });
    expect(accountState({ address: "", base_url: null, ok: false, steps: [step("sign_in", "fail", "The token was revoked.")] }).kind).toBe("sign-in");
    expect(accountState({ address: "", base_url: null, ok: false, steps: [step("connect", "fail", "No answer.")] }).kind).toBe("unreachable");
  });
});
