//! A local folder: copied into a staging folder (the store's intake) or packed into a tar (what
//! the CLI sends the API). Both walk it the same way, judging each entry by its own metadata
//! (never following a link): files and folders only; `.git` is left out (repository metadata and
//! hooks, never part of what is deployed, and often most of the folder's size).

use std::path::{Path, PathBuf};

use crate::budget::Budget;
use crate::{Caps, Result, SourceError, io, private_dir};

/// One entry of a walk: its path relative to the top, and whether it is a folder.
struct Entry {
    rel: PathBuf,
    dir: bool,
    executable: bool,
}

/// Every file and folder under `top`, parents before children, in name order; a link, device
/// file or FIFO is refused naming it.
fn walk(top: &Path, mut visit: impl FnMut(&Entry) -> Result<()>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(top)
        .map_err(|e| SourceError::Invalid(format!("{} cannot be read: {e}", top.display())))?;
    if !meta.is_dir() {
        return Err(SourceError::Invalid(format!(
            "{} is not a folder",
            top.display()
        )));
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let here = top.join(&rel);
        let mut names: Vec<_> = std::fs::read_dir(&here)
            .map_err(io(format!("reading {}", here.display())))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .map_err(io(format!("reading {}", here.display())))?;
        names.sort();
        for name in names.into_iter().rev() {
            if name == ".git" {
                continue;
            }
            let rel = rel.join(&name);
            let shown = rel.to_string_lossy().into_owned();
            if rel.to_str().is_none() {
                return Err(SourceError::Refused {
                    path: shown,
                    reason: "is not a UTF-8 name".into(),
                });
            }
            let meta = std::fs::symlink_metadata(top.join(&rel))
                .map_err(io(format!("reading {}", top.join(&rel).display())))?;
            let kind = meta.file_type();
            let reason = if kind.is_symlink() {
                "is a symbolic link; links are not accepted (replace it with a copy of what it \
                 points to)"
            } else if kind.is_dir() || kind.is_file() {
                ""
            } else {
                "is a device file, FIFO or socket; only files and folders are accepted"
            };
            if !reason.is_empty() {
                return Err(SourceError::Refused {
                    path: shown,
                    reason: reason.into(),
                });
            }
            let entry = Entry {
                rel: rel.clone(),
                dir: kind.is_dir(),
                executable: meta.permissions().mode() & 0o111 != 0,
            };
            visit(&entry)?;
            if entry.dir {
                pending.push(rel);
            }
        }
    }
    Ok(())
}

/// Copies the folder `src` into `dest` (an empty folder) within the caps.
pub(crate) fn copy(src: &Path, dest: &Path, budget: &mut Budget) -> Result<()> {
    walk(src, |e| {
        let name = e.rel.to_string_lossy();
        let at = dest.join(&e.rel);
        if e.dir {
            budget.entry(&name)?;
            return private_dir(&at);
        }
        let from = src.join(&e.rel);
        let mut file = std::fs::File::open(&from).map_err(|err| SourceError::Refused {
            path: name.to_string(),
            reason: format!("cannot be read: {err}"),
        })?;
        budget.write_file(&name, &mut file, &at, e.executable)
    })
}

/// Packs the folder `src` into a tar in memory (what the CLI uploads), refusing what an intake
/// would refuse, within `caps` (`max_compressed` bounds the tar itself).
pub fn pack_dir(src: &Path, caps: &Caps) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut entries = 0u64;
    walk(src, |e| {
        let name = e.rel.to_string_lossy().into_owned();
        entries += 1;
        if entries > caps.max_files {
            return Err(SourceError::TooLarge(format!(
                "{} holds more than {} files and folders",
                src.display(),
                caps.max_files
            )));
        }
        let mut header = tar::Header::new_ustar();
        let from = src.join(&e.rel);
        let packing = |err: std::io::Error| SourceError::Io {
            what: format!("packing {}", from.display()),
            source: err,
        };
        if e.dir {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o700);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{name}/"), std::io::empty())
                .map_err(packing)?;
        } else {
            let file = std::fs::File::open(&from).map_err(packing)?;
            let len = file.metadata().map_err(packing)?.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if e.executable { 0o700 } else { 0o600 });
            header.set_size(len);
            builder
                .append_data(&mut header, &name, file)
                .map_err(packing)?;
        }
        if builder.get_ref().len() as u64 > caps.max_compressed {
            return Err(SourceError::TooLarge(format!(
                "{} packs to more than {} bytes",
                src.display(),
                caps.max_compressed
            )));
        }
        Ok(())
    })?;
    builder.into_inner().map_err(|e| SourceError::Io {
        what: format!("packing {}", src.display()),
        source: e,
    })
}
