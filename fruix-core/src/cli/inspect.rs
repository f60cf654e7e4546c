//! `fruix inspect IMAGE`: what a disk image holds, read with fruix's own readers.

use super::CliError;
use crate::image::gpt::{self, Partition, PartitionType, ReadError};
use crate::image::ufs::Ufs;
use crate::io_error::io;
use crate::store::STORE_DIR;
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

/// Ordered `key=value` facts about an image.
pub type Facts = Vec<(String, String)>;

/// Files of a FAT volume, with sizes, sorted.
fn fat_files(bytes: Vec<u8>) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    crate::image::esp::walk_files(Cursor::new(bytes), &mut |path, len, _| {
        out.push((path.to_owned(), len));
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    out.sort();
    Ok(out)
}

/// Reads the partition table and every partition it knows.
pub fn inspect_image(path: &Path) -> Result<Facts, CliError> {
    let mut f = File::open(path).map_err(io("opening", path))?;
    let size = f.seek(SeekFrom::End(0)).map_err(io("reading", path))?;
    let mut facts: Facts = vec![
        ("image".into(), path.display().to_string()),
        ("image_size_bytes".into(), size.to_string()),
    ];
    let parts = match gpt::read(&mut f) {
        Ok(read) => {
            for problem in &read.problems {
                facts.push(("problem".into(), problem.to_string()));
            }
            read.table.partitions
        }
        Err(source @ ReadError::Io { .. }) => {
            return Err(CliError::Gpt {
                path: path.to_owned(),
                source,
            })
        }
        Err(e) => {
            facts.push(("problem".into(), e.to_string()));
            for problem in e.problems() {
                facts.push(("problem".into(), problem.to_string()));
            }
            Vec::new()
        }
    };
    facts.push((
        "partition_scheme".into(),
        if parts.is_empty() { "none" } else { "gpt" }.into(),
    ));
    for p in &parts {
        let n = p.number;
        facts.push((
            format!("partition.{n}"),
            format!(
                "{} label={} start={} end={} bytes={} guid={}",
                p.partition_type,
                p.label,
                p.first_lba,
                p.last_lba,
                p.size(),
                p.guid
            ),
        ));
        match p.partition_type {
            PartitionType::EfiSystem => {
                let Ok(len) = usize::try_from(p.size()) else {
                    facts.push((
                        format!("partition.{n}.problem"),
                        "too large to read into memory".into(),
                    ));
                    continue;
                };
                let mut bytes = vec![0u8; len];
                f.seek(SeekFrom::Start(p.offset()))
                    .and_then(|_| f.read_exact(&mut bytes))
                    .map_err(io("reading", path))?;
                match fat_files(bytes) {
                    Ok(files) => {
                        for (file, len) in files {
                            facts.push((format!("partition.{n}.file"), format!("{file} {len}")));
                        }
                    }
                    Err(e) => facts.push((
                        format!("partition.{n}.problem"),
                        format!("not a readable FAT file system: {e}"),
                    )),
                }
            }
            PartitionType::FreebsdUfs => inspect_ufs(&mut f, p, &mut facts),
            _ => {}
        }
    }
    Ok(facts)
}

fn inspect_ufs(f: &mut File, p: &Partition, facts: &mut Facts) {
    let n = p.number;
    let mut fs = match Ufs::open(&mut *f, p.offset()) {
        Ok(fs) => fs,
        Err(e) => return facts.push((format!("partition.{n}.problem"), e.to_string())),
    };
    let g = fs.geometry.clone();
    facts.push((
        format!("partition.{n}.ufs"),
        format!(
            "size={} bsize={} fsize={} cylinder_groups={}",
            g.size * g.fsize,
            g.bsize,
            g.fsize,
            g.ncg
        ),
    ));
    if let Ok(target) = fs
        .lookup(b"run/current-system")
        .and_then(|ino| fs.read_link(ino))
    {
        facts.push((
            format!("partition.{n}.current_system"),
            String::from_utf8_lossy(&target).into_owned(),
        ));
    }
    if let Ok(entries) = fs
        .lookup(STORE_DIR.as_bytes())
        .and_then(|ino| fs.read_dir(ino))
    {
        let mut items: Vec<String> = entries
            .into_iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| format!("{STORE_DIR}/{}", String::from_utf8_lossy(&e.name)))
            .collect();
        items.sort();
        facts.push((
            format!("partition.{n}.store_item_count"),
            items.len().to_string(),
        ));
        for item in items {
            facts.push((format!("partition.{n}.store_item"), item));
        }
    }
}
