use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: { release: "15.0-RELEASE", arch: aarch64 },
    };
}
