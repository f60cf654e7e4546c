//! Reading the loader back from an ESP (FAT12/16/32) as `verify` does.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `read_loader` contains the FAT library's panics on garbage (catch_unwind) and turns
    // them into errors; libfuzzer-sys's hook would abort before that. A panic that escapes
    // `read_loader` still aborts: libfuzzer-sys catches it around this closure.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = fruix_core::image::esp::read_loader(data);
});
