//! Benchmark: `fruix makefs -t ufs2` against Debian's `makefs -t ffs -o version=2` on the
//! same generated FreeBSD-shaped tree, in one run. Not a test: run it by hand.
//!
//! ```text
//! apt-get install -y makefs
//! cargo build --release -p fruix-core --bin fruix
//! cargo run --release --example bench-makefs [-- --files N --scale K --rounds R --dir DIR --keep true]
//! ```
//!
//! It writes a tree of about `N` files (default 40,000; ~600 MB at scale 1) with FreeBSD's
//! layout and size mix (kernel modules, libraries, binaries, headers, man pages, locale and
//! zoneinfo files, configuration), symlinks and hard links; then times each tool `R` times
//! (median wall time) and reads each child's peak resident memory from `wait4`. With
//! `--scale 3` the large files grow threefold while the file count stays: our peak memory
//! should not move. Both tools read the same files from the page cache; ours is also
//! checked with `fruix fsck` afterwards.

#[path = "support/bench.rs"]
mod bench;

use bench::{generate, measure, median};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn fruix_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("fruix");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--release", "-p", "fruix-core", "--bin", "fruix"])
            .status()
            .unwrap();
        assert!(st.success(), "building fruix failed");
    }
    bin
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut files, mut scale, mut rounds, mut dir, mut keep) =
        (40_000u64, 1u64, 5usize, None, false);
    while let Some(a) = args.next() {
        let v = args.next().expect("option needs a value");
        match a.as_str() {
            "--files" => files = v.parse().unwrap(),
            "--scale" => scale = v.parse().unwrap(),
            "--rounds" => rounds = v.parse().unwrap(),
            "--dir" => dir = Some(PathBuf::from(v)),
            "--keep" => keep = v.parse().unwrap(),
            _ => panic!("unknown option {a}"),
        }
    }
    let fruix = fruix_binary();
    let tmp = tempfile::Builder::new()
        .prefix("bench-makefs")
        .tempdir_in(dir.unwrap_or_else(std::env::temp_dir))
        .unwrap();
    let src = tmp.path().join("tree");
    let t = Instant::now();
    let (nfiles, bytes, nsym, nhard) = generate(&src, files, scale);
    println!(
        "tree: {nfiles} files, {:.0} MiB, {nsym} symlinks, {nhard} hard links (generated in {:.1} s)",
        bytes as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
    let ours_img = tmp.path().join("fruix.img");
    let theirs_img = tmp.path().join("makefs.img");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut ours_rss, mut theirs_rss) = (0, 0);
    // Each run starts with no image and no dirty pages left by the previous one, so
    // background writeback does not land on the next tool's clock.
    let settle = |img: &Path| {
        let _ = fs::remove_file(img);
        let _ = Command::new("sync").status();
    };
    let run_theirs = || {
        settle(&theirs_img);
        measure(
            Command::new("makefs")
                .args(["-t", "ffs", "-o", "version=2", "-T", "0"])
                .arg(&theirs_img)
                .arg(&src)
                .stdout(std::process::Stdio::null()),
        )
    };
    let run_ours = || {
        settle(&ours_img);
        measure(
            Command::new(&fruix)
                .args(["makefs", "-t", "ufs2", "-T", "0"])
                .arg(&ours_img)
                .arg(&src)
                .stdout(std::process::Stdio::null()),
        )
    };
    for round in 0..rounds {
        // Alternate who goes first, so neither always inherits the other's aftermath.
        let ((ow, orss), (tw, trss)) = if round % 2 == 0 {
            let t = run_theirs();
            (run_ours(), t)
        } else {
            let o = run_ours();
            (o, run_theirs())
        };
        println!("round {round}: fruix {ow:.2} s, makefs {tw:.2} s");
        ours.push(ow);
        theirs.push(tw);
        ours_rss = ours_rss.max(orss);
        theirs_rss = theirs_rss.max(trss);
    }
    let st = Command::new(&fruix)
        .arg("fsck")
        .arg(&ours_img)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "fruix fsck: {}",
        String::from_utf8_lossy(&st.stdout)
    );
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / (1 << 20) as f64;
    let (o, m) = (median(ours), median(theirs));
    println!(
        "{:<42} {:>9} {:>14} {:>11}",
        "tool", "wall (s)", "peak RSS (MiB)", "image (MiB)"
    );
    println!(
        "{:<42} {:>9.2} {:>14.1} {:>11.0}",
        "fruix makefs -t ufs2",
        o,
        ours_rss as f64 / 1024.0,
        size(&ours_img)
    );
    println!(
        "{:<42} {:>9.2} {:>14.1} {:>11.0}",
        "makefs -t ffs -o version=2 (Debian)",
        m,
        theirs_rss as f64 / 1024.0,
        size(&theirs_img)
    );
    println!(
        "wall-time ratio fruix/makefs: {:.2} (median of {rounds})",
        o / m
    );
    if keep {
        println!("kept {}", tmp.keep().display());
    }
}
