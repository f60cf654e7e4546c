//! UFS2 images checked by independent readers: The Sleuth Kit (fsstat, fls, istat, icat)
//! and grub-fstest, as well as our own reader and checker. The tools must be installed
//! (`apt-get install sleuthkit grub-common`): a missing tool fails the test.

mod ufs_common;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use fruix_core::image::ufs::{self, check, Ufs, UfsLayout, UfsOptions};
use fruix_core::tree::{Content, FileTree, Node, NodeKind};
use ufs_common::*;

fn write_image(tree: &FileTree, opts: &UfsOptions, path: &Path) -> u64 {
    let layout = UfsLayout::plan(tree, opts).expect("plan");
    let mut f = File::create(path).unwrap();
    layout.write_to(&mut f, 0).expect("write");
    layout.size_bytes
}

/// TSK's `fls -r -p` listing: path -> (type letters, inode).
fn fls(img: &str) -> HashMap<String, (String, u64)> {
    let mut out = HashMap::new();
    for line in run_text("fls", &["-f", "ufs2", "-r", "-p", img]).lines() {
        let Some((head, path)) = line.split_once(":\t") else {
            continue;
        };
        let mut parts = head.split_whitespace();
        let (Some(kind), Some(ino)) = (parts.next(), parts.next()) else {
            continue;
        };
        out.insert(path.to_string(), (kind.to_string(), ino.parse().unwrap()));
    }
    out
}

fn type_letter(kind: &NodeKind) -> char {
    match kind {
        NodeKind::File(_) | NodeKind::HardLink(_) => 'r',
        NodeKind::Dir(_) => 'd',
        NodeKind::Symlink(_) => 'l',
        NodeKind::CharDevice { .. } => 'c',
        NodeKind::BlockDevice { .. } => 'b',
        NodeKind::Fifo => 'p',
        NodeKind::Socket => 's',
    }
}

/// TSK's letter for an inode's type (its name letter, but `h` for sockets).
fn meta_letter(kind: &NodeKind) -> char {
    match kind {
        NodeKind::Socket => 'h',
        k => type_letter(k),
    }
}

/// `ls -l`-style permission string, as istat prints after the type letter.
fn perm_string(perm: u16) -> String {
    let mut s = String::new();
    for (i, who) in [(0o4000, 6), (0o2000, 3), (0o1000, 0)].iter().enumerate() {
        let bits = (perm >> who.1) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let special = perm & who.0 != 0;
        let x = bits & 1 != 0;
        s.push(match (special, x, i) {
            (true, true, 2) => 't',
            (true, false, 2) => 'T',
            (true, true, _) => 's',
            (true, false, _) => 'S',
            (false, true, _) => 'x',
            (false, false, _) => '-',
        });
    }
    s
}

fn istat_field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("istat shows no `{key}`:\n{text}"))
        .trim()
}

/// Resolves a hard link to the node holding the data and metadata.
fn target<'t>(tree: &'t FileTree, node: &'t Node) -> &'t Node {
    match &node.kind {
        NodeKind::HardLink(p) => tree.get(p).unwrap(),
        _ => node,
    }
}

fn content(node: &Node) -> Vec<u8> {
    let NodeKind::File(c) = &node.kind else {
        panic!("not a file")
    };
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut c.open().unwrap(), &mut v).unwrap();
    v
}

