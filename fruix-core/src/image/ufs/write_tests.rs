//! Progress reports of the UFS2 writers.

use super::PROGRESS_STEP;
use crate::image::ufs::{tree_from_host, UfsLayout, UfsOptions};
use crate::tree::{Content, Meta, Node, NodeKind};
use std::io::Cursor;

const MIB: usize = 1 << 20;

/// Checks that `reports` start at `(0, total)`, grow strictly, step by at least
/// [`PROGRESS_STEP`] between the first and the last, and end at `(total, total)`.
fn assert_monotonic(reports: &[(u64, u64)], total: u64) {
    assert_eq!(reports.first(), Some(&(0, total)), "{reports:?}");
    assert_eq!(reports.last(), Some(&(total, total)), "{reports:?}");
    assert!(reports.iter().all(|&(_, t)| t == total), "{reports:?}");
    for pair in reports.windows(2) {
        assert!(pair[0].0 < pair[1].0, "done shrank or stalled: {reports:?}");
    }
    let inner = &reports[..reports.len() - 1];
    for pair in inner.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= PROGRESS_STEP,
            "too fine: {reports:?}"
        );
    }
}

#[test]
fn writers_report_content_bytes_as_they_write_them() {
    let dir = tempfile::tempdir().unwrap();
    // Host files of several sizes (some empty), in a subdirectory too, and one in memory.
    let sizes = [5 * MIB, 1024, 0, 3 * MIB, 9 * MIB, 2 * MIB + 17, 0, 6 * MIB];
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (i, size) in sizes.iter().enumerate() {
        let name = if i % 2 == 0 {
            format!("f{i}")
        } else {
            format!("sub/f{i}")
        };
        let bytes: Vec<u8> = (0..*size).map(|b| (b % 251) as u8 + 1).collect();
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let mut tree = tree_from_host(dir.path(), Some(0)).unwrap();
    let in_memory = vec![7u8; 4 * MIB + 3];
    let file = Node {
        meta: Meta::root(0o644, 0),
        kind: NodeKind::File(Content::from(in_memory)),
    };
    tree.insert(b"sub/in-memory", file, Meta::root(0o755, 0))
        .unwrap();
    let total = (sizes.iter().sum::<usize>() + 4 * MIB + 3) as u64;

    let plan = UfsLayout::plan(&tree, &UfsOptions::default()).unwrap();
    assert_eq!(plan.content_size(), total);

    // The file writer (the image's path)...
    let out = tempfile::tempfile().unwrap();
    let mut to_file = Vec::new();
    let stats = plan
        .write_to_file_with_progress(&out, 0, &mut |done, t| to_file.push((done, t)))
        .unwrap();
    assert_eq!(stats.content, total);
    assert_monotonic(&to_file, total);
    // 34 MiB in steps of at least 4 MiB, after whole files: more than "0" and "done".
    assert!(to_file.len() >= 5, "{to_file:?}");

    // ...and the generic one report alike.
    let mut image = Cursor::new(Vec::new());
    let mut to_writer = Vec::new();
    plan.write_to_with_progress(&mut image, 0, &mut |done, t| to_writer.push((done, t)))
        .unwrap();
    assert_eq!(to_writer, to_file);
}

#[test]
fn an_empty_tree_reports_once() {
    let dir = tempfile::tempdir().unwrap();
    let tree = tree_from_host(dir.path(), Some(0)).unwrap();
    let plan = UfsLayout::plan(&tree, &UfsOptions::default()).unwrap();
    let mut reports = Vec::new();
    plan.write_to_with_progress(&mut Cursor::new(Vec::new()), 0, &mut |d, t| {
        reports.push((d, t))
    })
    .unwrap();
    assert_eq!(reports, [(0, 0)]);
}
