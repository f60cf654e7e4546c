//! Sparse files: finding their data ranges, and reading them with holes as zeros without
//! reading the holes (an image of 1 GiB may hold far fewer bytes).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// The next data range `[start, end)` of `f` at or after `pos`, clipped to `limit`; `None`
/// when only a hole is left. Without `SEEK_DATA` support (an error other than "no data
/// past here") the whole rest is data.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn data_range(f: &File, pos: u64, limit: u64) -> Option<(u64, u64)> {
    use std::os::unix::io::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: lseek on a descriptor we own, with plain integer arguments.
    let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
    if data < 0 {
        let err = io::Error::last_os_error();
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

/// Elsewhere every byte counts as data.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub fn data_range(_f: &File, pos: u64, limit: u64) -> Option<(u64, u64)> {
    (pos < limit).then_some((pos, limit))
}

/// A run of zeros handed out for holes.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// Streams the `len` bytes of `f` into `sink` in order, in pieces of at most `buf.len()`;
/// holes are handed out as zeros without being read. Returns the bytes streamed (less
/// than `len` if the file was shorter).
pub fn stream(
    f: &mut File,
    len: u64,
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
    let mut pos = 0u64;
    while pos < len {
        let (data, hole) = data_range(f, pos, len).unwrap_or((len, len));
        while pos < data {
            let n = (data - pos).min(ZEROS.len() as u64) as usize;
            sink(&ZEROS[..n]);
            pos += n as u64;
        }
        if data >= hole {
            break;
        }
        f.seek(SeekFrom::Start(data))?;
        while pos < hole {
            let want = (hole - pos).min(buf.len() as u64) as usize;
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Ok(pos);
            }
            sink(&buf[..n]);
            pos += n as u64;
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn streams_data_and_holes_as_the_bytes_they_read_as() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let mut f = File::create(&path).unwrap();
        f.set_len(3 << 20).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(&[0xab; 5000]).unwrap();
        f.seek(SeekFrom::Start((3 << 20) - 3)).unwrap();
        f.write_all(b"end").unwrap();
        drop(f);
        let expected = std::fs::read(&path).unwrap();
        let mut got = Vec::new();
        let mut f = File::open(&path).unwrap();
        let mut buf = vec![0; 4096];
        let n = stream(&mut f, 3 << 20, &mut buf, &mut |c| got.extend_from_slice(c)).unwrap();
        assert_eq!(n, 3 << 20);
        assert_eq!(got, expected);
    }
}
