//! The caps, counted as entries are written: every file and folder takes one of `max_files`,
//! every byte written one of `max_unpacked`, whatever size the archive claimed (a zip bomb's
//! small header says nothing true). Writing goes through [`Budget::write_file`], so no entry can
//! be written around the count.

use std::io::{Read, Write};
use std::path::Path;

use crate::{Caps, Result, SourceError, io};

/// What is left of the caps for one intake.
#[derive(Debug)]
pub(crate) struct Budget {
    caps: Caps,
    entries: u64,
    bytes: u64,
}

impl Budget {
    pub(crate) fn new(caps: &Caps) -> Budget {
        Budget {
            caps: *caps,
            entries: 0,
            bytes: 0,
        }
    }

    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts one more file or folder; refused past `max_files`.
    pub(crate) fn entry(&mut self, name: &str) -> Result<()> {
        self.entries += 1;
        if self.entries > self.caps.max_files {
            return Err(SourceError::TooLarge(format!(
                "more than {} files and folders (at {name:?}); the limit is [build] max_files",
                self.caps.max_files
            )));
        }
        Ok(())
    }

    /// Copies `from` into a new file at `to` (which must not exist), counting every byte against
    /// `max_unpacked` as it goes; `executable` makes it 0700, else 0600.
    pub(crate) fn write_file(
        &mut self,
        name: &str,
        from: &mut dyn Read,
        to: &Path,
        executable: bool,
    ) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        self.entry(name)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o700 } else { 0o600 })
            .open(to)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => SourceError::Refused {
                    path: name.to_string(),
                    reason: "appears twice".into(),
                },
                _ => io(format!("creating {}", to.display()))(e),
            })?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).map_err(|e| SourceError::Refused {
                path: name.to_string(),
                reason: format!("cannot be read: {e}"),
            })?;
            if n == 0 {
                return Ok(());
            }
            self.bytes += n as u64;
            if self.bytes > self.caps.max_unpacked {
                return Err(SourceError::TooLarge(format!(
                    "the files unpack to more than {} bytes (at {name:?}); the limit is [build] \
                     max_unpacked",
                    self.caps.max_unpacked
                )));
            }
            file.write_all(&buf[..n])
                .map_err(io(format!("writing {}", to.display())))?;
        }
    }
}
