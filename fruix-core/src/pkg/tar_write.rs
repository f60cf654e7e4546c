//! Writing tar members the way pkg does: absolute names, pax records for long names and
//! BSD file flags (`SCHILY.fflags`). Names are written as given (no checks): the writers
//! also make hostile archives for the tests.

use std::io::{self, Write};

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink (the link is its target).
    Symlink,
    /// A hard link (the link is an earlier member's name).
    HardLink,
    /// A character device (hostile archives only).
    CharDevice,
    /// A FIFO (hostile archives only).
    Fifo,
}

/// One member to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMember {
    /// The name, verbatim (`/usr/local/bin/x`, `+MANIFEST`).
    pub name: Vec<u8>,
    /// What it is.
    pub kind: MemberKind,
    /// Contents of a file.
    pub data: Vec<u8>,
    /// Target of a symlink or hard link.
    pub link: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
    /// Owner name.
    pub uname: String,
    /// Group name.
    pub gname: String,
    /// BSD file flags (written as `SCHILY.fflags`).
    pub fflags: u32,
    /// The size the header claims, when it must lie (hostile archives); else the data's.
    pub claimed_size: Option<u64>,
}

impl RawMember {
    /// A root:wheel member of `kind` named `name`, mode 0644 (0755 for directories).
    pub fn new(name: impl Into<Vec<u8>>, kind: MemberKind) -> RawMember {
        RawMember {
            name: name.into(),
            kind,
            data: Vec::new(),
            link: Vec::new(),
            mode: if kind == MemberKind::Dir {
                0o755
            } else {
                0o644
            },
            uname: "root".into(),
            gname: "wheel".into(),
            fflags: 0,
            claimed_size: None,
        }
    }
}

/// `SCHILY.fflags` names of BSD flags, as bsdtar writes them.
const FLAG_NAMES: [(u32, &str); 9] = [
    (0x1, "nodump"),
    (0x2, "uchg"),
    (0x4, "uappnd"),
    (0x8, "opaque"),
    (0x10, "uunlnk"),
    (0x1_0000, "arch"),
    (0x2_0000, "schg"),
    (0x4_0000, "sappnd"),
    (0x10_0000, "sunlnk"),
];

fn flags_text(flags: u32) -> String {
    FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

fn put(field: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
}

fn header(name: &[u8], kind: tar::EntryType, size: u64, m: &RawMember) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(m.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_username(&m.uname)?;
    h.set_groupname(&m.gname)?;
    if let Some(u) = h.as_ustar_mut() {
        put(&mut u.name, name);
        put(&mut u.linkname, &m.link);
    }
    h.set_cksum();
    Ok(h)
}

/// Appends `m` (with a pax record first when its names are long or it has flags).
pub fn append<W: Write>(b: &mut tar::Builder<W>, m: &RawMember) -> io::Result<()> {
    let mut pax = Vec::new();
    if m.name.len() > 100 {
        pax.extend(pax_record("path", &m.name));
    }
    if m.link.len() > 100 {
        pax.extend(pax_record("linkpath", &m.link));
    }
    if m.fflags != 0 {
        pax.extend(pax_record("SCHILY.fflags", flags_text(m.fflags).as_bytes()));
    }
    if !pax.is_empty() {
        let h = header(
            b"././@PaxHeader",
            tar::EntryType::XHeader,
            pax.len() as u64,
            m,
        )?;
        b.append(&h, &pax[..])?;
    }
    let kind = match m.kind {
        MemberKind::File => tar::EntryType::Regular,
        MemberKind::Dir => tar::EntryType::Directory,
        MemberKind::Symlink => tar::EntryType::Symlink,
        MemberKind::HardLink => tar::EntryType::Link,
        MemberKind::CharDevice => tar::EntryType::Char,
        MemberKind::Fifo => tar::EntryType::Fifo,
    };
    let size = m.claimed_size.unwrap_or(m.data.len() as u64);
    let h = header(&m.name, kind, size, m)?;
    if m.claimed_size.is_some() {
        // A lying header: write it and the data as they are, without padding fixes.
        b.get_mut().write_all(h.as_bytes())?;
        b.get_mut().write_all(&m.data)?;
        return Ok(());
    }
    b.append(&h, &m.data[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let r = pax_record("path", b"abc");
        assert_eq!(r, b"12 path=abc\n");
        let long = vec![b'x'; 95];
        let r = pax_record("path", &long);
        assert_eq!(r.len(), 105);
        assert!(r.starts_with(b"105 path="));
    }

    #[test]
    fn long_names_and_flags_read_back_with_the_tar_crate() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("/usr/local/{}", "d/".repeat(80)) + "file";
        let mut m = RawMember::new(long.clone(), MemberKind::File);
        m.data = b"hello".to_vec();
        m.fflags = 0x2_0000;
        append(&mut b, &m).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        let mut entries = a.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        assert_eq!(&*e.path_bytes(), long.as_bytes());
        let flags: Vec<_> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .filter_map(|x| x.ok())
            .filter(|x| x.key() == Ok("SCHILY.fflags"))
            .map(|x| x.value().unwrap().to_owned())
            .collect();
        assert_eq!(flags, vec!["schg"]);
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }
    use std::io::Read;
}
