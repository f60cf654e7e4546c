//! GPT reading as `verify`, `inspect` and `fsck` do it: protective MBR, both headers, both
//! entry arrays. Whatever comes back must be a table or an error, never a panic; a table
//! read that the writer accepts must read back the same, without problems.
#![no_main]
use fruix_core::image::gpt;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

/// A disk of 68 sectors: room for both tables (LBA 0-33 and the last 33 sectors).
const DISK: usize = 68 * 512;

fn read(disk: &[u8]) {
    let Ok(report) = gpt::read(&mut Cursor::new(disk)) else {
        return;
    };
    // The writer may refuse it (it puts the primary entries at LBA 2, where this table
    // may have usable sectors); what it writes must read back as it was.
    let mut copy = Cursor::new(vec![0u8; disk.len()]);
    if gpt::write(&report.table, &mut copy).is_ok() {
        let again = gpt::read(&mut copy).expect("a written table reads back");
        assert_eq!(again.problems, []);
        assert_eq!(again.table, report.table);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    // Inputs shorter than a disk are its first and last sectors, zeros between, so the
    // backup header at the end gets fuzzed as well as the primary.
    if data.len() < DISK {
        let mut disk = vec![0u8; DISK];
        let head = data.len().min(DISK / 2);
        disk[..head].copy_from_slice(&data[..head]);
        let tail = &data[head..];
        disk[DISK - tail.len()..].copy_from_slice(tail);
        read(&disk);
    }
});
