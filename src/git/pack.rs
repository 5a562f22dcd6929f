//! Reading a large blob straight out of a pack file, as a stream, so that
//! writing a video of several gigabytes to the folder needs a buffer, not
//! the whole file in memory (libgit2 can stream only loose objects).
//!
//! Only blobs stored whole in a pack are streamed — git never stores a file
//! above `core.bigFileThreshold` (512 MiB) as a delta, so the files that
//! matter are. A delta, or anything unusual, returns `None` and the caller
//! reads the object through libgit2. The stream checks the object's SHA-1
//! as it goes and fails at the end if the bytes aren't the object's.
//!
//! Pack format: git's `Documentation/gitformat-pack.txt` (index version 2).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use git2::Oid;
use sha1::{Digest, Sha1};

/// Pack object type of a whole blob.
const OBJ_BLOB: u8 = 3;

/// Where `id` is in the index file `idx` (version 2), if it is there.
fn find_in_index(idx: &[u8], id: &[u8; 20]) -> Option<u64> {
    if idx.len() < 8 + 256 * 4 || &idx[..4] != b"\xfftOc" || idx[4..8] != [0, 0, 0, 2] {
        return None;
    }
    let fanout = |i: usize| -> usize {
        let at = 8 + i * 4;
        u32::from_be_bytes(idx[at..at + 4].try_into().expect("4 bytes")) as usize
    };
    let total = fanout(255);
    let first = id[0] as usize;
    let lo = if first == 0 { 0 } else { fanout(first - 1) };
    let hi = fanout(first);
    let names = 8 + 256 * 4;
    let crcs = names + total * 20;
    let offsets = crcs + total * 4;
    let large = offsets + total * 4;
    if idx.len() < large {
        return None;
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let name = &idx[names + mid * 20..names + mid * 20 + 20];
        match name.cmp(&id[..]) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let at = offsets + mid * 4;
                let small = u32::from_be_bytes(idx[at..at + 4].try_into().expect("4 bytes"));
                if small & 0x8000_0000 == 0 {
                    return Some(u64::from(small));
                }
                let at = large + (small & 0x7fff_ffff) as usize * 8;
                let bytes = idx.get(at..at + 8)?;
                return Some(u64::from_be_bytes(bytes.try_into().expect("8 bytes")));
            }
        }
    }
    None
}

/// The blob `id` as a stream of its bytes, and its size, when a pack of
/// `git_dir` holds it whole.
pub(crate) fn packed_blob(git_dir: &Path, id: Oid) -> Option<(Box<dyn Read>, u64)> {
    let raw: [u8; 20] = id.as_bytes().try_into().ok()?;
    let packs = git_dir.join("objects/pack");
    for entry in std::fs::read_dir(&packs).ok()?.flatten() {
        let idx_path = entry.path();
        if idx_path.extension().is_none_or(|e| e != "idx") {
            continue;
        }
        let Ok(idx) = std::fs::read(&idx_path) else {
            continue;
        };
        let Some(offset) = find_in_index(&idx, &raw) else {
            continue;
        };
        let mut pack = BufReader::new(File::open(idx_path.with_extension("pack")).ok()?);
        pack.seek(SeekFrom::Start(offset)).ok()?;
        // Type and size: 3 bits of type, then the size in 7-bit groups.
        let mut byte = [0u8; 1];
        pack.read_exact(&mut byte).ok()?;
        let kind = (byte[0] >> 4) & 0x7;
        let mut size = u64::from(byte[0] & 0x0f);
        let mut shift = 4;
        while byte[0] & 0x80 != 0 {
            pack.read_exact(&mut byte).ok()?;
            size |= u64::from(byte[0] & 0x7f) << shift;
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        if kind != OBJ_BLOB {
            return None;
        }
        let inflated = flate2::read::ZlibDecoder::new(pack).take(size);
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {size}\0").as_bytes());
        return Some((
            Box::new(Checked {
                inner: inflated,
                hasher,
                left: size,
                expected: raw,
                done: false,
            }),
            size,
        ));
    }
    None
}

/// The blob id of the `size` bytes `reader` gives, computed without
/// storing anything; an error if it gives another number of bytes.
pub(crate) fn blob_id_of(reader: &mut dyn Read, size: u64) -> io::Result<Oid> {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {size}\0").as_bytes());
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    if total != size {
        return Err(io::Error::other("the file changed while it was read"));
    }
    Oid::from_bytes(&hasher.finalize()).map_err(|e| io::Error::other(e.to_string()))
}

/// The loose blob `id` of `git_dir` as a stream of its bytes, and its size.
pub(crate) fn loose_blob(git_dir: &Path, id: Oid) -> Option<(Box<dyn Read>, u64)> {
    let raw: [u8; 20] = id.as_bytes().try_into().ok()?;
    let hex = id.to_string();
    let file = File::open(git_dir.join("objects").join(&hex[..2]).join(&hex[2..])).ok()?;
    let mut inflated = flate2::read::ZlibDecoder::new(BufReader::new(file));
    // "blob <size>\0", then the content.
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    while header.len() < 32 {
        inflated.read_exact(&mut byte).ok()?;
        if byte[0] == 0 {
            break;
        }
        header.push(byte[0]);
    }
    let size: u64 = std::str::from_utf8(header.strip_prefix(b"blob ")?)
        .ok()?
        .parse()
        .ok()?;
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {size}\0").as_bytes());
    Some((
        Box::new(Checked {
            inner: inflated.take(size),
            hasher,
            left: size,
            expected: raw,
            done: false,
        }),
        size,
    ))
}

/// A stream that hashes what it passes on and fails at the end unless the
/// bytes were the object's.
struct Checked<R> {
    inner: R,
    hasher: Sha1,
    left: u64,
    expected: [u8; 20],
    done: bool,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.left = self.left.saturating_sub(n as u64);
        if n == 0 || self.left == 0 {
            self.done = true;
            let got = std::mem::take(&mut self.hasher).finalize();
            if self.left != 0 || got[..] != self.expected[..] {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a file's content in the repository is damaged",
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_blob_streams_out_of_a_pack_and_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q"]);
        let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.join("big.bin"), &content).unwrap();
        let id = run(&["hash-object", "-w", "big.bin"]);
        run(&["add", "big.bin"]);
        run(&[
            "-c",
            "user.name=a",
            "-c",
            "user.email=a@b",
            "commit",
            "-qm",
            "x",
        ]);
        run(&["gc", "-q"]);
        let oid = Oid::from_str(&id).unwrap();
        let (mut r, size) = packed_blob(&dir.join(".git"), oid).expect("packed whole");
        assert_eq!(size, content.len() as u64);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, content, "the stream gives the blob's bytes");
        let mut again = &content[..];
        assert_eq!(blob_id_of(&mut again, content.len() as u64).unwrap(), oid);
        // A loose copy streams too.
        std::fs::write(dir.join("other.bin"), &content[..1000]).unwrap();
        let small = Oid::from_str(&run(&["hash-object", "-w", "other.bin"])).unwrap();
        let (mut r, size) = loose_blob(&dir.join(".git"), small).expect("loose");
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!((size, &out[..]), (1000, &content[..1000]));
        let missing = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        assert!(packed_blob(&dir.join(".git"), missing).is_none());
    }
}
