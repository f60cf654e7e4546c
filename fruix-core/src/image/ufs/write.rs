//! Writes a sealed [`UfsLayout`] in one pass to any `Write + Seek` target at a byte
//! offset. Contents are streamed through one fixed buffer, so memory does not grow with
//! the data. Ranges that would be all zeros are seeked over, never written: on a new file
//! they stay holes, so the target range must read as zeros before writing (a new or
//! truncated file, or a freshly created disk image).

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::alloc::{indirect_tree_sizes, Extent};
use super::bitmap::Bitmap;
use super::cg::{
    build_cg, build_superblock, mark_metadata, recovery_record, superblock_bytes, CgExtra, Csum,
    SbExtra,
};
use super::crc::ckhash;
use super::dir::{self, EntryIn};
use super::format::*;
use super::layout::{InodePlan, Kind, UfsLayout};
use crate::tree::Content;

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the image: {0}")]
    /// Writing to the target failed (including running out of space).
    Io(#[from] io::Error),
    #[error("reading `{path}`: {source}")]
    /// A file's contents could not be read from the building host.
    Read {
        /// The file's path in the tree.
        path: String,
        /// The error reading it.
        source: io::Error,
    },
    #[error("`{path}` changed: the tree says {expected} bytes, it has {found}")]
    /// A host file's length changed between planning and writing: the image would be torn.
    Length {
        /// The file's path in the tree.
        path: String,
        /// Bytes the layout was planned for.
        expected: u64,
        /// What was found instead (a length, or that it grew).
        found: String,
    },
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Bytes actually written (the rest of the range was left as holes).
    pub written: u64,
    /// Bytes of file contents streamed.
    pub content: u64,
}

/// Size of the streaming buffer.
const BUF: usize = 1 << 20;

/// Content bytes between two progress reports: often enough for a progress bar, rarely
/// enough to cost nothing when a tree has a hundred thousand small files.
pub const PROGRESS_STEP: u64 = 4 << 20;

/// Reports the file content written so far as `(done, total)` bytes: `(0, total)` first,
/// then after a file once [`PROGRESS_STEP`] more bytes are done, and `(total, total)` last.
/// `done` only grows.
pub(crate) struct Progress<'p> {
    report: &'p mut dyn FnMut(u64, u64),
    done: u64,
    reported: u64,
    total: u64,
}

impl<'p> Progress<'p> {
    pub(crate) fn start(layout: &UfsLayout<'_>, report: &'p mut dyn FnMut(u64, u64)) -> Self {
        let total = layout.content_size();
        report(0, total);
        Progress {
            report,
            done: 0,
            reported: 0,
            total,
        }
    }

    /// Counts a file of `size` bytes as written.
    pub(crate) fn file_done(&mut self, size: u64) {
        self.done += size;
        if self.done - self.reported >= PROGRESS_STEP || self.done == self.total {
            self.flush();
        }
    }

    /// Reports what is done if not reported yet; returns the content bytes written.
    pub(crate) fn finish(mut self) -> u64 {
        self.flush();
        self.done
    }

    fn flush(&mut self) {
        if self.done > self.reported {
            (self.report)(self.done, self.total);
            self.reported = self.done;
        }
    }
}

/// Where the writer puts bytes: at a byte address of the file system.
pub(crate) trait Out {
    /// Writes `data` at byte `at` of the file system, leaving zero fragments unwritten.
    fn put(&mut self, at: u64, data: &[u8]) -> io::Result<()>;
}

/// Positions writes on a `Write + Seek`, skips zero fragments.
struct Sink<'w, W: Write + Seek> {
    w: &'w mut W,
    base: u64,
    pos: Option<u64>,
    written: u64,
    unit: usize,
}

impl<W: Write + Seek> Out for Sink<'_, W> {
    fn put(&mut self, at: u64, data: &[u8]) -> io::Result<()> {
        for (i, j) in nonzero_runs(data, self.unit) {
            let abs = self.base + at + i as u64;
            if self.pos != Some(abs) {
                self.w.seek(SeekFrom::Start(abs))?;
            }
            self.w.write_all(&data[i..j])?;
            self.pos = Some(abs + (j - i) as u64);
            self.written += (j - i) as u64;
        }
        Ok(())
    }
}

