//! Compressions pkg packs archives with, told apart by their magic bytes (never by the
//! file's extension), and a reader that stops at a byte limit (decompression bombs).

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;

/// How a package or catalogue archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Zstandard (`tzst`, pkg's default since 2.0).
    Zstd,
    /// xz (`txz`, the default before).
    Xz,
    /// gzip (`tgz`).
    Gzip,
    /// bzip2 (`tbz`).
    Bzip2,
    /// A plain tar (`tar`).
    None,
}

impl Compression {
    /// Every compression, in the order pkg's `packing_format` names them.
    pub const ALL: [Compression; 5] = [
        Compression::Zstd,
        Compression::Xz,
        Compression::Bzip2,
        Compression::Gzip,
        Compression::None,
    ];

    /// The `packing_format` name (`tzst`) and compat file extension.
    pub fn format_name(self) -> &'static str {
        match self {
            Compression::Zstd => "tzst",
            Compression::Xz => "txz",
            Compression::Gzip => "tgz",
            Compression::Bzip2 => "tbz",
            Compression::None => "tar",
        }
    }

    /// The compression a `packing_format` name stands for.
    pub fn from_format_name(name: &str) -> Option<Compression> {
        Compression::ALL
            .into_iter()
            .find(|c| c.format_name() == name)
    }

    /// The compression whose magic starts `head`; `None` when it is none pkg writes.
    /// A plain tar is recognized by `ustar` at offset 257.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.get(257..262) == Some(b"ustar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// Compresses `data` whole.
    pub fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(
                data,
                ruzstd::encoding::CompressionLevel::Fastest,
            )),
            Compression::Xz => {
                let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Bzip2 => {
                let mut enc =
                    bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::None => Ok(data.to_vec()),
        }
    }
}

/// Opens the decompressed stream of `source`, whatever pkg compressed it with.
/// `Ok(None)` when the magic is none pkg writes.
pub fn decompress<'r>(
    source: impl Read + 'r,
) -> io::Result<Option<(Compression, Box<dyn Read + 'r>)>> {
    let mut source = BufReader::with_capacity(64 * 1024, source);
    let mut head = Vec::with_capacity(512);
    // Fill at least 262 bytes (or to the end) to see a plain tar's magic.
    while head.len() < 262 {
        let buf = source.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(262 - head.len());
        head.extend_from_slice(&buf[..take]);
        source.consume(take);
    }
    let Some(kind) = Compression::detect(&head) else {
        return Ok(None);
    };
    let whole = io::Cursor::new(head).chain(source);
    let reader: Box<dyn Read + 'r> = match kind {
        Compression::Zstd => Box::new(ZstdFrames::new(whole)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(whole)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(whole)),
        Compression::None => Box::new(whole),
    };
    Ok(Some((kind, reader)))
}

/// A zstd stream of one or more frames (`zstd` writes several for large inputs).
struct ZstdFrames<R: Read> {
    state: ZstdState<R>,
}

enum ZstdState<R: Read> {
    Start(BufReader<R>),
    Frame(Box<ruzstd::decoding::StreamingDecoder<BufReader<R>, ruzstd::decoding::FrameDecoder>>),
    Done,
}

impl<R: Read> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            state: ZstdState::Start(BufReader::new(source)),
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, ZstdState::Done) {
                ZstdState::Done => return Ok(0),
                ZstdState::Start(mut source) => {
                    if source.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    let frame = ruzstd::decoding::StreamingDecoder::new(source)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    self.state = ZstdState::Frame(Box::new(frame));
                }
                ZstdState::Frame(mut frame) => {
                    let n = frame.read(buf)?;
                    if n > 0 {
                        self.state = ZstdState::Frame(frame);
                        return Ok(n);
                    }
                    self.state = ZstdState::Start(frame.into_inner());
                }
            }
        }
    }
}

/// A byte budget shared between a [`Limited`] reader and its owner, who may lower or
/// raise it as it learns more (e.g. once the manifest's flatsize is known).
#[derive(Debug, Clone)]
pub struct Budget {
    read: Rc<Cell<u64>>,
    limit: Rc<Cell<u64>>,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Budget {
        Budget {
            read: Rc::new(Cell::new(0)),
            limit: Rc::new(Cell::new(limit)),
        }
    }
    /// Bytes read so far.
    pub fn used(&self) -> u64 {
        self.read.get()
    }
    /// The current limit.
    pub fn limit(&self) -> u64 {
        self.limit.get()
    }
    /// Sets the limit.
    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }
    /// Whether a read failed because the limit was reached.
    pub fn exhausted(&self) -> bool {
        self.read.get() > self.limit.get()
    }
}

/// A reader that fails once more than its budget's limit has been read.
pub struct Limited<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Limited<R> {
    /// Limits `inner` to `budget`.
    pub fn new(inner: R, budget: Budget) -> Self {
        Limited { inner, budget }
    }
}

/// The error a [`Limited`] reader returns past its limit.
pub const OVER_LIMIT: &str = "more data than the size limit allows";

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.budget.read.get();
        let limit = self.budget.limit.get();
        if used > limit {
            return Err(io::Error::other(OVER_LIMIT));
        }
        // Read at most one byte past the limit, to tell "exactly at" from "over".
        let room = (limit - used).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.budget.read.set(used + n as u64);
        if self.budget.exhausted() {
            return Err(io::Error::other(OVER_LIMIT));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn every_compression_round_trips_and_is_detected_by_magic() {
        let plain = tar_of("x", &vec![7u8; 100_000]);
        for kind in Compression::ALL {
            let packed = kind.compress(&plain).unwrap();
            assert_eq!(Compression::detect(&packed), Some(kind), "{kind:?}");
            let (found, mut r) = decompress(&packed[..]).unwrap().unwrap();
            assert_eq!(found, kind);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, plain, "{kind:?}");
            assert_eq!(
                Compression::from_format_name(kind.format_name()),
                Some(kind)
            );
        }
        assert!(decompress(&b"not an archive at all"[..]).unwrap().is_none());
    }

    #[test]
    fn concatenated_zstd_frames_are_one_stream() {
        let mut two = Compression::Zstd.compress(b"abc").unwrap();
        two.extend(Compression::Zstd.compress(b"def").unwrap());
        let mut out = Vec::new();
        ZstdFrames::new(&two[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn truncated_streams_fail() {
        let plain = tar_of("x", &vec![1u8; 50_000]);
        for kind in [
            Compression::Zstd,
            Compression::Xz,
            Compression::Gzip,
            Compression::Bzip2,
        ] {
            let packed = kind.compress(&plain).unwrap();
            let cut = &packed[..packed.len() / 2];
            let (_, mut r) = decompress(cut).unwrap().unwrap();
            let mut out = Vec::new();
            assert!(r.read_to_end(&mut out).is_err(), "{kind:?}");
        }
    }

    #[test]
    fn the_limit_stops_a_bomb() {
        let bomb = Compression::Zstd.compress(&vec![0u8; 1 << 20]).unwrap();
        let (_, r) = decompress(&bomb[..]).unwrap().unwrap();
        let budget = Budget::new(4096);
        let mut limited = Limited::new(r, budget.clone());
        let mut out = Vec::new();
        let err = limited.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), OVER_LIMIT);
        assert!(budget.exhausted());
        assert!(out.len() <= 4097);
        let exact = Budget::new(3);
        let mut ok = Vec::new();
        Limited::new(&b"abc"[..], exact)
            .read_to_end(&mut ok)
            .unwrap();
        assert_eq!(ok, b"abc");
    }
}
