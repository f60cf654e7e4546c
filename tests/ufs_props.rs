//! Property tests: random trees (every entry kind, random metadata, sizes around the
//! fragment, block and indirect boundaries, several block/fragment sizes) written as UFS2
//! read back identical and check clean.

mod ufs_common;

use std::io::Cursor;

use fruix_core::image::ufs::{check, Params, Ufs, UfsLayout, UfsOptions};
use fruix_core::tree::{Content, FileTree, Meta, Node, NodeKind};
use proptest::prelude::*;
use ufs_common::{bytes, first_difference};

#[derive(Debug, Clone)]
enum KindSpec {
    File { seed: u64, size: usize },
    Dir,
    Symlink(usize),
    Char(u64),
    Block(u64),
    Fifo,
    Socket,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "etc", "usr", "bin", "x.conf", "-dash", "..."]).prop_map(String::from),
        2 => "[a-z0-9._-]{1,40}",
        1 => Just("L".repeat(255)),
    ]
    .prop_filter("not . or ..", |n| n != "." && n != "..")
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => Just(0usize),
        4 => 1usize..5000,
        2 => prop::sample::select(vec![4095usize, 4096, 4097, 32767, 32768, 32769, 12 * 32768, 12 * 32768 + 1]),
        2 => 5000usize..200_000,
        1 => 393_216usize..450_000,
    ]
}

fn kind() -> impl Strategy<Value = KindSpec> {
    prop_oneof![
        6 => (any::<u64>(), size()).prop_map(|(seed, size)| KindSpec::File { seed, size }),
        2 => Just(KindSpec::Dir),
        2 => prop_oneof![1usize..119, 119usize..122, 122usize..1024].prop_map(KindSpec::Symlink),
        1 => any::<u64>().prop_map(KindSpec::Char),
        1 => any::<u64>().prop_map(KindSpec::Block),
        1 => Just(KindSpec::Fifo),
        1 => Just(KindSpec::Socket),
    ]
}

fn meta() -> impl Strategy<Value = Meta> {
    (
        any::<u32>(),
        any::<u32>(),
        0u16..0o10000,
        any::<u32>(),
        -(1i64 << 40)..(1i64 << 40),
    )
        .prop_map(|(uid, gid, perm, flags, mtime)| Meta {
            uid,
            gid,
            perm,
            flags,
            mtime,
        })
}

fn params() -> impl Strategy<Value = Params> {
    prop::sample::select(vec![
        (32768u32, 4096u32),
        (16384, 2048),
        (8192, 1024),
        (65536, 8192),
        (4096, 512),
    ])
    .prop_map(|(bsize, fsize)| Params {
        bsize,
        fsize,
        density: 2 * fsize,
        ..Params::default()
    })
}

fn build(
    entries: Vec<(Vec<String>, KindSpec, Meta)>,
    root: Meta,
    links: Vec<prop::sample::Index>,
) -> FileTree {
    let mut t = FileTree::new(root);
    for (path, k, m) in entries {
        let kind = match k {
            KindSpec::File { seed, size } => NodeKind::File(Content::from(bytes(seed, size))),
            KindSpec::Dir => NodeKind::Dir(Default::default()),
            KindSpec::Symlink(n) => {
                NodeKind::Symlink(bytes(n as u64, n).iter().map(|b| b'!' + b % 90).collect())
            }
            KindSpec::Char(rdev) => NodeKind::CharDevice { rdev },
            KindSpec::Block(rdev) => NodeKind::BlockDevice { rdev },
            KindSpec::Fifo => NodeKind::Fifo,
            KindSpec::Socket => NodeKind::Socket,
        };
        // Paths that collide or go through a non-directory are simply skipped.
        let _ = t.insert(path.join("/").as_bytes(), Node { meta: m, kind }, root);
    }
    // Hard links at the end of the walk order, to earlier non-directories.
    let targets: Vec<Vec<u8>> = t
        .walk()
        .into_iter()
        .filter(|(_, n)| !matches!(n.kind, NodeKind::Dir(_)))
        .map(|(p, _)| p)
        .collect();
    if !targets.is_empty() {
        for (i, pick) in links.iter().enumerate() {
            let target = targets[pick.index(targets.len())].clone();
            let node = Node {
                meta: Meta::root(0, 0),
                kind: NodeKind::HardLink(target),
            };
            t.insert(format!("zzz-link-{i}").as_bytes(), node, root)
                .unwrap();
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_read_back_identical_and_check_clean(
        entries in prop::collection::vec((prop::collection::vec(name(), 1..4), kind(), meta()), 0..40),
        root in meta(),
        links in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        params in params(),
        hashes in any::<bool>(),
    ) {
        let tree = build(entries, root, links);
        let opts = UfsOptions { params, check_hashes: hashes, label: Some("prop".into()), ..UfsOptions::default() };
        let layout = UfsLayout::plan(&tree, &opts).unwrap();
        let mut img = Cursor::new(Vec::new());
        layout.write_to(&mut img, 0).unwrap();
        let img = img.into_inner();
        prop_assert_eq!(img.len() as u64, layout.size_bytes);
        let problems = check(Cursor::new(&img));
        prop_assert!(problems.is_empty(), "{:#?}", problems);
        let back = Ufs::open(Cursor::new(&img), 0).unwrap().to_tree().unwrap();
        prop_assert_eq!(first_difference(&back, &ufs_common::normalized(&tree)), None);
    }
}
