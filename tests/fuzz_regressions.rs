//! Inputs the fuzzers found crashing, kept as regression tests: each must now give an
//! error or a list of problems, never a panic.

use fruix_core::image::ufs::{self, Ufs};
use std::io::Cursor;

#[test]
fn ufs_block_pointer_overflow_is_an_error() {
    // A small image whose one block pointer was set to 0xffff_ffff_ffff_ffff: reading the
    // symlink it belongs to multiplied it by the fragment size and overflowed.
    let bytes = std::fs::read("tests/fixtures/fuzz/ufs-block-pointer-overflow.bin").unwrap();
    let mut fs = Ufs::open(Cursor::new(bytes.clone()), 0).expect("the superblock is intact");
    let err = fs
        .to_tree()
        .expect_err("a damaged block pointer cannot be read");
    assert!(
        err.to_string().contains("out of range") || err.to_string().contains("inode"),
        "{err}"
    );
    // The checker names the damage instead of panicking.
    let problems = ufs::check(&mut Cursor::new(bytes));
    assert!(!problems.is_empty());
}
