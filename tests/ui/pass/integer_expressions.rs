//! Integer fields given as expressions take their type from the field, as in a Rust
//! struct literal: `1000 + 1` is a `u32` uid, not an `i32` that has no `Into<u32>`.
use fruix_core::{ByteSize, ImageSize};
use fruix_macros::operating_system;

const BASE_ID: u32 = 1000;

fn main() {
    let os = operating_system! {
        host_name: "integers",
        base: fruix_core::freebsd::sample_base("15.0-RELEASE"),
        loader: { serial_speed: 9600 * 12, autoboot_delay: 2 - 3 },
        users: [
            { name: "root", uid: 0, group: "wheel" },
            { name: "bob", uid: 1000 + 1, group: "wheel" },
            { name: "carol", uid: BASE_ID + 2, group: "staff" },
        ],
        groups: [
            { name: "wheel", gid: 0 },
            { name: "staff", gid: 2 * 10 },
        ],
        file_systems: [
            { mount: "/", device: gpt_label("fruix-root"), kind: ufs, dump: 0 + 1, pass: 0 + 1 },
            { mount: "/dev", kind: devfs, pass: 1 - 1 },
        ],
        image: { size: 1 << 30, esp_size: 64 << 20, swap: { size: 256 * 1024 * 1024 } },
    };
    assert_eq!(os.loader.serial_speed, 115_200);
    assert_eq!(os.loader.autoboot_delay, -1);
    let uids: Vec<u32> = os.users.iter().map(|u| u.uid).collect();
    assert_eq!(uids, [0, 1001, 1002]);
    assert_eq!(os.groups[1].gid, 20);
    assert_eq!((os.file_systems[0].dump, os.file_systems[0].pass), (1, Some(1)));
    assert_eq!(os.file_systems[1].pass, Some(0));
    assert_eq!(os.image.size, ImageSize::Fixed(ByteSize::gib(1)));
    assert_eq!(os.image.esp_size, ByteSize::mib(64));
    assert_eq!(os.image.swap.as_ref().map(|s| s.size), Some(ByteSize::mib(256)));
    os.validate().expect("a valid declaration");
}
