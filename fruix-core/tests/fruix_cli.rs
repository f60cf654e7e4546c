//! The `fruix` binary: `makefs` from a host directory and `fsck` on bare images and GPT
//! disk images, with their exit codes (0 ok, 1 failure, 2 usage).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use fruix_core::image::gpt::{self, Guid, Partition, PartitionType, Table};
use fruix_core::image::ufs::{self, Ufs};

fn fruix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fruix"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sh(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().unwrap();
    assert!(st.success(), "{cmd} {args:?}");
}

/// A host directory with every kind of entry.
fn host_tree(root: &Path) {
    fs::create_dir_all(root.join("etc/rc.d")).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::write(root.join("etc/motd"), "hello\n").unwrap();
    fs::write(root.join("etc/rc.d/sshd"), vec![b'#'; 50_000]).unwrap();
    fs::write(root.join("bin/sh"), vec![7u8; 400_000]).unwrap();
    fs::set_permissions(root.join("bin/sh"), fs::Permissions::from_mode(0o4555)).unwrap();
    fs::hard_link(root.join("bin/sh"), root.join("bin/sh2")).unwrap();
    fs::hard_link(root.join("bin/sh"), root.join("etc/sh3")).unwrap();
    std::os::unix::fs::symlink("../etc/motd", root.join("bin/motd")).unwrap();
    std::os::unix::fs::symlink("x".repeat(300), root.join("bin/long")).unwrap();
    sh("mkfifo", &[root.join("dev/fifo").to_str().unwrap()]);
    sh(
        "mknod",
        &[root.join("dev/null").to_str().unwrap(), "c", "1", "3"],
    );
    std::os::unix::net::UnixListener::bind(root.join("dev/sock")).unwrap();
    fs::create_dir(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

#[test]
fn makefs_then_fsck() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    host_tree(&src);
    let img = dir.path().join("a.img");
    let img2 = dir.path().join("b.img");
    let (i, i2, s) = (
        img.to_str().unwrap(),
        img2.to_str().unwrap(),
        src.to_str().unwrap(),
    );
    let out = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-o",
        "label=FRUIX",
        "-T",
        "1234567",
        i,
        s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-o",
        "label=FRUIX",
        "-T",
        "1234567",
        i2,
        s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        fs::read(&img).unwrap() == fs::read(&img2).unwrap(),
        "two runs differ"
    );

    let out = fruix(&["fsck", i]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("clean"));

    let mut r = Ufs::open(fs::File::open(&img).unwrap(), 0).unwrap();
    assert_eq!(&r.sb.volname[..6], b"FRUIX\0");
    let sh = r.lookup(b"bin/sh").unwrap();
    assert_eq!(r.lookup(b"bin/sh2").unwrap(), sh);
    assert_eq!(r.lookup(b"etc/sh3").unwrap(), sh);
    let st = r.stat(sh).unwrap();
    assert_eq!(
        (st.nlink, st.perm, st.mtime, st.size),
        (3, 0o4555, 1_234_567, 400_000)
    );
    let host = fs::metadata(src.join("bin/sh")).unwrap();
    assert_eq!((st.uid, st.gid), (host.uid(), host.gid()));
    let (motd, long) = (
        r.lookup(b"bin/motd").unwrap(),
        r.lookup(b"bin/long").unwrap(),
    );
    assert_eq!(r.read_link(motd).unwrap(), b"../etc/motd");
    assert_eq!(r.read_link(long).unwrap(), "x".repeat(300).as_bytes());
    let null = r.stat_path(b"dev/null").unwrap();
    assert_eq!((null.ftype, null.rdev), (ufs::FileType::Char, 0x103));
    assert_eq!(
        r.stat_path(b"dev/sock").unwrap().ftype,
        ufs::FileType::Socket
    );
    assert_eq!(r.stat_path(b"dev/fifo").unwrap().ftype, ufs::FileType::Fifo);
    assert_eq!(r.stat_path(b"tmp").unwrap().perm, 0o1777);

    // Without -T the host's own times are kept.
    let out = fruix(&["makefs", "-t", "ufs2", i2, s]);
    assert!(out.status.success(), "{}", text(&out));
    let mut r = Ufs::open(fs::File::open(&img2).unwrap(), 0).unwrap();
    let motd = r.stat_path(b"etc/motd").unwrap();
    assert_eq!(
        motd.mtime,
        fs::metadata(src.join("etc/motd")).unwrap().mtime()
    );

    // A corrupted image fails fsck with exit 1 and names the problem.
    let mut bytes = fs::read(&img).unwrap();
    bytes[65536 + 680] ^= 1;
    fs::write(&img2, &bytes).unwrap();
    let out = fruix(&["fsck", i2]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("check-hash"), "{}", text(&out));
}

