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
    let (wall, rss, _) = measure_cpu(cmd);
    (wall, rss)
}

/// [`measure`], and the child's CPU time (user + system seconds): on a shared machine,
/// what the step itself cost.
pub fn measure_cpu(cmd: &mut Command) -> (f64, u64, f64) {
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
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        wall,
        usage.ru_maxrss as u64,
        secs(usage.ru_utime) + secs(usage.ru_stime),
    )
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// What [`release_sets`] wrote.
pub struct SetStats {
    pub files: u64,
    pub bytes: u64,
    pub symlinks: u64,
    pub hard_links: u64,
    pub setuid: u64,
    pub schg: u64,
    pub base_txz: u64,
    pub kernel_txz: u64,
}

/// Fills `buf` with bytes that compress about as well as a FreeBSD base does (xz gets
/// 4-5x): short runs copied from a shared 256 KiB pool (matches within xz's window) with
/// a little noise between them.
pub fn fill_compressible(buf: &mut [u8], rng: &mut Rng, pool: &[u8]) {
    let mut at = 0;
    while at < buf.len() {
        let r = rng.next();
        let (len, copy) = if r % 8 < 7 {
            (8 + (r >> 8) as usize % 56, true)
        } else {
            (8 + (r >> 8) as usize % 24, false)
        };
        let len = len.min(buf.len() - at);
        if copy {
            let from = (r >> 20) as usize % (pool.len() - 64);
            buf[at..at + len].copy_from_slice(&pool[from..from + len]);
        } else {
            for b in &mut buf[at..at + len] {
                *b = rng.next() as u8;
            }
        }
        at += len;
    }
}

/// One `.txz` being written: a tar stream into a multithreaded xz encoder (as FreeBSD's
/// release build runs `xz -T0`, so the sets have many blocks).
struct SetWriter {
    tar: tar::Builder<xz2::write::XzEncoder<fs::File>>,
    dirs: std::collections::BTreeSet<String>,
}

impl SetWriter {
    fn new(path: &Path) -> SetWriter {
        let stream = xz2::stream::MtStreamBuilder::new()
            .threads(2)
            .preset(1)
            .block_size(24 << 20)
            .encoder()
            .unwrap();
        let file = fs::File::create(path).unwrap();
        let mut tar = tar::Builder::new(xz2::write::XzEncoder::new_stream(file, stream));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut w = SetWriter {
            tar,
            dirs: Default::default(),
        };
        w.dir(".");
        w
    }

    fn header(kind: tar::EntryType, perm: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(perm);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(size);
        h
    }

    fn dir(&mut self, rel: &str) {
        if rel != "." {
            if let Some((parent, _)) = rel.rsplit_once('/') {
                if !self.dirs.contains(parent) {
                    self.dir(parent);
                }
            } else if !self.dirs.contains(".") {
                self.dir(".");
            }
        }
        if self.dirs.insert(rel.to_owned()) {
            let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
            let name = if rel == "." {
                "./".to_owned()
            } else {
                format!("./{rel}/")
            };
            self.tar
                .append_data(&mut h, name, std::io::empty())
                .unwrap();
        }
    }

    fn parent(&mut self, rel: &str) {
        let parent = rel.rsplit_once('/').map_or(".", |(p, _)| p).to_owned();
        if !self.dirs.contains(&parent) {
            self.dir(&parent);
        }
    }

    /// A pax extended header giving the next entry BSD file flags.
    fn fflags(&mut self, flags: &str) {
        let body = format!(" SCHILY.fflags={flags}\n");
        let mut len = body.len() + 1;
        if format!("{len}{body}").len() != len {
            len += 1;
        }
        let record = format!("{len}{body}");
        let mut h = Self::header(tar::EntryType::XHeader, 0o644, record.len() as u64);
        self.tar
            .append_data(&mut h, "./PaxHeaders/x", record.as_bytes())
            .unwrap();
    }

    fn file(&mut self, rel: &str, perm: u32, data: &[u8]) {
        self.parent(rel);
        let mut h = Self::header(tar::EntryType::Regular, perm, data.len() as u64);
        self.tar
            .append_data(&mut h, format!("./{rel}"), data)
            .unwrap();
    }

    fn link(&mut self, kind: tar::EntryType, rel: &str, target: &str) {
        self.parent(rel);
        let mut h = Self::header(
            kind,
            if kind == tar::EntryType::Link {
                0o555
            } else {
                0o755
            },
            0,
        );
        self.tar
            .append_link(&mut h, format!("./{rel}"), target)
            .unwrap();
    }

