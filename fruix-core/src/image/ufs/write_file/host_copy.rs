//! Copying a byte range of a host file into the image file. Where the host has them
//! (Linux; FreeBSD since 13) the copy runs inside the kernel (`copy_file_range`: one copy
//! instead of a read and a write through user space) and the source's holes are skipped
//! with `SEEK_DATA`/`SEEK_HOLE`. Everywhere else, and where a file system refuses the
//! kernel copy, the portable path reads through a buffer and writes only the fragments
//! that are not all zero. Into a target that reads as zeros both leave the same bytes,
//! and neither fills a source's holes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::super::write::Out;
use super::FileOut;

/// How host contents reach the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CopyPath {
    /// `copy_file_range`, with holes found by `SEEK_DATA`/`SEEK_HOLE`.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    Kernel,
    /// Positioned reads and writes through a buffer; zero fragments stay unwritten.
    Portable,
}

/// Why a copy stopped: the source could not be read, or the image not written.
pub(super) enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl CopyPath {
    /// The fastest path this host has.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(super) const HOST: CopyPath = CopyPath::Kernel;
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    pub(super) const HOST: CopyPath = CopyPath::Portable;

    /// The next data range `[start, end)` of `f` at or after `pos`, clipped to `limit`;
    /// None when only a hole is left.
    pub(super) fn data_range(self, f: &File, pos: u64, limit: u64) -> Option<(u64, u64)> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "freebsd"))]
            CopyPath::Kernel => kernel::data_range(f, pos, limit),
            // Holes read as zeros, and zero fragments are not written: they stay holes.
            CopyPath::Portable => Some((pos, limit)),
        }
    }

    /// Copies `len` bytes of `src` from `from` to byte `at` of the file system in `out`.
    pub(super) fn copy(
        self,
        src: &File,
        from: u64,
        out: &mut FileOut<'_>,
        at: u64,
        len: u64,
        buf: &mut [u8],
    ) -> Result<(), CopyError> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "freebsd"))]
            CopyPath::Kernel => {
                let left = kernel::copy(src, from, out.f, out.base + at, len)?;
                let done = len - left;
                out.written += done;
                CopyPath::Portable.copy(src, from + done, out, at + done, left, buf)
            }
            CopyPath::Portable => portable_copy(src, from, out, at, len, buf),
        }
    }
}

fn portable_copy(
    src: &File,
    mut from: u64,
    out: &mut FileOut<'_>,
    mut at: u64,
    mut left: u64,
    buf: &mut [u8],
) -> Result<(), CopyError> {
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], from).map_err(|e| {
            CopyError::Read(if e.kind() == io::ErrorKind::UnexpectedEof {
                shrank()
            } else {
                e
            })
        })?;
        out.put(at, &buf[..n]).map_err(CopyError::Write)?;
        from += n as u64;
        at += n as u64;
        left -= n as u64;
    }
    Ok(())
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file shrank while copying",
    )
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod kernel {
    use std::fs::File;
    use std::io;
    use std::os::unix::io::AsRawFd;

    use super::CopyError;

    /// The offset type of `copy_file_range`.
    #[cfg(target_os = "linux")]
    type Offset = libc::loff_t;
    #[cfg(target_os = "freebsd")]
    type Offset = libc::off_t;

    /// As [`super::CopyPath::data_range`].
    pub(super) fn data_range(f: &File, pos: u64, limit: u64) -> Option<(u64, u64)> {
        crate::sparse::data_range(f, pos, limit)
    }

    /// Copies `len` bytes from `src` at `from` to `dst` at `to` inside the kernel.
    /// Returns how many bytes at the end it could not copy because the file systems do
    /// not support it (0 when all were copied).
    pub(super) fn copy(
        src: &File,
        from: u64,
        dst: &File,
        to: u64,
        len: u64,
    ) -> Result<u64, CopyError> {
        let (mut from, mut to, mut left) = (from as Offset, to as Offset, len);
        while left > 0 {
            let chunk = left.min(1 << 30) as usize;
            // SAFETY: both descriptors are open files we own; the offsets are ours and the
            // kernel only advances them.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    &mut from,
                    dst.as_raw_fd(),
                    &mut to,
                    chunk,
                    0,
                )
            };
            if n > 0 {
                left -= n as u64;
                continue;
            }
            if n == 0 {
                return Err(CopyError::Read(super::shrank()));
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                // Not supported here (other file system, old kernel): the rest is for
                // the portable path.
                Some(
                    libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM,
                ) => return Ok(left),
                Some(libc::EINTR) => {}
                _ => return Err(CopyError::Write(err)),
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::MetadataExt;

    use super::CopyPath;
    use crate::image::ufs::{check, UfsLayout, UfsOptions};
    use crate::tree::{Content, FileTree, Meta, Node, NodeKind};

    /// Bytes that are not zero anywhere, different for each seed.
    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed | 1).collect()
    }

    /// Every path this host has, the portable one included, writes the generic writer's
    /// bytes, and the holes of a sparse source stay holes in the image.
    #[test]
    fn every_copy_path_writes_the_generic_bytes_and_keeps_holes() {
        let dir = tempfile::tempdir().unwrap();
        let sparse_len = 40u64 << 20;
        let sparse = dir.path().join("sparse");
        {
            let mut f = std::fs::File::create(&sparse).unwrap();
            f.set_len(sparse_len).unwrap();
            for at in [3000, 17 << 20, sparse_len - 9] {
                f.seek(SeekFrom::Start(at)).unwrap();
                f.write_all(&pattern(at as u8, 9)).unwrap();
            }
        }
        let dense = dir.path().join("dense");
        std::fs::write(&dense, pattern(7, 250_000)).unwrap();
        let zeros = dir.path().join("zeros");
        std::fs::write(&zeros, vec![0u8; 70_000]).unwrap();

        let dir_meta = Meta::root(0o755, 0);
        let mut tree = FileTree::new(dir_meta);
        for (name, path, len) in [
            ("sparse", &sparse, sparse_len),
            ("dense", &dense, 250_000),
            ("zeros", &zeros, 70_000),
        ] {
            let content = Content::Host {
                path: path.clone(),
                len,
            };
            let node = Node {
                meta: Meta::root(0o644, 0),
                kind: NodeKind::File(content),
            };
            tree.insert(format!("host/{name}").as_bytes(), node, dir_meta)
                .unwrap();
        }
        let layout = UfsLayout::plan(&tree, &UfsOptions::default()).unwrap();
        let mut generic = std::io::Cursor::new(Vec::new());
        layout.write_to(&mut generic, 0).unwrap();
        let generic = generic.into_inner();

        for copy_path in [CopyPath::HOST, CopyPath::Portable] {
            let img = dir.path().join(format!("{copy_path:?}.img"));
            let stats = layout
                .write_to_file_via(
                    &std::fs::File::create(&img).unwrap(),
                    0,
                    copy_path,
                    &mut |_, _| {},
                )
                .unwrap();
            assert_eq!(
                stats.content,
                sparse_len + 250_000 + 70_000,
                "{copy_path:?}"
            );
            assert!(
                std::fs::read(&img).unwrap() == generic,
                "{copy_path:?} differs from the generic writer"
            );
            let allocated = std::fs::metadata(&img).unwrap().blocks() * 512;
            assert!(
                allocated < 8 << 20,
                "{copy_path:?}: the 40 MiB sparse source stays sparse, {allocated} bytes allocated"
            );
            assert_eq!(
                check(std::fs::File::open(&img).unwrap()),
                vec![],
                "{copy_path:?}"
            );
        }
    }
}
