//! The module boundaries of ../shared/DESIGN.md ("Rules of the house"),
//! checked on the source text: each owner below is the only code that may
//! touch its dependency, and data flows one way (watch -> sync ->
//! git/gitlab -> app -> front ends). A break fails with its file:line and
//! the reason.
//!
//! Scanned: every `.rs` file under `src/`, `src-tauri/` and `tests/`
//! (not this file, which names every banned word).
//!
//! # Limitations
//!
//! Text, not a compiler: a path is seen where it is written out (`git2::`,
//! `use crate::sync`, grouped `use crate::{sync, ..}` imports are expanded),
//! not when it arrives through a re-export, an alias or a macro. Lines that
//! start with `//` and trailing `//` comments are skipped; `/* */` block
//! comments and raw strings are read as code.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

/// One boundary: code under `within` and not under `except` must not contain
/// any of `banned`.
struct Rule {
    banned: &'static [&'static str],
    within: &'static [&'static str],
    except: &'static [&'static str],
    why: &'static str,
    /// A file and a line that break the rule: proves the rule still bites.
    example: (&'static str, &'static str),
}

const ENGINE_AND_SHELL: &[&str] = &["src/", "src-tauri/"];

#[rustfmt::skip]
const RULES: &[Rule] = &[
    Rule {
        banned: &["git2::", "use git2", "extern crate git2", "libgit2_sys"],
        within: &["src/", "src-tauri/", "tests/"],
        except: &["src/git/"],
        why: "git/ is the only code that touches git2 (blocking, and one place to audit what reaches the folder)",
        example: ("src/sync/cycle.rs", "let repo = git2::Repository::open(dir)?;"),
    },
    Rule {
        banned: &["tauri", "AppHandle"],
        within: &["src/"],
        except: &[],
        why: "the engine builds and tests headless: it reports through closures and channels, never through Tauri",
        example: ("src/app/mod.rs", "pub fn start(app: tauri::AppHandle) {}"),
    },
    Rule {
        banned: &["crate::sync"],
        within: &["src/watch.rs"],
        except: &[],
        why: "the watcher reports through a callback: it never drives the folder loop (no watch <-> worker cycle)",
        example: ("src/watch.rs", "use crate::sync::worker::Message;"),
    },
    Rule {
        banned: &["crate::sync", "crate::watch"],
        within: &["src/git/", "src/gitlab/"],
        except: &[],
        why: "git/ and gitlab/ sit below the folder loop: they return results and never call up into it",
        example: ("src/git/snapshot.rs", "use crate::{config, sync::status::Reason};"),
    },
    Rule {
        banned: &["crate::app"],
        within: &["src/"],
        except: &["src/app/", "src/bin/"],
        why: "app is the top of the engine: front ends call it, nothing in the engine calls up into it",
        example: ("src/sync/worker.rs", "crate::app::App::notify(&app);"),
    },
    Rule {
        banned: &["keyring::", "use keyring"],
        within: ENGINE_AND_SHELL,
        except: &["src/secrets.rs"],
        why: "secrets.rs is the only code that touches the OS keyring (tokens go nowhere else)",
        example: ("src/config.rs", "let entry = keyring::Entry::new(\"ferry\", user)?;"),
    },
    Rule {
        banned: &["reqwest::", "use reqwest", "hyper::", "ureq::"],
        within: ENGINE_AND_SHELL,
        except: &["src/gitlab/"],
        why: "gitlab/ is the only code that speaks HTTP to the server (TLS, CA, redirects and tokens checked in one place)",
        example: ("src-tauri/src/connect.rs", "let client = reqwest::Client::new();"),
    },
    Rule {
        banned: &[
            "\"xdg-open\"", "Command::new(\"open\")", "\"gio\"", "\"kde-open\"", "\"gnome-open\"",
            "\"explorer\"", "\"BROWSER\"", "open::that", "webbrowser::", "tauri_plugin_opener",
            "tauri_plugin_shell",
        ],
        within: ENGINE_AND_SHELL,
        except: &["src/open.rs"],
        why: "open.rs is the one place that starts a browser or file manager (web links only, never through a symlink)",
        example: ("src-tauri/src/commands.rs", "std::process::Command::new(\"xdg-open\").arg(&url).spawn()?;"),
    },
    Rule {
        banned: &["renameat"],
        within: ENGINE_AND_SHELL,
        except: &["src/git/writer.rs"],
        why: "the folder writer alone swaps files inside a synced folder (directory-relative, no-follow, contained)",
        example: ("src/git/apply.rs", "rustix::fs::renameat(&dir, tmp, &dir, name)?;"),
    },
    Rule {
        banned: &["flock", "fs2::", "fd_lock", "F_SETLK"],
        within: ENGINE_AND_SHELL,
        // git/mod.rs: the folder lock (.git/ferry.lock), the one lock outside files.rs.
        except: &["src/files.rs", "src/git/mod.rs"],
        why: "files.rs owns Ferry's locks (released on drop or when the holder dies); git/mod.rs holds the folder lock",
        example: ("src/app/published.rs", "rustix::fs::flock(&file, FlockOperation::LockExclusive)?;"),
    },
];

/// This file: it spells out every banned word.
const SELF: &str = "tests/boundaries.rs";

