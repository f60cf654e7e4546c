//! The UFS2 checker and reader on arbitrary bytes: superblock, cylinder groups, inodes,
//! directories, links.
#![no_main]
use fruix_core::image::ufs::{check, Ufs};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let _ = check(Cursor::new(data));
    if let Ok(mut fs) = Ufs::open(Cursor::new(data), 0) {
        let _ = fs.to_tree();
    }
});