#[test]
fn every_entry_kind_reads_back_with_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    // Past 12 + 4096 blocks: the double indirect tree is used.
    let big_len = 32768 * (12 + 4096 + 100) + 1234;
    let big = dir.path().join("big.bin");
    {
        let mut f = File::create(&big).unwrap();
        let chunk = bytes(7, 1 << 20);
        let mut left = big_len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
    }
    let tree = every_kind_tree(Some((&big, big_len)));
    let opts = UfsOptions {
        label: Some("FRUIXROOT".into()),
        ..UfsOptions::default()
    };
    let img_path = dir.path().join("ufs.img");
    let size = write_image(&tree, &opts, &img_path);
    let img = img_path.to_str().unwrap();
    assert_eq!(std::fs::metadata(&img_path).unwrap().len(), size);

    // Our own checker and reader.
    let problems = check(File::open(&img_path).unwrap());
    assert!(problems.is_empty(), "{problems:#?}");
    let mut ours = Ufs::open(File::open(&img_path).unwrap(), 0).unwrap();
    let back = ours.to_tree().unwrap();
    assert_eq!(
        first_difference(&back, &normalized(&in_memory(&tree))),
        None
    );

    // fsstat: the superblock as TSK sees it.
    let stat = run_text("fsstat", &["-f", "ufs2", img]);
    assert!(stat.contains("File System Type: UFS 2"), "{stat}");
    assert!(stat.contains("Volume Name: FRUIXROOT"), "{stat}");
    assert!(
        stat.contains("Block Size: 32768") && stat.contains("Fragment Size: 4096"),
        "{stat}"
    );

    // fls: every path with its type; hard links share their target's inode.
    let listed = fls(img);
    let walk = tree.walk();
    for (path, node) in &walk {
        let path = String::from_utf8_lossy(path).into_owned();
        let (kind, ino) = listed
            .get(&path)
            .unwrap_or_else(|| panic!("fls misses {path}"));
        assert_eq!(
            kind,
            &format!("{}/{}", type_letter(&node.kind), meta_letter(&node.kind)),
            "{path}"
        );
        if let NodeKind::HardLink(t) = &node.kind {
            assert_eq!(
                ino,
                &listed[&String::from_utf8_lossy(t).into_owned()].1,
                "{path}"
            );
        }
    }

    // istat: size, mode, owner and link count of everything outside the big directory.
    for (path, node) in walk.iter().filter(|(p, _)| !p.starts_with(b"many/")) {
        let path = String::from_utf8_lossy(path).into_owned();
        let ino = listed[&path].1.to_string();
        let text = run_text("istat", &["-f", "ufs2", img, &ino]);
        let real = target(&tree, node);
        let m = real.meta;
        assert_eq!(
            istat_field(&text, "uid / gid:"),
            format!("{} / {}", m.uid, m.gid),
            "{path}"
        );
        let mode = format!("{}{}", meta_letter(&real.kind), perm_string(m.perm));
        assert_eq!(istat_field(&text, "mode:"), mode, "{path}");
        let names = walk
            .iter()
            .filter(|(p, n)| {
                listed[&String::from_utf8_lossy(p).into_owned()].1 == listed[&path].1
                    && !matches!(n.kind, NodeKind::Dir(_))
            })
            .count();
        let links: u64 = istat_field(&text, "num of links:").parse().unwrap();
        match &real.kind {
            NodeKind::Dir(d) => {
                let subdirs = d
                    .entries
                    .values()
                    .filter(|n| matches!(n.kind, NodeKind::Dir(_)))
                    .count();
                assert_eq!(links, 2 + subdirs as u64, "{path}");
            }
            _ => assert_eq!(links, names as u64, "{path}"),
        }
        let size: u64 = istat_field(&text, "size:").parse().unwrap();
        match &real.kind {
            NodeKind::File(c) => assert_eq!(size, c.len(), "{path}"),
            NodeKind::Symlink(t) => {
                assert_eq!(size, t.len() as u64, "{path}");
                let shown = istat_field(&text, "symbolic link to:");
                assert_eq!(shown.as_bytes(), &t[..], "{path}");
            }
            NodeKind::Dir(_) => assert_eq!(size % 512, 0, "{path}"),
            _ => assert_eq!(size, 0, "{path}"),
        }
        // icat: the bytes of every regular file.
        if let NodeKind::File(_) = real.kind {
            assert!(
                run("icat", &["-f", "ufs2", img, &ino]) == content(real),
                "icat {path}"
            );
        }
    }

    // grub-fstest: directory listings and byte comparisons (symlinks are judged by TSK:
    // GRUB 2.06 mangles inline symlink targets).
    let root = run_text("grub-fstest", &[img, "ls", "/"]);
    for name in [
        "etc/", "bin/", "many/", "names/", "empty", "tail", "big.bin",
    ] {
        assert!(
            root.split_whitespace().any(|w| w == name),
            "grub ls / misses {name}: {root}"
        );
    }
    let many = run_text("grub-fstest", &[img, "ls", "/many"]);
    assert_eq!(many.split_whitespace().count(), 3000);
    assert_eq!(
        run_text("grub-fstest", &[img, "cat", "/etc/motd"]),
        "Welcome to Fruix\n"
    );
    let host = dir.path().join("host");
    for (path, node) in walk
        .iter()
        .filter(|(p, _)| !p.starts_with(b"many/") || p.ends_with(b"07-with-some-padding"))
    {
        let real = target(&tree, node);
        let NodeKind::File(c) = &real.kind else {
            continue;
        };
        let host_file = match c {
            Content::Host { path, .. } => path.clone(),
            Content::Bytes(b) => {
                std::fs::write(&host, b).unwrap();
                host.clone()
            }
        };
        let p = format!("/{}", String::from_utf8_lossy(path));
        run(
            "grub-fstest",
            &[img, "cmp", &p, host_file.to_str().unwrap()],
        );
    }
}