#[test]
fn size_too_small_says_what_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("big"), vec![1u8; 3 << 20]).unwrap();
    let img = dir.path().join("x.img");
    let out = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-s",
        "1m",
        img.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(
        msg.contains("needs") && msg.contains("1048576 bytes"),
        "{msg}"
    );
    let out = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-s",
        "64m",
        img.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::metadata(&img).unwrap().len(), 64 << 20);
}

#[test]
fn makefs_takes_sizes_as_fruix_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    host_tree(&src);
    let img = dir.path().join("x.img");
    let size = fruix_core::ByteSize::mib(320).to_string();
    assert_eq!(size, "320MiB");
    let out = fruix(&[
        "makefs",
        "-t",
        "ufs2",
        "-s",
        &size,
        img.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::metadata(&img).unwrap().len(), 320 << 20);
    let out = fruix(&["fsck", img.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(fruix(&["makefs"]).status.code(), Some(2));
    assert_eq!(
        fruix(&["makefs", "-t", "ffs", "a", "b"]).status.code(),
        Some(2)
    );
    assert_eq!(
        fruix(&["makefs", "-t", "ufs2", "-o", "bogus=1", "a", "b"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        fruix(&["makefs", "-t", "ufs2", "-s", "12q", "a", "b"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(fruix(&["fsck"]).status.code(), Some(2));
    assert_eq!(fruix(&["frobnicate"]).status.code(), Some(2));
}

/// Writes a GPT over the whole of `f` naming `parts` as (type, first LBA, last LBA).
fn write_gpt(f: &mut fs::File, parts: &[(PartitionType, u64, u64)]) {
    let sectors = f.metadata().unwrap().len() / 512;
    let mut table = Table::new(Guid::from_fields(1, 2, 3, [4; 8]), sectors);
    for (n, &(partition_type, first_lba, last_lba)) in (1..).zip(parts) {
        table.partitions.push(Partition {
            number: n,
            partition_type,
            guid: Guid::from_fields(n, 0, 0, [0; 8]),
            first_lba,
            last_lba,
            attributes: 0,
            label: format!("p{n}"),
        });
    }
    gpt::write(&table, f).unwrap();
}

#[test]
fn fsck_checks_every_ufs_partition_of_a_gpt_disk() {
    use fruix_core::image::ufs::{UfsLayout, UfsOptions};
    use fruix_core::tree::{FileTree, Meta, Node, NodeKind};
    let m = Meta::root(0o755, 0);
    let mut tree = FileTree::new(m);
    let file = Node {
        meta: Meta::root(0o644, 0),
        kind: NodeKind::File("data\n".into()),
    };
    tree.insert(b"etc/file", file, m).unwrap();
    let layout = UfsLayout::plan(
        &tree,
        &UfsOptions {
            size: Some(8 << 20),
            ..UfsOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    let mut f = fs::File::create(&disk).unwrap();
    f.set_len(20 << 20).unwrap();
    let (a, b) = (2048u64, 2048 + 16384);
    write_gpt(
        &mut f,
        &[
            (PartitionType::EfiSystem, 40, 2047),
            (PartitionType::FreebsdUfs, a, a + 16383),
            (PartitionType::FreebsdUfs, b, b + 16383),
        ],
    );
    layout.write_to(&mut f, a * 512).unwrap();
    layout.write_to(&mut f, b * 512).unwrap();
    drop(f);
    let d = disk.to_str().unwrap();
    let out = fruix(&["fsck", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("partition 2: clean") && text(&out).contains("partition 3: clean"));
    // Damage the second file system only.
    let mut bytes = fs::read(&disk).unwrap();
    bytes[(b * 512 + 65536 + 1080) as usize] ^= 4; // fs_size
    fs::write(&disk, &bytes).unwrap();
    let out = fruix(&["fsck", d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("partition 2: clean") && text(&out).contains("partition 3: "));
    // A partition table damaged in both copies is an error, not a bare file system.
    bytes[512 + 40] ^= 1;
    let backup = bytes.len() - 512;
    bytes[backup + 40] ^= 1;
    fs::write(&disk, &bytes).unwrap();
    let out = fruix(&["fsck", d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no intact GPT"), "{}", text(&out));
}
