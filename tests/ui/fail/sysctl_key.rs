use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        sysctl: { "kern..ipc": 1, "net inet": 0 },
    };
}
