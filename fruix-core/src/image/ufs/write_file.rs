//! The fast path for the common target, a file: positioned writes instead of seeks, host
//! contents copied inside the kernel (`copy_file_range`, one copy instead of a read and a
//! write through user space, holes of sparse sources skipped with `SEEK_DATA`), and the
//! data of the inodes split between two threads. The bytes are exactly those of
//! [`UfsLayout::write_to`]; only the order of the writes differs.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::mpsc;

use super::layout::{InodePlan, Kind, UfsLayout};
use super::write::{nonzero_runs, Out, Progress, WriteError, WriteStats};
use crate::tree::Content;

/// Host files opened ahead of the copying (open descriptors), and per message.
const OPEN_AHEAD: usize = 256;
const BATCH: usize = 32;
/// Buffer for the inodes written through user space (directories, in-memory files).
const BUF: usize = 1 << 20;

/// Positioned writes into a file shared between threads.
struct FileOut<'f> {
    f: &'f File,
    base: u64,
    unit: usize,
    written: u64,
}

impl Out for FileOut<'_> {
    fn put(&mut self, at: u64, data: &[u8]) -> io::Result<()> {
        for (i, j) in nonzero_runs(data, self.unit) {
            self.f
                .write_all_at(&data[i..j], self.base + at + i as u64)?;
            self.written += (j - i) as u64;
        }
        Ok(())
    }
}

impl UfsLayout<'_> {
    /// Writes the file system at byte `offset` of `file` (which must read as zeros there,
    /// like a new file); afterwards the file is at least `offset + size_bytes` long.
    pub fn write_to_file(&self, file: &File, offset: u64) -> Result<WriteStats, WriteError> {
        self.write_to_file_with_progress(file, offset, &mut |_, _| {})
    }

    /// [`write_to_file`](Self::write_to_file), reporting progress like
    /// [`write_to_with_progress`](Self::write_to_with_progress).
    pub fn write_to_file_with_progress(
        &self,
        file: &File,
        offset: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<WriteStats, WriteError> {
        let mut progress = Progress::start(self, progress);
        // Writes to one file serialize on its inode lock, so copying is one thread; a
        // second one opens and measures the sources ahead of it, overlapping the path
        // lookups with the copies.
        // Sources travel in batches: one wake-up per batch, not per file.
        let (tx, rx) = mpsc::sync_channel::<Vec<Result<Source, WriteError>>>(OPEN_AHEAD / BATCH);
        let data_written = std::thread::scope(|s| {
            s.spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                for p in &self.inodes {
                    if let Kind::File(Content::Host { path, .. }) = p.kind {
                        batch.push(open_source(path, p.size));
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if tx.send(full).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = tx.send(batch);
            });
            let written = self.write_data_blocks(file, offset, &rx, &mut progress);
            // Hang up first, so an opener blocked on a full channel stops and the scope
            // can join it even when copying failed early.
            drop(rx);
            written
        })?;
        let mut out = FileOut {
            f: file,
            base: offset,
            unit: self.geometry.fsize as usize,
            written: 0,
        };
        self.write_metadata(&mut out)?;
        let end = offset + self.size_bytes;
        if file.metadata()?.len() < end {
            file.write_all_at(&[0], end - 1)?;
        }
        Ok(WriteStats {
            written: data_written + out.written,
            content: progress.finish(),
        })
    }

    /// Data and indirect blocks of every inode; host sources arrive opened on `rx`, in
    /// inode order.
    fn write_data_blocks(
        &self,
        file: &File,
        offset: u64,
        rx: &mpsc::Receiver<Vec<Result<Source, WriteError>>>,
        progress: &mut Progress<'_>,
    ) -> Result<u64, WriteError> {
        let mut pending = std::collections::VecDeque::new();
        let mut out = FileOut {
            f: file,
            base: offset,
            unit: self.geometry.fsize as usize,
            written: 0,
        };
        let mut buf = vec![0u8; BUF];
        for (i, p) in self.inodes.iter().enumerate() {
            match p.kind {
                Kind::File(Content::Host { path, .. }) => {
                    if pending.is_empty() {
                        pending.extend(rx.recv().map_err(|_| {
                            WriteError::Io(io::Error::other("the opening thread stopped"))
                        })?);
                    }
                    let src = pending.pop_front().ok_or_else(|| {
                        WriteError::Io(io::Error::other("the opening thread sent nothing"))
                    })??;
                    out.written +=
                        self.copy_host(&src, file, offset, p, &mut buf)
                            .map_err(|e| match e {
                                CopyError::Read(source) => WriteError::Read {
                                    path: path.display().to_string(),
                                    source,
                                },
                                CopyError::Write(e) => WriteError::Io(e),
                            })?;
                    self.write_indirect(&mut out, p)?;
                    progress.file_done(p.size);
                }
                _ => {
                    self.write_inode(&mut out, i, p, &mut buf)?;
                    if matches!(p.kind, Kind::File(_)) {
                        progress.file_done(p.size);
                    }
                }
            }
        }
        Ok(out.written)
    }

    /// (offset in the file, byte address in the file system, length) of each piece of a
    /// file's data: its block extents, then its fragment tail.
    fn pieces(&self, p: &InodePlan<'_>) -> Vec<(u64, u64, u64)> {
        let g = &self.geometry;
        let mut out = Vec::new();
        let mut off = 0;
        for e in &p.data {
            let n = (e.blocks * g.bsize).min(p.size - off);
            out.push((off, e.addr * g.fsize, n));
            off += n;
        }
        if let Some((addr, _)) = p.tail {
            out.push((off, addr * g.fsize, p.size - off));
        }
        out
    }

    /// Copies a host file's data into its blocks; returns the bytes written.
    fn copy_host(
        &self,
        src: &Source,
        dst: &File,
        base: u64,
        p: &InodePlan<'_>,
        buf: &mut [u8],
    ) -> Result<u64, CopyError> {
        let mut written = 0;
        for (off, at, len) in self.pieces(p) {
            let mut pos = off;
            let end = off + len;
            while pos < end {
                // Only the source's data ranges are copied; its holes stay holes. A
                // source with all its blocks allocated has none: no need to ask.
                let range = if src.dense {
                    Some((pos, end))
                } else {
                    data_range(&src.file, pos, end)
                };
                let Some((data, hole)) = range else { break };
                let n = copy(
                    &src.file,
                    data,
                    dst,
                    base + at + (data - off),
                    hole - data,
                    buf,
                )?;
                written += n;
                pos = hole;
            }
        }
        Ok(written)
    }
}