/// The `(start, end)` byte ranges of `data` made of `unit`-sized pieces that are not all
/// zero, merged where adjacent: the only ranges worth writing.
pub(crate) fn nonzero_runs(data: &[u8], unit: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let end = (i + unit).min(data.len());
        if !is_zero(&data[i..end]) {
            match runs.last_mut() {
                Some(r) if r.1 == i => r.1 = end,
                _ => runs.push((i, end)),
            }
        }
        i = end;
    }
    runs
}

fn is_zero(b: &[u8]) -> bool {
    // No early exit: an OR over the whole unit vectorizes well.
    b.iter().fold(0u8, |acc, x| acc | x) == 0
}

/// Fragment addresses of the blocks of a list of extents, in order.
pub(crate) struct Blocks<'a> {
    extents: std::slice::Iter<'a, Extent>,
    cur: Option<(u64, u64)>,
    frag: u64,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(extents: &'a [Extent], frag: u64) -> Blocks<'a> {
        Blocks {
            extents: extents.iter(),
            cur: None,
            frag,
        }
    }
}

impl Iterator for Blocks<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        loop {
            if let Some((addr, left)) = self.cur {
                if left > 0 {
                    self.cur = Some((addr + self.frag, left - 1));
                    return Some(addr);
                }
            }
            let e = self.extents.next()?;
            self.cur = Some((e.addr, e.blocks));
        }
    }
}

