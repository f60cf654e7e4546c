use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        file_systems: [
            { mount: "/", device: gpt_label("fruix-root"), kind: ufs },
            { mount: "/data", kind: ufs },
            { mount: "/tmp", kind: tmpfs, device: "/dev/ada0p3" },
            { mount: "/srv", kind: nullfs, device: "srv" },
        ],
    };
}