#[test]
fn a_file_over_four_gib_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse host file: cheap to make, read and write (zero blocks stay holes).
    let len = (4u64 << 30) + 32768 * 3 + 100;
    let big = dir.path().join("huge");
    let marks: Vec<(u64, Vec<u8>)> = [0, 1 << 20, 3 << 30, (4 << 30) - 7, len - 100]
        .iter()
        .enumerate()
        .map(|(i, &at)| (at, bytes(i as u64 + 10, 100)))
        .collect();
    {
        let mut f = File::create(&big).unwrap();
        f.set_len(len).unwrap();
        for (at, b) in &marks {
            f.seek(SeekFrom::Start(*at)).unwrap();
            f.write_all(b).unwrap();
        }
    }
    let dirm = meta(0, 0, 0o755);
    let mut tree = FileTree::new(dirm);
    let content = Content::Host {
        path: big.clone(),
        len,
    };
    tree.insert(
        b"huge",
        node(meta(0, 0, 0o644), NodeKind::File(content)),
        dirm,
    )
    .unwrap();
    let img_path = dir.path().join("ufs.img");
    write_image(&tree, &UfsOptions::default(), &img_path);
    let img = img_path.to_str().unwrap();
    let used = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&img_path).unwrap()) * 512;
    assert!(
        used < 64 << 20,
        "the image should be sparse, {used} bytes allocated"
    );

    assert_eq!(check(File::open(&img_path).unwrap()), vec![]);
    let mut ufs = Ufs::open(File::open(&img_path).unwrap(), 0).unwrap();
    let ino = ufs.lookup(b"huge").unwrap();
    assert_eq!(ufs.stat(ino).unwrap().size, len);
    let mut cmp = Comparing::new(&big);
    assert_eq!(ufs.read_file(ino, &mut cmp).unwrap(), len);
    assert_eq!(cmp.at, len);

    let text = run_text("istat", &["-f", "ufs2", img, &ino.to_string()]);
    assert_eq!(istat_field(&text, "size:"), len.to_string());
    run("grub-fstest", &[img, "cmp", "/huge", big.to_str().unwrap()]);
    let _ = ufs::Params::default();
}

/// A `Write` that compares what it is given with a host file.
struct Comparing {
    file: std::io::BufReader<File>,
    at: u64,
}

impl Comparing {
    fn new(path: &Path) -> Comparing {
        Comparing {
            file: std::io::BufReader::with_capacity(1 << 20, File::open(path).unwrap()),
            at: 0,
        }
    }
}

impl Write for Comparing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut expected = vec![0u8; buf.len()];
        std::io::Read::read_exact(&mut self.file, &mut expected)?;
        assert!(expected == buf, "content differs near byte {}", self.at);
        self.at += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn images_are_byte_reproducible_and_sized_minimally() {
    let tree = every_kind_tree(None);
    let opts = UfsOptions::default();
    let write = || {
        let layout = UfsLayout::plan(&tree, &opts).unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        layout.write_to(&mut out, 0).unwrap();
        out.into_inner()
    };
    let (a, b) = (write(), write());
    assert!(a == b, "two writes differ");
    let min = ufs::min_size(&tree, &opts).unwrap();
    assert_eq!(a.len() as u64, min);
    // One block less does not fit, and the error says what is needed.
    let small = UfsOptions {
        size: Some(min - 32768),
        ..UfsOptions::default()
    };
    match UfsLayout::plan(&tree, &small) {
        Err(ufs::PlanError::TooSmall { needed, given }) => {
            assert_eq!((needed, given), (min, min - 32768));
        }
        Err(e) => panic!("expected TooSmall, got {e}"),
        Ok(_) => panic!("expected TooSmall, it fitted"),
    }
}

