//! The superblock: fields against newfs's formulas, state, check-hash, recovery record,
//! and every backup against the primary.

use std::io::{Read, Seek, SeekFrom};

use super::{unreadable, Checker, Problem, SbCopy};
use crate::image::ufs::cg::{build_superblock, recovery_record, Csum, SbExtra};
use crate::image::ufs::crc::ckhash;
use crate::image::ufs::format::*;
use crate::image::ufs::geometry::Geometry;

/// Reads the primary superblock and derives a geometry, or reports why not.
pub(super) fn read<R: Read + Seek>(
    r: &mut R,
    offset: u64,
    p: &mut Vec<Problem>,
) -> Option<(Superblock, Vec<u8>, Geometry)> {
    let mut raw = vec![0u8; SBLOCKSIZE as usize];
    let read = r
        .seek(SeekFrom::Start(offset + SBLOCK_UFS2))
        .and_then(|_| r.read_exact(&mut raw));
    if let Err(e) = read {
        p.push(Problem::NoSuperblock(format!("cannot read it: {e}")));
        return None;
    }
    let sb = Superblock::decode(&raw);
    if sb.magic != FS_UFS2_MAGIC {
        p.push(Problem::NoSuperblock(format!("magic {:#x}", sb.magic)));
        return None;
    }
    let g = Geometry::derive(
        i64::from(sb.bsize),
        i64::from(sb.fsize),
        sb.size,
        i64::from(sb.fpg),
        i64::from(sb.ipg),
        i64::from(sb.maxcontig),
        i64::from(sb.contigsumsize),
        i64::from(sb.minfree),
    );
    let g = match g {
        Ok(g) => g,
        Err(e) => {
            p.push(Problem::NoSuperblock(e));
            return None;
        }
    };
    match r.seek(SeekFrom::End(0)) {
        Ok(len) if len < offset + g.size_bytes() => p.push(Problem::Truncated {
            needed: g.size_bytes(),
            len: len.saturating_sub(offset),
        }),
        Ok(_) => {}
        Err(e) => p.push(unreadable("the image length", e)),
    }
    Some((sb, raw, g))
}

impl<R: Read + Seek> Checker<R> {
    pub(super) fn superblock_fields(&mut self, raw: &[u8]) {
        let g = &self.g;
        let disk = &self.sb;
        // Start from the disk's values and replace every derived field by its formula;
        // whatever then differs is a field that breaks its formula.
        let formulas = build_superblock(
            g,
            &SbExtra {
                total: Csum::default(),
                time: 0,
                id: [0; 2],
                volname: [0; 32],
                check_hashes: false,
                providersize: 0,
            },
        );
        let mut expected = disk.clone();
        macro_rules! derived {
            ($($f:ident),*) => { $( expected.$f = formulas.$f; )* };
        }
        derived!(
            sblkno,
            cblkno,
            iblkno,
            dblkno,
            ncg,
            frag,
            bmask,
            fmask,
            bshift,
            fshift,
            fragshift,
            fsbtodb,
            sbsize,
            nindir,
            inopb,
            cssize,
            cgsize,
            dsize,
            csaddr,
            maxsymlinklen,
            maxfilesize,
            qbmask,
            qfmask,
            sblockloc
        );
        if disk.maxcontig > 1 {
            expected.contigsumsize = disk.maxcontig.min(FS_MAXCONTIG as i32);
        } else {
            expected.contigsumsize = 0;
        }
        if disk.sblockactualloc != 0 {
            expected.sblockactualloc = SBLOCK_UFS2 as i64;
        }
        for d in disk.diff(&expected) {
            self.p.push(Problem::SuperblockField {
                field: format!("fs_{}", d.field),
                found: d.left,
                expected: d.right,
            });
        }
        let mut state = Vec::new();
        if disk.clean != 1 {
            state.push(format!("fs_clean is {}", disk.clean));
        }
        if disk.fmod != 0 {
            state.push(format!("fs_fmod is {}", disk.fmod));
        }
        if disk.old_flags & FS_FLAGS_UPDATED == 0 {
            state.push("fs_old_flags lacks FS_FLAGS_UPDATED".into());
        }
        if disk.flags & (FS_UNCLEAN | FS_NEEDSFSCK) != 0 {
            state.push(format!(
                "fs_flags {:#x} marks it unclean or needing fsck",
                disk.flags
            ));
        }
        if disk.metackhash & !CK_SUPPORTED != 0 {
            state.push(format!(
                "fs_metackhash {:#x} has unknown bits",
                disk.metackhash
            ));
        }
        if !(0..=1).contains(&disk.optim) {
            state.push(format!("fs_optim {}", disk.optim));
        }
        if !(0..=99).contains(&disk.minfree) {
            state.push(format!("fs_minfree {}", disk.minfree));
        }
        if disk.maxbsize < disk.bsize {
            state.push(format!("fs_maxbsize {} is below fs_bsize", disk.maxbsize));
        }
        if disk.maxbpg <= 0 || disk.maxcontig <= 0 {
            state.push("fs_maxbpg or fs_maxcontig is not positive".into());
        }
        if disk.volname[31] != 0 {
            state.push("fs_volname is not NUL-terminated".into());
        }
        self.p
            .extend(state.into_iter().map(Problem::SuperblockState));
        let sbsize = (disk.sbsize.max(0) as usize).min(raw.len());
        if self.hashes(CK_SUPERBLOCK) {
            let computed = ckhash(&raw[..sbsize], SB_CKHASH_OFFSET);
            if computed != disk.ckhash {
                self.p.push(Problem::SuperblockHash {
                    copy: SbCopy::Primary,
                    stored: disk.ckhash,
                    computed,
                });
            }
        }
        let mut rec = [0u8; 20];
        match self.ufs.read_at(FSRECOVERY_OFFSET, &mut rec) {
            // Other makers leave the record out; when present it must match.
            Ok(()) if rec != [0; 20] && rec != recovery_record(disk) => {
                self.p.push(Problem::RecoveryRecord)
            }
            Ok(()) => {}
            Err(e) => self.p.push(unreadable("the recovery record", e)),
        }
    }

    pub(super) fn backups(&mut self) {
        let g = self.g.clone();
        let sbsize = (self.sb.sbsize.max(SB_STRUCT_SIZE as i32) as usize).min(SBLOCKSIZE as usize);
        for c in 0..g.ncg {
            let at = g.cgsblock(c) * g.fsize;
            let mut raw = vec![0u8; sbsize];
            if let Err(e) = self.ufs.read_at(at, &mut raw) {
                self.p
                    .push(unreadable(format!("the superblock backup in group {c}"), e));
                continue;
            }
            let backup = Superblock::decode(&raw);
            if backup.sblockactualloc != at as i64 {
                self.p.push(Problem::BackupLocation {
                    cg: c,
                    found: backup.sblockactualloc,
                    expected: at,
                });
            }
            let mut same = backup.clone();
            same.sblockactualloc = self.sb.sblockactualloc;
            same.ckhash = self.sb.ckhash;
            let fields: Vec<String> = self
                .sb
                .diff(&same)
                .into_iter()
                .map(|d| format!("fs_{}", d.field))
                .collect();
            if !fields.is_empty() {
                self.p.push(Problem::BackupDiffers { cg: c, fields });
            }
            if self.hashes(CK_SUPERBLOCK) {
                let computed = ckhash(&raw, SB_CKHASH_OFFSET);
                if computed != backup.ckhash {
                    self.p.push(Problem::SuperblockHash {
                        copy: SbCopy::Backup(c),
                        stored: backup.ckhash,
                        computed,
                    });
                }
            }
        }
    }
}
