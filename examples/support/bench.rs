//! Shared by the benchmarks (included with `#[path]`): a generated FreeBSD-shaped tree
//! and child-process measurement (wall time and peak RSS from `wait4`).

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Log-uniform in `lo..hi`: many small values, a few large ones, like real files.
    pub fn size(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (a + (b - a) * u).exp() as u64
    }
}

/// (directory, share of the files, size range in bytes, name prefix, suffix)
const SHAPE: &[(&str, f64, u64, u64, &str, &str)] = &[
    ("bin", 0.002, 8_000, 1_500_000, "", ""),
    ("sbin", 0.005, 8_000, 1_000_000, "", ""),
    ("lib", 0.002, 20_000, 2_000_000, "lib", ".so.7"),
    ("libexec", 0.001, 8_000, 500_000, "", ""),
    ("boot/kernel", 0.02, 8_000, 400_000, "", ".ko"),
    ("etc", 0.006, 100, 12_000, "", ".conf"),
    ("etc/rc.d", 0.004, 300, 6_000, "", ""),
    ("usr/bin", 0.012, 8_000, 1_000_000, "", ""),
    ("usr/sbin", 0.007, 8_000, 1_000_000, "", ""),
    ("usr/lib", 0.03, 2_000, 1_000_000, "lib", ".a"),
    ("usr/libexec", 0.003, 8_000, 1_000_000, "", ""),
    ("usr/include", 0.03, 300, 60_000, "", ".h"),
    ("usr/include/sys", 0.01, 300, 80_000, "", ".h"),
    ("usr/include/net", 0.004, 300, 40_000, "", ".h"),
    ("usr/include/netinet", 0.004, 300, 40_000, "", ".h"),
    ("usr/share/man/man1", 0.1, 800, 40_000, "", ".1.gz"),
    ("usr/share/man/man3", 0.22, 800, 20_000, "", ".3.gz"),
    ("usr/share/man/man4", 0.05, 800, 20_000, "", ".4.gz"),
    ("usr/share/man/man5", 0.02, 800, 20_000, "", ".5.gz"),
    ("usr/share/man/man8", 0.05, 800, 30_000, "", ".8.gz"),
    ("usr/share/man/man9", 0.08, 800, 15_000, "", ".9.gz"),
    ("usr/share/zoneinfo", 0.045, 100, 3_500, "", ""),
    ("usr/share/misc", 0.004, 100, 2_000_000, "", ""),
    ("usr/share/doc", 0.02, 500, 200_000, "", ".txt"),
    ("usr/share/examples", 0.02, 200, 30_000, "", ""),
    ("usr/share/locale", 0.06, 100, 200_000, "", ".mo"),
    ("usr/share/i18n/csmapper", 0.03, 200, 100_000, "", ".mps"),
    ("usr/share/vt/fonts", 0.001, 5_000, 300_000, "", ".fnt"),
    ("usr/tests", 0.15, 200, 40_000, "t_", ".sh"),
];

/// Writes a FreeBSD-shaped tree of about `files` files under `root`; returns (files,
/// bytes, symlinks, hard links). Deterministic: the same arguments give the same tree.
pub fn generate(root: &Path, files: u64, scale: u64) -> (u64, u64, u64, u64) {
    let mut rng = Rng(0x5eed_f00d_cafe_1234);
    let mut buf = vec![0u8; 1 << 20];
    let (mut nfiles, mut bytes, mut nsym, mut nhard) = (0u64, 0u64, 0u64, 0u64);
    for &(dir, share, lo, hi, prefix, suffix) in SHAPE {
        let n = (files as f64 * share).round() as u64;
        // Big directories are split into subdirectories, as FreeBSD's are.
        let fanout = (n / 400).max(1);
        let mut previous: Option<PathBuf> = None;
        for i in 0..n {
            let sub = if fanout > 1 {
                format!("/d{:02}", i % fanout)
            } else {
                String::new()
            };
            let d = root.join(format!("{dir}{sub}"));
            fs::create_dir_all(&d).unwrap();
            let path = d.join(format!(
                "{prefix}{dir_tag}{i:05}{suffix}",
                dir_tag = dir.replace('/', "_")
            ));
            let roll = rng.next() % 100;
            if let (true, Some(prev)) = (roll < 4, &previous) {
                // Symlinks, mostly short and relative (libfoo.so -> libfoo.so.7).
                symlink(prev.file_name().unwrap(), &path).unwrap();
                nsym += 1;
                continue;
            }
            if let (true, Some(prev)) = (roll < 6, &previous) {
                fs::hard_link(prev, &path).unwrap();
                nhard += 1;
                continue;
            }
            let mut size = rng.size(lo, hi);
            if size > 65536 {
                size *= scale;
            }
            write_random(&path, size, &mut rng, &mut buf);
            nfiles += 1;
            bytes += size;
            previous = Some(path);
        }
    }
    // The kernel itself.
    let kernel = root.join("boot/kernel/kernel");
    let size = 30_000_000 * scale;
    write_random(&kernel, size, &mut rng, &mut buf);
    (nfiles + 1, bytes + size, nsym, nhard)
}

/// Writes `size` pseudo-random (incompressible) bytes to a new file at `path`.
fn write_random(path: &Path, size: u64, rng: &mut Rng, buf: &mut [u8]) {
    let mut f = fs::File::create(path).unwrap();
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// Runs a command; returns (wall seconds, peak RSS in KiB) of that child alone.
pub fn measure(cmd: &mut Command) -> (f64, u64) {
    let start = Instant::now();
    // Reaped by wait4 below (which also reports the child's own peak memory).
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, filling `status` and `usage` we own.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert!(pid > 0, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (wall, usage.ru_maxrss as u64)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
