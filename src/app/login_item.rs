//! Starting Ferry at login: when the desktop app may register itself as a
//! login item, and what it does about one when it starts.
//!
//! Trying Ferry leaves no trace: a build run from a checkout (`make run`,
//! `make demo`, the tests) never registers a login item, and removes one
//! that an earlier run from a checkout left behind (and only that). An
//! installed Ferry registers one only when the user chose it (the wizard's
//! last step offers it, on by default, until the user has chosen either
//! way; Settings turns it on and off), and keeps it pointing at the binary
//! that runs now (after an update or a move). An item the user removed
//! elsewhere stays removed.

use std::path::{Component, Path};

/// What to do with the login item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Register it (again), pointing at the running binary.
    Register,
    /// Remove it.
    Remove,
    /// Leave things as they are.
    Leave,
}

/// True when `exe` is a build inside a checkout (`…/target/debug/…`,
/// `…/target/<triple>/release/…`), not an installed Ferry.
pub fn is_development_build(exe: &Path) -> bool {
    let names: Vec<&std::ffi::OsStr> = exe
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    names.iter().enumerate().any(|(i, n)| {
        *n == "target"
            && names[i + 1..]
                .iter()
                .take(2)
                .any(|p| *p == "debug" || *p == "release")
    })
}

/// Tells development builds from installed ones: a build under a cargo
/// `target/` folder, or still inside the target folder it was built in
/// (`CARGO_TARGET_DIR` may be anywhere).
#[derive(Debug, Clone, Default)]
pub struct Builds {
    /// The target folder this binary was built in, if known.
    pub target_dir: Option<std::path::PathBuf>,
}

impl Builds {
    /// True when `exe` is a development build.
    pub fn is_development(&self, exe: &Path) -> bool {
        is_development_build(exe)
            || self
                .target_dir
                .as_deref()
                .is_some_and(|t| exe.starts_with(t))
    }

    /// What to do when Ferry starts from `exe`, the user chose to start at
    /// login (`wanted`: `Some(true)`), or not, or never said (`None`), and
    /// a login item points at `registered` (if one exists). Never
    /// registers one the user didn't choose.
    pub fn at_start(&self, exe: &Path, wanted: Option<bool>, registered: Option<&Path>) -> Change {
        match registered {
            None => Change::Leave,
            // Left by an earlier run from a checkout: it would start a
            // build that may be gone, without the settings it ran with.
            Some(at) if self.is_development(at) => Change::Remove,
            // An installed Ferry's item; a development build leaves it alone.
            Some(_) if self.is_development(exe) => Change::Leave,
            Some(at) if wanted == Some(true) && at != exe => Change::Register,
            Some(_) if wanted == Some(false) => Change::Remove,
            Some(_) => Change::Leave,
        }
    }

    /// What to do when the user turns starting at login on or off, and a
    /// login item points at `registered`, if one exists.
    pub fn on_choice(&self, exe: &Path, wanted: bool, registered: Option<&Path>) -> Change {
        let dev = self.is_development(exe);
        match registered {
            _ if wanted && dev => Change::Leave,
            Some(at) if wanted && at == exe => Change::Leave,
            _ if wanted => Change::Register,
            // A development build removes only what a development build left.
            Some(at) if dev && !self.is_development(at) => Change::Leave,
            Some(_) => Change::Remove,
            None => Change::Leave,
        }
    }
}

/// The program a freedesktop autostart entry (`Exec=…`) starts.
pub fn autostart_program(desktop_entry: &str) -> Option<&Path> {
    let exec = desktop_entry
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exec="))?;
    let exec = exec.trim();
    let program = match exec.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => exec.split_whitespace().next()?,
    };
    Some(Path::new(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKOUT: &str = "/home/ed/src/ferry/target/debug/ferry-desktop";
    const INSTALLED: &str = "/usr/bin/ferry-desktop";

    fn builds() -> Builds {
        Builds {
            target_dir: Some("/home/ed/build-cache".into()),
        }
    }

    #[test]
    fn builds_in_a_checkout_are_told_from_installed_ones() {
        let b = builds();
        assert!(b.is_development(Path::new(CHECKOUT)));
        assert!(b.is_development(Path::new(
            "/w/target/x86_64-pc-windows-gnu/release/ferry-desktop.exe"
        )));
        assert!(
            b.is_development(Path::new("/home/ed/build-cache/debug/ferry-desktop")),
            "built with CARGO_TARGET_DIR elsewhere, still where it was built"
        );
        assert!(!b.is_development(Path::new(INSTALLED)));
        assert!(!b.is_development(Path::new(
            "/home/ed/Applications/target-practice/ferry-desktop"
        )));
        assert!(!b.is_development(Path::new("/opt/target/bin/ferry")));
    }

    #[test]
    fn a_checkout_never_registers_and_removes_only_what_a_checkout_left() {
        let b = builds();
        let exe = Path::new(CHECKOUT);
        let installed = Path::new(INSTALLED);
        assert_eq!(b.at_start(exe, Some(true), None), Change::Leave);
        assert_eq!(b.at_start(exe, Some(true), Some(exe)), Change::Remove);
        assert_eq!(
            b.at_start(exe, Some(false), Some(installed)),
            Change::Leave,
            "an installed Ferry's item is not a checkout's to remove"
        );
        assert_eq!(b.on_choice(exe, true, None), Change::Leave);
        assert_eq!(b.on_choice(exe, false, Some(exe)), Change::Remove);
        assert_eq!(
            b.on_choice(exe, false, Some(installed)),
            Change::Leave,
            "turning it off in a demo leaves the installed Ferry's item"
        );
        assert_eq!(b.on_choice(exe, false, None), Change::Leave);
    }

    #[test]
    fn an_installed_ferry_registers_only_by_choice_and_keeps_the_item_current() {
        let b = builds();
        let exe = Path::new(INSTALLED);
        assert_eq!(b.at_start(exe, None, None), Change::Leave, "never silently");
        assert_eq!(
            b.at_start(exe, Some(true), None),
            Change::Leave,
            "removed elsewhere: respected"
        );
        assert_eq!(b.at_start(exe, Some(true), Some(exe)), Change::Leave);
        assert_eq!(
            b.at_start(exe, Some(true), Some(Path::new("/opt/old/ferry-desktop"))),
            Change::Register
        );
        assert_eq!(b.at_start(exe, Some(false), Some(exe)), Change::Remove);
        assert_eq!(b.at_start(exe, None, Some(exe)), Change::Leave);
        assert_eq!(b.on_choice(exe, true, None), Change::Register);
        assert_eq!(b.on_choice(exe, true, Some(exe)), Change::Leave);
        assert_eq!(b.on_choice(exe, false, Some(exe)), Change::Remove);
    }

    #[test]
    fn the_program_of_an_autostart_entry() {
        let entry = "[Desktop Entry]\nType=Application\nExec=/usr/bin/ferry-desktop --hidden\n";
        assert_eq!(autostart_program(entry), Some(Path::new(INSTALLED)));
        let quoted = "Exec=\"/home/ed/My Apps/ferry-desktop\" --hidden";
        assert_eq!(
            autostart_program(quoted),
            Some(Path::new("/home/ed/My Apps/ferry-desktop"))
        );
        assert_eq!(autostart_program("[Desktop Entry]\n"), None);
    }
}
