//! What a stored revision holds, for the admin's review card: how many files, their total size,
//! the largest ones, and the first paths in name order. Walks the folder without following
//! anything (intake never stores a link; one found is counted as a file of its own size).

use std::path::Path;

use crate::{Result, io};

/// A revision's files at a glance.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Inventory {
    /// Regular files (folders are not counted).
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The largest files, largest first: (path relative to the folder, bytes).
    pub largest: Vec<(String, u64)>,
    /// Every file in path order, up to the `list` asked for: (path, bytes).
    pub listed: Vec<(String, u64)>,
}

/// Takes stock of `dir`: the `top` largest files and the first `list` paths.
pub fn inventory(dir: &Path, top: usize, list: usize) -> Result<Inventory> {
    let mut all = Vec::new();
    walk(dir, "", &mut all)?;
    all.sort();
    let mut inv = Inventory {
        files: all.len() as u64,
        bytes: all.iter().map(|(_, n)| n).sum(),
        listed: all.iter().take(list).cloned().collect(),
        ..Inventory::default()
    };
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(top);
    inv.largest = all;
    Ok(inv)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        let meta = std::fs::symlink_metadata(entry.path())
            .map_err(io(format!("reading {}", entry.path().display())))?;
        if meta.is_dir() {
            walk(&entry.path(), &format!("{path}/"), out)?;
        } else {
            out.push((path, meta.len()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sizes_and_orders_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/deep")).unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join("src/big.bin"), vec![0u8; 5000]).unwrap();
        std::fs::write(dir.path().join("src/deep/mid.txt"), vec![b'x'; 300]).unwrap();
        std::fs::write(dir.path().join("a.txt"), "").unwrap();
        let inv = inventory(dir.path(), 2, 3).unwrap();
        assert_eq!((inv.files, inv.bytes), (4, 5313));
        assert_eq!(
            inv.largest,
            [
                ("src/big.bin".to_string(), 5000),
                ("src/deep/mid.txt".into(), 300)
            ]
        );
        assert_eq!(
            inv.listed,
            [
                ("Dockerfile".to_string(), 13),
                ("a.txt".into(), 0),
                ("src/big.bin".into(), 5000)
            ]
        );
    }
}
