import { describe, expect, it } from "vitest";
import { baseName, existingFilesNote, onDragEnter } from "./drop";
import type { FolderCheck } from "./types";

const accepted = (n: number, git = false): FolderCheck => ({
  outcome: "accepted",
  folder: { path: "/home/e/Website", existing_entries: n, is_git_repository: git },
});

describe("onDragEnter", () => {
  it("highlights for one item", () => {
    expect(onDragEnter(1).tone).toBe("ready");
  });
  it("refuses several items before they are dropped", () => {
    const view = onDragEnter(3);
    expect(view.tone).toBe("refuse");
    expect(view.text).toContain("3 items");
  });
});

describe("existingFilesNote", () => {
  it("reassures about an empty folder", () => {
    expect(existingFilesNote(accepted(0))).toContain("empty");
  });
  it("says existing files are kept safe, never silently replaced", () => {
    const note = existingFilesNote(accepted(5));
    expect(note).toContain("5 items");
    expect(note).toContain("backup folder");
  });
  it("mentions an existing git repository", () => {
    expect(existingFilesNote(accepted(3, true))).toContain("git repository");
  });
  it("says nothing for a rejection", () => {
    expect(existingFilesNote({ outcome: "rejected", reason: "missing", message: "x" })).toBe("");
  });
});

describe("baseName", () => {
  it("takes the last part of a path", () => {
    expect(baseName("/home/e/Website/")).toBe("Website");
    expect(baseName("C:\\Users\\e\\Site")).toBe("Site");
  });
});
