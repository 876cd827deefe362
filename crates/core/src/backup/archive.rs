//! A whole backup as ONE tar archive, for its owner to take home: `manifest.json`, `project.json`,
//! each volume's archive as a member (`volumes/<name>.tar`) and each database dump as SQL
//! (`dumps/<service>.sql`), all under one folder `<slug>-backup-<id>/`. The sealed secrets are
//! left out (only this server's key opens them). Plain data and headers, no I/O: the portal
//! streams the files between the headers this module writes, so nothing is copied on disk and
//! the length is known before the first byte.

use std::path::{Path, PathBuf};

use super::{MANIFEST, Manifest, SECRETS};

/// One member of the archive: its name inside the archive, the file it is read from, its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Name inside the archive, under [`folder`].
    pub name: String,
    /// The backup file it is read from.
    pub path: PathBuf,
    /// Its size in bytes (what the header says; the file is checked against it while streamed).
    pub bytes: u64,
}

/// The archive's top folder (and download name, with `.tar`): `<slug>-backup-<id>`.
pub fn folder(slug: &str, id: i64) -> String {
    format!("{slug}-backup-{id}")
}

/// The members of backup `dir`, described by `manifest` (`manifest_bytes`: the size of its
/// `manifest.json`): the manifest first, then every file it lists but the sealed secrets.
pub fn members(dir: &Path, manifest: &Manifest, manifest_bytes: u64) -> Vec<Member> {
    let top = folder(&manifest.project, manifest.id);
    let mut out = vec![Member {
        name: format!("{top}/{MANIFEST}"),
        path: dir.join(MANIFEST),
        bytes: manifest_bytes,
    }];
    for f in manifest.files() {
        if f.file == SECRETS {
            continue;
        }
        out.push(Member {
            name: format!("{top}/{}", f.file),
            path: dir.join(&f.file),
            bytes: f.bytes,
        });
    }
    out
}

/// Zero bytes after a member of `bytes` bytes, up to the next 512-byte block.
pub fn padding(bytes: u64) -> usize {
    ((512 - bytes % 512) % 512) as usize
}

/// The two zero blocks that end a tar archive.
pub const TRAILER: [u8; 1024] = [0; 1024];

/// The archive's total length: every header, file and padding, and the trailer.
pub fn length(members: &[Member]) -> u64 {
    members
        .iter()
        .map(|m| 512 + m.bytes + padding(m.bytes) as u64)
        .sum::<u64>()
        + TRAILER.len() as u64
}

/// A POSIX ustar header for a regular file `name` (split into prefix and name at a `/` when
/// longer than 100 bytes) of `bytes` bytes, mode 0644, modified at `mtime` (Unix seconds). A size
/// past the 11 octal digits (8 GiB) is written in GNU tar's base-256 form, which GNU tar, bsdtar
/// and busybox read.
pub fn header(name: &str, bytes: u64, mtime: i64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let (prefix, rest) = if name.len() <= 100 {
        ("", name)
    } else {
        // The last `/` that leaves at most 100 bytes after it and 155 before it.
        let cut = name
            .char_indices()
            .filter(|(i, c)| *c == '/' && name.len() - i - 1 <= 100 && *i <= 155)
            .map(|(i, _)| i)
            .next()
            .unwrap_or(0);
        (&name[..cut], &name[cut + usize::from(cut > 0)..])
    };
    put(&mut h[0..100], rest.as_bytes());
    put(&mut h[100..108], b"0000644\0");
    put(&mut h[108..116], b"0000000\0");
    put(&mut h[116..124], b"0000000\0");
    if bytes < 0o77777777777 {
        put(&mut h[124..136], format!("{bytes:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&bytes.to_be_bytes());
    }
    put(
        &mut h[136..148],
        format!("{:011o}\0", mtime.max(0)).as_bytes(),
    );
    h[156] = b'0';
    put(&mut h[257..263], b"ustar\0");
    put(&mut h[263..265], b"00");
    put(&mut h[345..500], prefix.as_bytes());
    // The checksum counts its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h[148..156], format!("{sum:06o}\0 ").as_bytes());
    h
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{Consistency, FORMAT_VERSION, VolumeEntry, write_file};

    /// Writes the archive the way the portal streams it, then lets the system's `tar` read it.
    #[test]
    fn the_archive_unpacks_with_tar_and_leaves_the_secrets_out() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b");
        let record = write_file(&dir, super::super::RECORD, b"{\"slug\":\"blog\"}").unwrap();
        let secrets = write_file(&dir, SECRETS, b"sealed").unwrap();
        let long = "v".repeat(90);
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let archive = write_file(&dir, &format!("volumes/{long}.tar"), &big).unwrap();
        let m = Manifest {
            format: FORMAT_VERSION,
            id: 12,
            project: "blog".into(),
            revision: None,
            created_at: 0,
            created: String::new(),
            record,
            secrets: Some(secrets),
            volumes: vec![VolumeEntry {
                name: long.clone(),
                docker_volume: String::new(),
                archive,
                consistency: Consistency::Idle,
                paused_ms: None,
                paused: Vec::new(),
            }],
            dumps: Vec::new(),
            absent_volumes: Vec::new(),
        };
        let json = serde_json::to_vec(&m).unwrap();
        write_file(&dir, MANIFEST, &json).unwrap();
        let list = members(&dir, &m, json.len() as u64);
        assert_eq!(list.len(), 3, "{list:?}");
        let mut out = Vec::new();
        for mem in &list {
            out.extend_from_slice(&header(&mem.name, mem.bytes, 1_700_000_000));
            out.extend_from_slice(&std::fs::read(&mem.path).unwrap());
            out.extend(std::iter::repeat_n(0u8, padding(mem.bytes)));
        }
        out.extend_from_slice(&TRAILER);
        assert_eq!(out.len() as u64, length(&list));
        let tar = root.path().join("all.tar");
        std::fs::write(&tar, &out).unwrap();
        let into = root.path().join("out");
        std::fs::create_dir(&into).unwrap();
        let status = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&into)
            .status()
            .unwrap();
        assert!(status.success());
        let top = into.join("blog-backup-12");
        assert_eq!(std::fs::read(top.join(MANIFEST)).unwrap(), json);
        assert_eq!(
            std::fs::read(top.join(format!("volumes/{long}.tar"))).unwrap(),
            big
        );
        assert!(!top.join(SECRETS).exists());
    }

    #[test]
    fn sizes_past_eight_gib_use_base_256() {
        let h = header("a", 10 << 30, 0);
        assert_eq!(h[124], 0x80);
        assert_eq!(
            u64::from_be_bytes(h[128..136].try_into().unwrap()),
            10 << 30
        );
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}