impl UfsLayout<'_> {
    /// Writes the file system at byte `offset` of `w`; the range ends at
    /// `offset + self.size_bytes` and the target is at least that long afterwards.
    pub fn write_to<W: Write + Seek>(
        &self,
        w: &mut W,
        offset: u64,
    ) -> Result<WriteStats, WriteError> {
        self.write_to_with_progress(w, offset, &mut |_, _| {})
    }

    /// Bytes of file contents in the file system: the `total` of progress reports.
    pub fn content_size(&self) -> u64 {
        self.inodes
            .iter()
            .filter(|p| matches!(p.kind, Kind::File(_)))
            .map(|p| p.size)
            .sum()
    }

    /// [`write_to`](Self::write_to), calling `progress(done, total)` with the content
    /// bytes written: `(0, total)` first, then every [`PROGRESS_STEP`] bytes or so (after
    /// the file that crosses it), `(total, total)` last.
    pub fn write_to_with_progress<W: Write + Seek>(
        &self,
        w: &mut W,
        offset: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<WriteStats, WriteError> {
        let g = &self.geometry;
        let mut sink = Sink {
            w,
            base: offset,
            pos: None,
            written: 0,
            unit: g.fsize as usize,
        };
        let mut progress = Progress::start(self, progress);
        let mut buf = vec![0u8; BUF];
        for (i, p) in self.inodes.iter().enumerate() {
            self.write_inode(&mut sink, i, p, &mut buf)?;
            if matches!(p.kind, Kind::File(_)) {
                progress.file_done(p.size);
            }
        }
        let done = progress.finish();
        self.write_metadata(&mut sink)?;
        // The range must end where the file system does, even if its tail is a hole;
        // a target that already reaches past it (a whole disk image) is left as it is.
        let end = offset + self.size_bytes;
        if sink.w.seek(SeekFrom::End(0))? < end {
            sink.w.seek(SeekFrom::Start(end - 1))?;
            sink.w.write_all(&[0])?;
        }
        sink.w.flush()?;
        Ok(WriteStats {
            written: sink.written,
            content: done,
        })
    }

    /// Writes the data and indirect blocks of the inode at index `i` (inode `i + 2`).
    pub(crate) fn write_inode(
        &self,
        sink: &mut dyn Out,
        i: usize,
        p: &InodePlan<'_>,
        buf: &mut [u8],
    ) -> Result<(), WriteError> {
        let ino = ROOTINO + i as u32;
        match p.kind {
            Kind::File(content) => self.write_content(sink, p, content, ino, buf)?,
            Kind::Dir(_) => {
                let bytes = self.dir_bytes(ino, p);
                self.write_data(sink, p, &mut &bytes[..], buf)
                    .map_err(|e| read_error(e, p.size, || format!("directory inode {ino}")))?;
            }
            Kind::Symlink(target) if !p.is_inline() => {
                self.write_data(sink, p, &mut &target[..], buf)
                    .map_err(|e| read_error(e, p.size, || format!("symlink inode {ino}")))?;
            }
            _ => {}
        }
        self.write_indirect(sink, p)?;
        Ok(())
    }

    fn write_content(
        &self,
        sink: &mut dyn Out,
        p: &InodePlan<'_>,
        content: &Content,
        ino: u32,
        buf: &mut [u8],
    ) -> Result<(), WriteError> {
        let name = || match content {
            Content::Host { path, .. } => path.display().to_string(),
            Content::Bytes(_) => format!("in-memory file, inode {ino}"),
        };
        let mut r = content.open().map_err(|source| WriteError::Read {
            path: name(),
            source,
        })?;
        self.write_data(sink, p, &mut r, buf)
            .map_err(|e| read_error(e, p.size, name))?;
        // The content must end exactly where the tree said.
        let mut extra = [0u8; 1];
        match r.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(WriteError::Length {
                path: name(),
                expected: p.size,
                found: "more".into(),
            }),
            Err(source) => Err(WriteError::Read {
                path: name(),
                source,
            }),
        }
    }

    /// Streams `p.size` bytes of `r` into the inode's blocks and tail.
    fn write_data(
        &self,
        sink: &mut dyn Out,
        p: &InodePlan<'_>,
        r: &mut dyn Read,
        buf: &mut [u8],
    ) -> Result<(), DataError> {
        let g = &self.geometry;
        let mut left = p.size;
        for e in &p.data {
            let mut at = e.addr * g.fsize;
            let mut n = (e.blocks * g.bsize).min(left);
            while n > 0 {
                let chunk = (n as usize).min(buf.len());
                read_full(r, &mut buf[..chunk], p.size - left)?;
                sink.put(at, &buf[..chunk]).map_err(DataError::Write)?;
                at += chunk as u64;
                n -= chunk as u64;
                left -= chunk as u64;
            }
        }
        if let Some((addr, _)) = p.tail {
            let chunk = left as usize;
            read_full(r, &mut buf[..chunk], p.size - left)?;
            sink.put(addr * g.fsize, &buf[..chunk])
                .map_err(DataError::Write)?;
        }
        Ok(())
    }

    /// The bytes of directory inode `ino`.
    fn dir_bytes(&self, ino: u32, p: &InodePlan<'_>) -> Vec<u8> {
        let Kind::Dir(d) = p.kind else {
            return Vec::new();
        };
        let dtype = |child: u32| self.inode(child).map_or(0, |c| iftodt(c.kind.ifmt()));
        let entries = [
            EntryIn {
                name: b".",
                ino,
                dtype: iftodt(IFDIR),
            },
            EntryIn {
                name: b"..",
                ino: p.parent,
                dtype: iftodt(IFDIR),
            },
        ];
        let children = d
            .entries
            .keys()
            .zip(&p.children)
            .map(|(name, &child)| EntryIn {
                name,
                ino: child,
                dtype: dtype(child),
            });
        let mut out = Vec::with_capacity(p.size as usize);
        dir::encode(entries.into_iter().chain(children), Some(&mut out));
        out
    }

    /// Writes the inode's indirect blocks, children before parents (their allocation
    /// order), each pointing at the data blocks from lbn 12 on.
    pub(crate) fn write_indirect(&self, sink: &mut dyn Out, p: &InodePlan<'_>) -> io::Result<()> {
        if p.indirect.is_empty() {
            return Ok(());
        }
        let g = &self.geometry;
        let nblocks: u64 = p.data.iter().map(|e| e.blocks).sum();
        let mut ind = Blocks::new(&p.indirect, g.frag);
        let mut data = Blocks::new(&p.data, g.frag).skip(NDADDR);
        for (level, t) in indirect_tree_sizes(nblocks, g.nindir()).iter().enumerate() {
            if t.data == 0 {
                break;
            }
            self.write_tree(sink, level as u32 + 1, t.data, &mut ind, &mut data)?;
        }
        Ok(())
    }

    fn write_tree(
        &self,
        sink: &mut dyn Out,
        level: u32,
        ndata: u64,
        ind: &mut Blocks<'_>,
        data: &mut dyn Iterator<Item = u64>,
    ) -> io::Result<u64> {
        let g = &self.geometry;
        let mut block = vec![0u8; g.bsize as usize];
        let span = g.nindir().pow(level - 1);
        for i in 0..ndata.div_ceil(span) as usize {
            let ptr = if level == 1 {
                data.next().unwrap_or(0)
            } else {
                let n = span.min(ndata - i as u64 * span);
                self.write_tree(sink, level - 1, n, ind, data)?
            };
            (ptr as i64).put(&mut block, i * 8);
        }
        let addr = ind.next().unwrap_or(0);
        sink.put(addr * g.fsize, &block)?;
        Ok(addr)
    }

    /// The addresses of the roots of the inode's three indirect trees.
    fn indirect_roots(&self, p: &InodePlan<'_>) -> [i64; 3] {
        let g = &self.geometry;
        let mut roots = [0i64; 3];
        if p.indirect.is_empty() {
            return roots;
        }
        let nblocks: u64 = p.data.iter().map(|e| e.blocks).sum();
        let addrs: Vec<u64> = Blocks::new(&p.indirect, g.frag).collect();
        let mut at = 0usize;
        for (k, t) in indirect_tree_sizes(nblocks, g.nindir()).iter().enumerate() {
            if t.blocks == 0 {
                break;
            }
            at += t.blocks as usize;
            roots[k] = addrs.get(at - 1).map_or(0, |a| *a as i64);
        }
        roots
    }

    /// The 256 bytes of inode `ino`.
    pub(crate) fn dinode_bytes(&self, ino: u32, p: &InodePlan<'_>) -> [u8; DINODE_SIZE] {
        let g = &self.geometry;
        let m = &p.meta;
        let mut d = Dinode {
            mode: p.kind.ifmt() | (m.perm & 0o7777),
            nlink: p.nlink as i16,
            uid: m.uid,
            gid: m.gid,
            size: p.size,
            blocks: p.blocks512,
            atime: m.mtime,
            mtime: m.mtime,
            ctime: m.mtime,
            birthtime: m.mtime,
            gen: self.generation(ino),
            flags: m.flags,
            ..Dinode::default()
        };
        let mut lbn = 0;
        for addr in Blocks::new(&p.data, g.frag).take(NDADDR) {
            d.db[lbn] = addr as i64;
            lbn += 1;
        }
        if let Some((addr, _)) = p.tail {
            if lbn < NDADDR {
                d.db[lbn] = addr as i64;
            }
        }
        d.ib = self.indirect_roots(p);
        match p.kind {
            Kind::Char(rdev) | Kind::Block(rdev) => d.db[0] = rdev as i64,
            _ => {}
        }
        let mut b = [0u8; DINODE_SIZE];
        d.encode_into(&mut b);
        if let Kind::Symlink(target) = p.kind {
            if p.is_inline() {
                b[DINODE_SHORTLINK.start..DINODE_SHORTLINK.start + target.len()]
                    .copy_from_slice(target);
            }
        }
        if self.check_hashes {
            ckhash(&b, DINODE_CKHASH_OFFSET).put(&mut b, DINODE_CKHASH_OFFSET);
        }
        b
    }

    /// Which inodes and fragments are in use, and directories per group.
    pub(crate) fn usage(&self) -> (Bitmap, Bitmap, Vec<u64>) {
        let g = &self.geometry;
        let mut inodes = Bitmap::new(g.inodes());
        inodes.set_range(0, u64::from(ROOTINO) + self.inodes.len() as u64);
        let mut frags = Bitmap::new(g.size);
        mark_metadata(g, &mut frags);
        let mut ndir = vec![0u64; g.ncg as usize];
        for (i, p) in self.inodes.iter().enumerate() {
            if matches!(p.kind, Kind::Dir(_)) {
                ndir[((i as u64 + u64::from(ROOTINO)) / g.ipg) as usize] += 1;
            }
            for e in p.data.iter().chain(&p.indirect) {
                frags.set_range(e.addr, e.addr + e.blocks * g.frag);
            }
            if let Some((addr, n)) = p.tail {
                frags.set_range(addr, addr + n);
            }
        }
        (inodes, frags, ndir)
    }

    /// Inode tables, group headers, the summary array, superblocks, recovery record.
    pub(crate) fn write_metadata(&self, sink: &mut dyn Out) -> io::Result<()> {
        let g = &self.geometry;
        let inopb = g.inopb();
        let mut block = vec![0u8; g.bsize as usize];
        let first = u64::from(ROOTINO);
        let last = first + self.inodes.len() as u64;
        // Only inode blocks holding allocated inodes; the rest stay zero (holes).
        let mut ino_block = first / inopb * inopb;
        while ino_block < last {
            block.fill(0);
            for ino in ino_block.max(first)..(ino_block + inopb).min(last) {
                if let Some(p) = self.inode(ino as u32) {
                    let at = ((ino - ino_block) as usize) * DINODE_SIZE;
                    block[at..at + DINODE_SIZE].copy_from_slice(&self.dinode_bytes(ino as u32, p));
                }
            }
            sink.put(g.inode_byte(ino_block), &block)?;
            ino_block += inopb;
        }
        let (inodes, frags, ndir) = self.usage();
        let mut total = Csum::default();
        let mut csums = Vec::with_capacity(g.cssize as usize);
        for c in 0..g.ncg {
            let extra = CgExtra {
                time: self.time,
                initediblk: g.ipg as u32,
                rotor: 0,
                frotor: 0,
                irotor: 0,
                check_hash: self.check_hashes,
            };
            let (bytes, cs) = build_cg(g, c, &inodes, &frags, ndir[c as usize], extra);
            sink.put(g.cgtod(c) * g.fsize, &bytes)?;
            total.add(&cs);
            csums.extend_from_slice(&cs.encode());
        }
        csums.resize(g.cssize as usize, 0);
        sink.put(g.csaddr() * g.fsize, &csums)?;
        let sb = build_superblock(
            g,
            &SbExtra {
                total,
                time: self.time,
                id: self.id,
                volname: self.volname,
                check_hashes: self.check_hashes,
                providersize: self.size_bytes / g.fsize,
            },
        );
        for c in 0..g.ncg {
            let at = g.cgsblock(c) * g.fsize;
            sink.put(at, &superblock_bytes(&sb, at))?;
        }
        sink.put(FSRECOVERY_OFFSET, &recovery_record(&sb))?;
        sink.put(SBLOCK_UFS2, &superblock_bytes(&sb, SBLOCK_UFS2))?;
        Ok(())
    }
}

/// A failure while streaming data: from the source, or writing.
enum DataError {
    Short { at: u64 },
    Read(io::Error),
    Write(io::Error),
}

fn read_error(e: DataError, expected: u64, name: impl Fn() -> String) -> WriteError {
    match e {
        DataError::Short { at } => WriteError::Length {
            path: name(),
            expected,
            found: format!("only {at}"),
        },
        DataError::Read(source) => WriteError::Read {
            path: name(),
            source,
        },
        DataError::Write(e) => WriteError::Io(e),
    }
}

/// Fills `buf` from `r`; `at` is the offset so far, for the error.
fn read_full(r: &mut dyn Read, buf: &mut [u8], at: u64) -> Result<(), DataError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(DataError::Short {
                    at: at + got as u64,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DataError::Read(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
