//! Line endings written to the folder, as `.gitattributes` asks (`text`,
//! `eol`, the older `crlf`), so that git's clean filter — which libgit2
//! applies when it compares and stores files — gives back the same blob:
//! no change appears where nobody edited (I6, no ping-pong).
//!
//! Ferry sets `core.autocrlf=false` in every folder and leaves `core.eol`
//! at its default (LF here), so only the attributes convert.

use git2::{AttrCheckFlags, AttrValue, Repository};

/// How a file's line endings are converted on checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crlf {
    /// `text eol=crlf`: every lone LF becomes CRLF.
    Always,
    /// `text=auto eol=crlf`: only a text file with no CR at all.
    IfText,
}

fn attr<'r>(repo: &'r Repository, path: &str, name: &str) -> AttrValue<'r> {
    AttrValue::from_string(
        repo.get_attr(
            std::path::Path::new(path),
            name,
            AttrCheckFlags::FILE_THEN_INDEX,
        )
        .ok()
        .flatten(),
    )
}

/// Whether the file at `path` is checked out with CRLF line endings.
pub(crate) fn checkout_crlf(repo: &Repository, path: &[u8]) -> Option<Crlf> {
    let path = String::from_utf8_lossy(path);
    let eol_crlf = matches!(attr(repo, &path, "eol"), AttrValue::String("crlf"));
    let text = match attr(repo, &path, "text") {
        AttrValue::True => Some(Crlf::Always),
        AttrValue::False => None,
        AttrValue::String("auto") => Some(Crlf::IfText),
        _ => match attr(repo, &path, "crlf") {
            AttrValue::False | AttrValue::String("input") => None,
            // `eol` alone implies text, as in git.
            _ if eol_crlf => Some(Crlf::Always),
            _ => None,
        },
    };
    text.filter(|_| eol_crlf)
}

/// The blob `bytes` with the line endings `crlf` asks for.
pub(crate) fn smudge(bytes: &[u8], crlf: Crlf) -> Vec<u8> {
    if crlf == Crlf::IfText {
        let binary = bytes[..bytes.len().min(8000)].contains(&0);
        if binary || bytes.contains(&b'\r') {
            return bytes.to_vec();
        }
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_line_feeds_become_crlf_and_binaries_stay() {
        assert_eq!(smudge(b"a\nb\r\nc\n", Crlf::Always), b"a\r\nb\r\nc\r\n");
        assert_eq!(smudge(b"a\nb\n", Crlf::IfText), b"a\r\nb\r\n");
        assert_eq!(
            smudge(b"a\r\nb\n", Crlf::IfText),
            b"a\r\nb\n",
            "auto leaves mixed files"
        );
        assert_eq!(
            smudge(b"\0\n", Crlf::IfText),
            b"\0\n",
            "auto leaves binaries"
        );
    }
}