/// An opened host file, checked against the length the tree promised.
struct Source {
    file: File,
    /// Every byte has a block (no holes to look for).
    dense: bool,
}

fn open_source(path: &Path, expected: u64) -> Result<Source, WriteError> {
    let name = || path.display().to_string();
    let file = File::open(path).map_err(|source| WriteError::Read {
        path: name(),
        source,
    })?;
    let md = file.metadata().map_err(|source| WriteError::Read {
        path: name(),
        source,
    })?;
    if md.len() != expected {
        return Err(WriteError::Length {
            path: name(),
            expected,
            found: md.len().to_string(),
        });
    }
    Ok(Source {
        file,
        dense: md.blocks() * 512 >= md.len(),
    })
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// The next data range `[start, end)` of `f` at or after `pos`, clipped to `limit`; None
/// when only a hole is left. Without `SEEK_DATA` support the whole rest is data.
fn data_range(f: &File, pos: u64, limit: u64) -> Option<(u64, u64)> {
    let fd = f.as_raw_fd();
    // SAFETY: lseek on a descriptor we own, with plain integer arguments.
    let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
    if data < 0 {
        let err = io::Error::last_os_error();
        // ENXIO: no data past `pos`; anything else: assume all data.
        return if err.raw_os_error() == Some(libc::ENXIO) {
            None
        } else {
            Some((pos, limit))
        };
    }
    let data = data as u64;
    if data >= limit {
        return None;
    }
    // SAFETY: as above.
    let hole = unsafe { libc::lseek(fd, data as libc::off_t, libc::SEEK_HOLE) };
    let hole = if hole < 0 {
        limit
    } else {
        (hole as u64).min(limit)
    };
    Some((data, hole))
}

/// Copies `len` bytes from `src` at `from` to `dst` at `to`, in the kernel when it can,
/// through `buf` otherwise. Returns the bytes copied.
fn copy(
    src: &File,
    from: u64,
    dst: &File,
    to: u64,
    len: u64,
    buf: &mut [u8],
) -> Result<u64, CopyError> {
    let (mut from, mut to, mut left) = (from as libc::loff_t, to as libc::loff_t, len);
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
            return Err(CopyError::Read(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while copying",
            )));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Not supported here (other file system, old kernel): copy by hand.
            Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM) => {
                return slow_copy(src, from as u64, dst, to as u64, left, buf).map(|_| len);
            }
            Some(libc::EINTR) => {}
            _ => return Err(CopyError::Write(err)),
        }
    }
    Ok(len)
}

fn slow_copy(
    src: &File,
    mut from: u64,
    dst: &File,
    mut to: u64,
    mut left: u64,
    buf: &mut [u8],
) -> Result<(), CopyError> {
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        let mut got = 0;
        while got < n {
            match src.read_at(&mut buf[got..n], from + got as u64) {
                Ok(0) => {
                    return Err(CopyError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while copying",
                    )))
                }
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CopyError::Read(e)),
            }
        }
        dst.write_all_at(&buf[..n], to).map_err(CopyError::Write)?;
        from += n as u64;
        to += n as u64;
        left -= n as u64;
    }
    Ok(())
}
