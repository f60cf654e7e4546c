//! Passes 2-4: directories from the root (entry format, `.` and `..`, targets allocated
//! and of the type the entry says, each directory reached once), then link counts.

use std::collections::{HashSet, VecDeque};
use std::io::{Read, Seek};

use super::{unreadable, Checker, InodeInfo, Problem};
use crate::image::ufs::dir;
use crate::image::ufs::format::*;

/// Largest directory the checker reads (256 MiB: millions of entries).
const MAX_DIR_SIZE: u64 = 256 << 20;

impl<R: Read + Seek> Checker<R> {
    /// Raw bytes of directory `ino`, if its size is backed by its blocks.
    fn dir_data(&mut self, ino: u64, info: &InodeInfo) -> Option<Vec<u8>> {
        // Only what pass 1 found allocated is read, and never more than a directory can
        // sensibly hold, so a damaged size cannot make the checker allocate or loop.
        if info.size > info.allocated || info.size > MAX_DIR_SIZE {
            self.p.push(Problem::BadSize {
                ino,
                size: info.size,
                reason: "directory larger than its blocks",
            });
            return None;
        }
        let mut data = Vec::with_capacity(info.size.min(1 << 20) as usize);
        match self.ufs.read_file(ino, &mut data) {
            Ok(_) => Some(data),
            Err(e) => {
                self.p.push(unreadable(format!("directory {ino}"), e));
                None
            }
        }
    }

    pub(super) fn pass2_to_4(&mut self) {
        let root = u64::from(ROOTINO);
        match self.inodes.get(&root) {
            Some(i) if i.mode & IFMT == IFDIR => {}
            _ => {
                self.p.push(Problem::BadRoot);
                return;
            }
        }
        let mut queue = VecDeque::from([(root, root)]);
        if let Some(i) = self.inodes.get_mut(&root) {
            i.reached = true;
        }
        while let Some((dino, parent)) = queue.pop_front() {
            let Some(info) = self.inodes.get(&dino).cloned() else {
                continue;
            };
            let Some(data) = self.dir_data(dino, &info) else {
                continue;
            };
            let mut faults = Vec::new();
            let entries = dir::parse(&data, |offset, fault| faults.push((offset, fault)));
            for (offset, fault) in faults {
                self.p.push(Problem::DirEntry {
                    dir: dino,
                    offset,
                    fault,
                });
            }
            let show = |e: Option<&dir::RawEntry>| {
                e.map_or("nothing".to_string(), |e| {
                    format!("`{}` -> {}", String::from_utf8_lossy(&e.name), e.ino)
                })
            };
            let dot = entries.first();
            if dot.is_none_or(|e| e.offset != 0 || e.name != b"." || u64::from(e.ino) != dino) {
                self.p.push(Problem::DirDot {
                    dir: dino,
                    found: show(dot),
                });
            }
            let dotdot = entries.get(1);
            if dotdot
                .is_none_or(|e| e.offset != 12 || e.name != b".." || u64::from(e.ino) != parent)
            {
                self.p.push(Problem::DirDotDot {
                    dir: dino,
                    expected: parent,
                    found: show(dotdot),
                });
            }
            let mut names = HashSet::new();
            for (i, e) in entries.iter().enumerate() {
                let name = String::from_utf8_lossy(&e.name).into_owned();
                let ino = u64::from(e.ino);
                let special = e.name == b"." || e.name == b"..";
                if special && i >= 2 {
                    self.p.push(Problem::DirEntryTarget {
                        dir: dino,
                        name,
                        ino,
                        reason: "is a `.` or `..` out of place",
                    });
                    continue;
                }
                if !names.insert(e.name.clone()) {
                    self.p.push(Problem::DuplicateName {
                        dir: dino,
                        name: name.clone(),
                    });
                }
                let Some(target) = self.inodes.get_mut(&ino) else {
                    let reason = if ino >= self.g.inodes() {
                        "does not exist"
                    } else {
                        "is not allocated"
                    };
                    self.p.push(Problem::DirEntryTarget {
                        dir: dino,
                        name,
                        ino,
                        reason,
                    });
                    continue;
                };
                target.refs += 1;
                let expected = iftodt(target.mode);
                if e.dtype != expected {
                    self.p.push(Problem::DirEntryType {
                        dir: dino,
                        name: name.clone(),
                        found: e.dtype,
                        expected,
                    });
                }
                if special || target.mode & IFMT != IFDIR {
                    continue;
                }
                if target.reached {
                    self.p.push(Problem::DirMultipleParents { ino });
                } else {
                    target.reached = true;
                    queue.push_back((ino, dino));
                }
            }
        }
        for (&ino, info) in &self.inodes {
            if info.mode & IFMT == IFDIR && !info.reached {
                self.p.push(Problem::UnreachableDir { ino });
            }
            if info.refs == 0 {
                self.p.push(Problem::Unreferenced { ino });
            } else if i64::from(info.nlink) != info.refs as i64 {
                self.p.push(Problem::LinkCount {
                    ino,
                    stored: i64::from(info.nlink),
                    actual: info.refs,
                });
            }
        }
    }
}
