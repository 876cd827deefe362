//! Entry names (from a tar, a zip or a folder walk) to relative paths that stay inside the
//! project's folder: no absolute path, no `..`, no backslash (a Windows separator some zips use,
//! which would mean something else here), no empty or NUL-carrying name.

use std::path::PathBuf;

use crate::{Result, SourceError};

/// The safe relative path of an entry, or `None` for the top folder itself (`./`).
pub(crate) fn relative(name: &str) -> Result<Option<PathBuf>> {
    let refuse = |reason: &str| SourceError::Refused {
        path: name.to_string(),
        reason: reason.to_string(),
    };
    if name.starts_with('/') {
        return Err(refuse(
            "is an absolute path; entries must be relative to the project's folder",
        ));
    }
    if name.contains('\\') {
        return Err(refuse("contains a backslash; use `/` between folders"));
    }
    if name.contains('\0') {
        return Err(refuse("contains a NUL byte"));
    }
    let mut out = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(refuse(
                    "climbs out with `..`; entries must stay inside the project's folder",
                ));
            }
            p => out.push(p),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_pass() {
        assert_eq!(relative("a/b.txt").unwrap(), Some(PathBuf::from("a/b.txt")));
        assert_eq!(relative("./a//b/").unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(relative("./").unwrap(), None);
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "a\\..\\x",
            "a\0b",
        ] {
            assert!(relative(bad).is_err(), "{bad:?} passed");
        }
    }
}
