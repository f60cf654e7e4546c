//! JSON specs: parsing, validation, and the round trip of what parses.
#![no_main]
use fruix_core::OperatingSystem;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(os) = OperatingSystem::from_json(text) {
        let _ = os.validate();
        let again = OperatingSystem::from_json(&os.to_json()).expect("a spec's JSON parses");
        assert_eq!(again, os, "JSON round trip");
    }
});
