//! GPT reading as `verify` does it: protective MBR, both headers, both entry arrays.
#![no_main]
use fruix_core::image::verify::{read_gpt, ImageReport};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

/// A disk of 68 sectors: room for both tables (LBA 0-33 and the last 33 sectors).
const DISK: usize = 68 * 512;

fuzz_target!(|data: &[u8]| {
    let mut report = ImageReport::default();
    let _ = read_gpt(&mut Cursor::new(data), &mut report);
    // Inputs shorter than a disk are its first and last sectors, zeros between, so the
    // backup header at the end gets fuzzed as well as the primary.
    if data.len() < DISK {
        let mut disk = vec![0u8; DISK];
        let head = data.len().min(DISK / 2);
        disk[..head].copy_from_slice(&data[..head]);
        let tail = &data[head..];
        disk[DISK - tail.len()..].copy_from_slice(tail);
        let _ = read_gpt(&mut Cursor::new(&disk), &mut report);
    }
});