#[test]
fn writes_into_a_partition_at_an_offset() {
    let tree = every_kind_tree(None);
    let opts = UfsOptions {
        size: Some(64 << 20),
        ..UfsOptions::default()
    };
    let layout = UfsLayout::plan(&tree, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let offset = 1 << 20;
    let total = offset + (64 << 20) + (1 << 20);
    let mut f = File::create(&path).unwrap();
    f.set_len(total).unwrap();
    layout.write_to(&mut f, offset).unwrap();
    assert_eq!(
        f.metadata().unwrap().len(),
        total,
        "a longer target keeps its length"
    );
    assert_eq!(ufs::check_at(File::open(&path).unwrap(), offset), vec![]);
    let mut r = Ufs::open(File::open(&path).unwrap(), offset).unwrap();
    let ino = r.lookup(b"etc/motd").unwrap();
    let mut out = Vec::new();
    r.read_file(ino, &mut out).unwrap();
    assert_eq!(out, b"Welcome to Fruix\n");
    let sectors = (offset / 512).to_string();
    let listing = run_text(
        "fls",
        &["-f", "ufs2", "-o", &sectors, path.to_str().unwrap(), "2"],
    );
    assert!(listing.contains("etc"), "{listing}");
}

#[test]
fn the_file_fast_path_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse");
    let len = 50u64 << 20;
    {
        let mut f = File::create(&sparse).unwrap();
        f.set_len(len).unwrap();
        for at in [5000u64, 20 << 20, len - 10] {
            f.seek(SeekFrom::Start(at)).unwrap();
            f.write_all(&bytes(at, 10)).unwrap();
        }
    }
    let mut tree = every_kind_tree(Some((&sparse, len)));
    let dirm = meta(0, 0, 0o755);
    for (name, data) in [
        ("dense", bytes(11, 300_000)),
        ("zeros", vec![0u8; 100_000]),
        ("nothing", vec![]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &data).unwrap();
        let content = Content::Host {
            path,
            len: data.len() as u64,
        };
        let n = node(meta(0, 0, 0o644), NodeKind::File(content));
        tree.insert(format!("host/{name}").as_bytes(), n, dirm)
            .unwrap();
    }
    let layout = UfsLayout::plan(&tree, &UfsOptions::default()).unwrap();
    let mut generic = std::io::Cursor::new(Vec::new());
    layout.write_to(&mut generic, 0).unwrap();
    let img = dir.path().join("fast.img");
    layout
        .write_to_file(&File::create(&img).unwrap(), 0)
        .unwrap();
    assert!(
        std::fs::read(&img).unwrap() == generic.into_inner(),
        "the two writers differ"
    );
    let allocated = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&img).unwrap()) * 512;
    assert!(
        allocated < 20 << 20,
        "the 50 MiB sparse source stays sparse: {allocated} bytes allocated"
    );
    assert_eq!(check(File::open(&img).unwrap()), vec![]);

    // Many sources after a failing one: the writer stops without waiting on them.
    for i in 0..600 {
        let path = dir.path().join(format!("many-{i}"));
        std::fs::write(&path, b"x").unwrap();
        let content = Content::Host { path, len: 1 };
        let n = node(meta(0, 0, 0o644), NodeKind::File(content));
        tree.insert(format!("host/zz/{i:04}").as_bytes(), n, dirm)
            .unwrap();
    }
    let layout = UfsLayout::plan(&tree, &UfsOptions::default()).unwrap();
    // A source that no longer has the length the tree recorded is an error, not an image.
    std::fs::write(dir.path().join("dense"), b"short").unwrap();
    let err = layout
        .write_to_file(&File::create(&img).unwrap(), 0)
        .unwrap_err();
    assert!(matches!(err, ufs::WriteError::Length { .. }), "{err}");
    let err = layout
        .write_to(&mut std::io::Cursor::new(Vec::new()), 0)
        .unwrap_err();
    assert!(matches!(err, ufs::WriteError::Length { .. }), "{err}");
}