    fn finish(self) {
        self.tar.into_inner().unwrap().finish().unwrap();
    }
}

/// Writes FreeBSD-style release sets into `dir`: `base.txz` (everything but
/// `boot/kernel`), `kernel.txz` (`boot/kernel`) and a `MANIFEST` with their sha256s. The
/// tree has the shape of [`generate`]'s, plus setuid programs, `schg` files, and the
/// `extra` files given (path, mode, bytes). Deterministic for the same arguments.
pub fn release_sets(
    dir: &Path,
    files: u64,
    scale: u64,
    extra: &[(String, u32, Vec<u8>)],
) -> SetStats {
    fs::create_dir_all(dir).unwrap();
    let mut rng = Rng(0x5eed_f00d_cafe_1234);
    let mut pool = vec![0u8; 256 << 10];
    for b in pool.iter_mut() {
        *b = rng.next() as u8;
    }
    let mut buf = vec![0u8; 0];
    let mut base = SetWriter::new(&dir.join("base.txz"));
    let mut kernel = SetWriter::new(&dir.join("kernel.txz"));
    let mut st = SetStats {
        files: 0,
        bytes: 0,
        symlinks: 0,
        hard_links: 0,
        setuid: 0,
        schg: 0,
        base_txz: 0,
        kernel_txz: 0,
    };
    for &(dir, share, lo, hi, prefix, suffix) in SHAPE {
        let set = if dir.starts_with("boot/kernel") {
            &mut kernel
        } else {
            &mut base
        };
        let n = (files as f64 * share).round() as u64;
        let fanout = (n / 400).max(1);
        let mut previous: Option<String> = None;
        for i in 0..n {
            let sub = if fanout > 1 {
                format!("/d{:02}", i % fanout)
            } else {
                String::new()
            };
            let name = format!("{prefix}{tag}{i:05}{suffix}", tag = dir.replace('/', "_"));
            let rel = format!("{dir}{sub}/{name}");
            let roll = rng.next() % 100;
            if let (true, Some(prev)) = (roll < 4, &previous) {
                let target = prev.rsplit('/').next().unwrap().to_owned();
                set.link(tar::EntryType::Symlink, &rel, &target);
                st.symlinks += 1;
                continue;
            }
            if let (true, Some(prev)) = (roll < 6, &previous) {
                set.link(tar::EntryType::Link, &rel, &format!("./{prev}"));
                st.hard_links += 1;
                continue;
            }
            let mut size = rng.size(lo, hi);
            if size > 65536 {
                size *= scale;
            }
            buf.resize(size as usize, 0);
            fill_compressible(&mut buf, &mut rng, &pool);
            let program = ["bin", "sbin", "usr/bin", "usr/sbin", "libexec"].contains(&dir);
            let mut perm = if program { 0o555 } else { 0o444 };
            if program && roll % 25 == 7 {
                perm |= 0o4000;
                st.setuid += 1;
            }
            if (dir == "lib" || dir == "sbin") && roll % 10 == 3 {
                set.fflags("schg");
                st.schg += 1;
            }
            set.file(&rel, perm, &buf);
            st.files += 1;
            st.bytes += size;
            previous = Some(rel);
        }
    }
    // The kernel itself.
    buf.resize((30_000_000 * scale) as usize, 0);
    fill_compressible(&mut buf, &mut rng, &pool);
    kernel.file("boot/kernel/kernel", 0o555, &buf);
    st.files += 1;
    st.bytes += buf.len() as u64;
    for (rel, perm, data) in extra {
        let set = if rel.starts_with("boot/kernel/") {
            &mut kernel
        } else {
            &mut base
        };
        set.file(rel, *perm, data);
        st.files += 1;
        st.bytes += data.len() as u64;
    }
    base.finish();
    kernel.finish();
    let mut manifest = String::new();
    for set in ["base.txz", "kernel.txz"] {
        let path = dir.join(set);
        let len = fs::metadata(&path).unwrap().len();
        if set == "base.txz" {
            st.base_txz = len;
        } else {
            st.kernel_txz = len;
        }
        let sum = Command::new("sha256sum").arg(&path).output().unwrap();
        let sum = String::from_utf8(sum.stdout).unwrap();
        let sum = sum.split_whitespace().next().unwrap().to_owned();
        manifest.push_str(&format!(
            "{set}\t{sum}\t0\t{}\t\"\"\ton\n",
            set.trim_end_matches(".txz")
        ));
    }
    fs::write(dir.join("MANIFEST"), manifest).unwrap();
    st
}
