//! Archives to a folder: tar (plain or gzip-compressed, the pure-Rust inflater) and zip (deflate
//! or stored). The format is told by the file's first bytes. Each entry is judged before anything
//! of it is written: its name ([`crate::paths`]), its type (files and folders only; a hard link
//! only to a file this archive already wrote, which is then copied, so no inode is shared) and the
//! caps ([`Budget`]).

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::budget::Budget;
use crate::{Caps, Result, SourceError, io, paths, private_dir};

/// Unpacks the archive at `file` into `dest` (an empty folder).
pub(crate) fn unpack_file(
    file: &Path,
    dest: &Path,
    budget: &mut Budget,
    caps: &Caps,
) -> Result<()> {
    let mut f = std::fs::File::open(file).map_err(io(format!("opening {}", file.display())))?;
    let size = f
        .metadata()
        .map_err(io(format!("reading {}", file.display())))?
        .len();
    if size > caps.max_compressed {
        return Err(SourceError::TooLarge(format!(
            "the archive is {size} bytes, more than {}; the limit is [build] max_compressed",
            caps.max_compressed
        )));
    }
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut f, &mut magic).map_err(io(format!("reading {}", file.display())))?;
    f.rewind()
        .map_err(io(format!("reading {}", file.display())))?;
    match &magic[..n] {
        [0x1f, 0x8b, ..] => unpack_tar(flate2::read::MultiGzDecoder::new(f), dest, budget),
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => unpack_zip(f, dest, budget),
        _ => unpack_tar(f, dest, budget),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Where the entry `rel` goes, its parent folders made (inside `dest`: no link was ever written,
/// so no parent can lead elsewhere).
fn place(dest: &Path, rel: &Path) -> Result<PathBuf> {
    let at = dest.join(rel);
    if let Some(parent) = at.parent() {
        private_dir(parent)?;
    }
    Ok(at)
}

fn refused(name: &str, reason: &str) -> SourceError {
    SourceError::Refused {
        path: name.to_string(),
        reason: reason.to_string(),
    }
}

const LINK_REFUSED: &str = "is a symbolic link; links are not accepted (replace it with a copy \
                            of what it points to)";
const SPECIAL_REFUSED: &str = "is a device file, FIFO or socket; only files and folders are \
                               accepted";

/// A tar stream into `dest`.
pub(crate) fn unpack_tar(reader: impl Read, dest: &Path, budget: &mut Budget) -> Result<()> {
    use tar::EntryType;
    let mut archive = tar::Archive::new(reader);
    let bad = |e: std::io::Error| SourceError::Invalid(format!("not a readable tar archive: {e}"));
    // Files this archive wrote, which a later hard link may name.
    let mut written: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            continue;
        }
        let Some(rel) = paths::relative(&name)? else {
            continue;
        };
        match kind {
            EntryType::Directory => {
                budget.entry(&name)?;
                private_dir(&place(dest, &rel)?)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let mode = entry.header().mode().unwrap_or(0o644);
                let at = place(dest, &rel)?;
                budget.write_file(&name, &mut entry, &at, mode & 0o111 != 0)?;
                written.insert(rel);
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let target_rel = paths::relative(&target).map_err(|_| {
                    refused(
                        &name,
                        "is a hard link to a file outside the project's folder",
                    )
                })?;
                let Some(target_rel) = target_rel.filter(|t| written.contains(t)) else {
                    return Err(refused(
                        &name,
                        "is a hard link to something this archive did not hold before it; only \
                         links to earlier files are accepted (and stored as copies)",
                    ));
                };
                let src = dest.join(&target_rel);
                let mut from =
                    std::fs::File::open(&src).map_err(io(format!("reading {}", src.display())))?;
                let exec = std::os::unix::fs::PermissionsExt::mode(
                    &from
                        .metadata()
                        .map_err(io(format!("reading {}", src.display())))?
                        .permissions(),
                ) & 0o100
                    != 0;
                let at = place(dest, &rel)?;
                budget.write_file(&name, &mut from, &at, exec)?;
                written.insert(rel);
            }
            EntryType::Symlink => return Err(refused(&name, LINK_REFUSED)),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(refused(&name, SPECIAL_REFUSED));
            }
            other => {
                return Err(refused(
                    &name,
                    &format!("has an entry type clubhost does not take ({other:?})"),
                ));
            }
        }
    }
    Ok(())
}

/// A zip file into `dest`. Sizes in its directory are not trusted: bytes are counted as they
/// inflate.
fn unpack_zip(file: impl Read + Seek, dest: &Path, budget: &mut Budget) -> Result<()> {
    let bad = |e: zip::result::ZipError| SourceError::Invalid(format!("not a readable zip: {e}"));
    let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad)?;
        let name = entry.name().map_err(bad)?.into_owned();
        let Some(rel) = paths::relative(&name)? else {
            continue;
        };
        let mode = entry.unix_mode().unwrap_or(0);
        // The Unix file type bits, when the zip was made on Unix.
        match mode & 0o170_000 {
            0 | 0o100_000 | 0o040_000 => {}
            0o120_000 => return Err(refused(&name, LINK_REFUSED)),
            _ => return Err(refused(&name, SPECIAL_REFUSED)),
        }
        if entry.is_symlink() {
            return Err(refused(&name, LINK_REFUSED));
        }
        if entry.is_dir() {
            budget.entry(&name)?;
            private_dir(&place(dest, &rel)?)?;
        } else {
            let at = place(dest, &rel)?;
            budget.write_file(&name, &mut entry, &at, mode & 0o111 != 0)?;
        }
    }
    Ok(())
}