#[test]
fn module_boundaries_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "src-tauri", "tests"] {
        collect_rust_files(root, &root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.iter().any(|f| f == "src/git/writer.rs") && files.iter().any(|f| f == "src/lib.rs"),
        "the scan should see the engine's sources from {}",
        root.display()
    );

    let mut breaks = Vec::new();
    for file in files.iter().filter(|f| *f != SELF) {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("{file} should be readable: {e}"));
        for rule in RULES {
            for (line, word, code) in violations(rule, file, &text) {
                breaks.push(format!(
                    "{file}:{line}: `{word}`: {}\n    {}",
                    rule.why,
                    code.trim()
                ));
            }
        }
    }
    assert!(
        breaks.is_empty(),
        "{} module boundary break(s) (tests/boundaries.rs has the rules, ../shared/DESIGN.md the layout):\n{}",
        breaks.len(),
        breaks.join("\n")
    );
}

#[test]
fn every_rule_bites_and_comments_do_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rule in RULES {
        let (file, line) = rule.example;
        assert!(
            !violations(rule, file, line).is_empty(),
            "the rule \"{}\" should catch its own example in {file}: {line}",
            rule.why
        );
        for comment in [
            format!("// {line}"),
            format!("    /// {line}"),
            format!("let x = 1; // {line}"),
        ] {
            assert!(
                violations(rule, file, &comment).is_empty(),
                "a comment should not trip \"{}\": {comment}",
                rule.why
            );
        }
        for owner in rule.except {
            assert!(
                root.join(owner).exists(),
                "the exception {owner} of \"{}\" should exist: a moved owner must move its rule too",
                rule.why
            );
        }
    }
}

#[test]
fn grouped_imports_are_seen() {
    let rule = RULES
        .iter()
        .find(|r| r.within == ["src/watch.rs"])
        .expect("the table has the watcher's rule");
    let grouped = "use crate::{\n    git::Settled,\n    sync::worker,\n};\n";
    let found = violations(rule, "src/watch.rs", grouped);
    assert_eq!(
        found.iter().map(|(line, ..)| *line).collect::<Vec<_>>(),
        vec![1],
        "a grouped import names crate::sync as surely as a plain one, reported at its `use` line"
    );
}

/// The breaks of `rule` in `text` (the content of `file`): line number, the
/// banned word found, and the line.
fn violations(rule: &Rule, file: &str, text: &str) -> Vec<(usize, &'static str, String)> {
    let applies = rule.within.iter().any(|w| file.starts_with(w))
        && !rule.except.iter().any(|e| file.starts_with(e));
    if !applies {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (number, code, original) in code_lines(text) {
        for word in rule.banned {
            if code.contains(word) {
                found.push((number, *word, original.clone()));
            }
        }
    }
    found
}

/// The code of each logical line (comments removed), numbered from 1, with
/// the original first line. A grouped `use crate::{a, b::c}` spanning
/// several lines becomes one line that also reads `crate::a crate::b::c`.
fn code_lines(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open_use: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let code = strip_comment(line);
        if let Some((start, mut acc, first)) = open_use.take() {
            acc.push(' ');
            acc.push_str(code);
            if code.contains(';') {
                let expanded = expand_grouped_use(&acc);
                out.push((start, format!("{acc} {expanded}"), first));
            } else {
                open_use = Some((start, acc, first));
            }
            continue;
        }
        if is_grouped_crate_use(code) {
            if code.contains(';') {
                out.push((
                    i + 1,
                    format!("{code} {}", expand_grouped_use(code)),
                    line.to_string(),
                ));
            } else {
                open_use = Some((i + 1, code.to_string(), line.to_string()));
            }
            continue;
        }
        out.push((i + 1, code.to_string(), line.to_string()));
    }
    if let Some((start, acc, first)) = open_use {
        out.push((start, acc, first));
    }
    out
}

fn is_grouped_crate_use(code: &str) -> bool {
    let code = code.trim_start();
    let code = code
        .strip_prefix("pub(crate) ")
        .or_else(|| code.strip_prefix("pub "))
        .unwrap_or(code);
    code.starts_with("use crate::{")
}

/// `use crate::{a::b, c::{d, e}};` -> `crate::a::b crate::c::{d, e}`: each
/// top-level item with its `crate::` prefix.
fn expand_grouped_use(statement: &str) -> String {
    let Some(start) = statement.find("crate::{") else {
        return String::new();
    };
    let inner = &statement[start + "crate::{".len()..];
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut item = String::new();
    for c in inner.chars() {
        match c {
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' if depth == 0 => break,
            '}' => {
                depth -= 1;
                item.push(c);
            }
            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
            _ => item.push(c),
        }
    }
    items.push(item);
    items
        .iter()
        .map(|i| i.split_whitespace().collect::<String>())
        .filter(|i| !i.is_empty())
        .map(|i| format!("crate::{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `line` up to a `//` comment that is not inside a string literal.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            // A char literal such as '"' or '\'' does not open a string.
            b'\'' if !in_string => {
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 2;
                } else if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') {
                    i += 3;
                }
            }
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// Every `.rs` file under `dir`, as a `/`-separated path relative to `root`
/// (build output, generated files and UI packages skipped).
fn collect_rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !matches!(
                name.to_str(),
                Some("target" | "node_modules" | "gen" | ".git")
            ) {
                collect_rust_files(root, &path, out);
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("a scanned file lies under the workspace root");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
}
