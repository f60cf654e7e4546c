//! The fast path for the common target, a file: positioned writes instead of seeks, host
//! contents copied inside the kernel where the host can ([`host_copy`]), and the opening
//! of host files overlapped with the copying. The bytes are exactly those of
//! [`UfsLayout::write_to`]; only the order of the writes differs.

mod host_copy;

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::mpsc;

use super::layout::{InodePlan, Kind, UfsLayout};
use super::write::{nonzero_runs, Out, Progress, WriteError, WriteStats};
use crate::tree::Content;
use host_copy::{CopyError, CopyPath};

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
        self.write_to_file_via(file, offset, CopyPath::HOST, progress)
    }

    /// [`Self::write_to_file_with_progress`], host contents copied by `copy_path`.
    fn write_to_file_via(
        &self,
        file: &File,
        offset: u64,
        copy_path: CopyPath,
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
            let written = self.write_data_blocks(file, offset, &rx, copy_path, &mut progress);
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
        copy_path: CopyPath,
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
                    self.copy_host(&src, &mut out, p, &mut buf, copy_path)
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

    /// Copies a host file's data into its blocks.
    fn copy_host(
        &self,
        src: &Source,
        out: &mut FileOut<'_>,
        p: &InodePlan<'_>,
        buf: &mut [u8],
        copy_path: CopyPath,
    ) -> Result<(), CopyError> {
        for (off, at, len) in self.pieces(p) {
            let mut pos = off;
            let end = off + len;
            while pos < end {
                // Only the source's data ranges are copied; its holes stay holes. A
                // source with all its blocks allocated has none: no need to ask.
                let range = if src.dense {
                    Some((pos, end))
                } else {
                    copy_path.data_range(&src.file, pos, end)
                };
                let Some((data, hole)) = range else { break };
                copy_path.copy(&src.file, data, out, at + (data - off), hole - data, buf)?;
                pos = hole;
            }
        }
        Ok(())
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
