//! Shared helpers for the UFS2 integration tests: trees with every entry kind, running
//! the independent readers (The Sleuth Kit, grub-fstest), and comparing trees.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use fruix_core::tree::{Content, Dir, FileTree, Meta, Node, NodeKind};

pub const T: i64 = 1_700_000_000;

pub fn meta(uid: u32, gid: u32, perm: u16) -> Meta {
    Meta {
        uid,
        gid,
        perm,
        flags: 0,
        mtime: T,
    }
}

pub fn node(meta: Meta, kind: NodeKind) -> Node {
    Node { meta, kind }
}

pub fn file(perm: u16, bytes: Vec<u8>) -> Node {
    node(meta(0, 0, perm), NodeKind::File(Content::from(bytes)))
}

/// Deterministic pseudo-random bytes (xorshift), so contents never repeat by block.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A tree with every entry kind the writer supports (contents in memory). `big` is an
/// extra host file to add as `big.bin` (for indirect blocks without holding it in memory).
pub fn every_kind_tree(big: Option<(&Path, u64)>) -> FileTree {
    let dir = meta(0, 0, 0o755);
    let mut t = FileTree::new(dir);
    let mut add = |path: &str, n: Node| t.insert(path.as_bytes(), n, dir).unwrap();
    add("etc/motd", file(0o644, b"Welcome to Fruix\n".to_vec()));
    add("empty", file(0o600, Vec::new()));
    add("tail", file(0o644, bytes(1, 32768 * 3 + 5000)));
    add("onefrag", file(0o644, bytes(2, 4096)));
    add("twelve", file(0o644, bytes(3, 32768 * 12)));
    add("single-indirect", file(0o644, bytes(4, 32768 * 13 + 77)));
    add(
        "bin/su",
        node(
            meta(0, 0, 0o4555),
            NodeKind::File(Content::from(bytes(5, 9000))),
        ),
    );
    add(
        "bin/wall",
        node(
            meta(0, 4, 0o2555),
            NodeKind::File(Content::from(bytes(6, 100))),
        ),
    );
    add(
        "tmp",
        node(meta(0, 0, 0o1777), NodeKind::Dir(Dir::default())),
    );
    add(
        "home/user/.profile",
        node(
            meta(1001, 1001, 0o644),
            NodeKind::File(Content::from("PATH=/bin\n")),
        ),
    );
    add(
        "links/short",
        node(
            meta(0, 0, 0o755),
            NodeKind::Symlink(b"../etc/motd".to_vec()),
        ),
    );
    add(
        "links/119",
        node(meta(0, 0, 0o755), NodeKind::Symlink(vec![b'a'; 119])),
    );
    add(
        "links/120",
        node(meta(0, 0, 0o755), NodeKind::Symlink(vec![b'b'; 120])),
    );
    add(
        "links/long",
        node(meta(0, 0, 0o755), NodeKind::Symlink(vec![b'c'; 1000])),
    );
    add(
        "bin/su-hard",
        node(meta(0, 0, 0), NodeKind::HardLink(b"bin/su".to_vec())),
    );
    add(
        "links/hard-2",
        node(meta(0, 0, 0), NodeKind::HardLink(b"bin/su".to_vec())),
    );
    // Small device numbers: The Sleuth Kit reads di_rdev (db[0]) as a block address and
    // refuses one past the end of the file system. Large ones are covered by our reader.
    add(
        "dev/null",
        node(meta(0, 0, 0o666), NodeKind::CharDevice { rdev: 0x17 }),
    );
    add(
        "dev/disk0",
        node(meta(0, 5, 0o640), NodeKind::BlockDevice { rdev: 0x42 }),
    );
    add("dev/fifo", node(meta(0, 0, 0o600), NodeKind::Fifo));
    add("dev/socket", node(meta(0, 0, 0o666), NodeKind::Socket));
    let long = "n".repeat(255);
    add(
        &format!("names/{long}"),
        file(0o644, b"long name\n".to_vec()),
    );
    add(
        &format!("names/{}", "m".repeat(254)),
        file(0o644, Vec::new()),
    );
    for i in 0..3000 {
        let name = format!("many/entry-number-{i:05}-with-some-padding");
        add(&name, file(0o644, format!("{i}\n").into_bytes()));
    }
    if let Some((path, len)) = big {
        let content = Content::Host {
            path: path.to_path_buf(),
            len,
        };
        add("big.bin", node(meta(0, 0, 0o644), NodeKind::File(content)));
    }
    t
}

/// Hard links carry no metadata of their own: give them their target's, as a reader sees it.
pub fn normalized(tree: &FileTree) -> FileTree {
    fn fix(dir: &mut Dir, tree: &FileTree) {
        for node in dir.entries.values_mut() {
            match &mut node.kind {
                NodeKind::HardLink(target) => {
                    if let Some(t) = tree.get(target) {
                        node.meta = t.meta;
                    }
                }
                NodeKind::Dir(d) => fix(d, tree),
                _ => {}
            }
        }
    }
    let mut out = tree.clone();
    fix(&mut out.root, tree);
    out
}

/// Host contents read into memory, for comparing with what a reader gives back.
pub fn in_memory(tree: &FileTree) -> FileTree {
    fn fix(dir: &mut Dir) {
        for node in dir.entries.values_mut() {
            match &mut node.kind {
                NodeKind::File(c @ Content::Host { .. }) => {
                    let mut v = Vec::new();
                    std::io::Read::read_to_end(&mut c.open().unwrap(), &mut v).unwrap();
                    *c = Content::from(v);
                }
                NodeKind::Dir(d) => fix(d),
                _ => {}
            }
        }
    }
    let mut out = tree.clone();
    fix(&mut out.root);
    out
}

/// Runs a tool, failing the test (not skipping it) when the tool is missing or fails.
pub fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("`{tool}` is required (apt-get install sleuthkit grub-common): {e}")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn run_text(tool: &str, args: &[&str]) -> String {
    String::from_utf8_lossy(&run(tool, args)).into_owned()
}

/// The first difference between two trees, by path (contents summarized), or None.
pub fn first_difference(a: &FileTree, b: &FileTree) -> Option<String> {
    if a.root_meta != b.root_meta {
        return Some(format!("root meta {:?} != {:?}", a.root_meta, b.root_meta));
    }
    let (wa, wb) = (a.walk(), b.walk());
    for i in 0..wa.len().max(wb.len()) {
        let (Some((pa, na)), Some((pb, nb))) = (wa.get(i), wb.get(i)) else {
            return Some(format!("{} entries != {}", wa.len(), wb.len()));
        };
        let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        if pa != pb {
            return Some(format!("path {} != {}", show(pa), show(pb)));
        }
        if na.meta != nb.meta {
            return Some(format!("{}: meta {:?} != {:?}", show(pa), na.meta, nb.meta));
        }
        let summary = |n: &Node| match &n.kind {
            NodeKind::File(c) => format!("file of {} bytes, hash {:#x}", c.len(), {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut c.open().unwrap(), &mut v).unwrap();
                v.iter()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)))
            }),
            NodeKind::Dir(d) => format!("dir of {}", d.entries.len()),
            NodeKind::Symlink(t) => format!("symlink to {}", String::from_utf8_lossy(t)),
            k => format!("{k:?}"),
        };
        let (sa, sb) = (summary(na), summary(nb));
        if sa != sb {
            return Some(format!("{}: {sa} != {sb}", show(pa)));
        }
    }
    None
}
