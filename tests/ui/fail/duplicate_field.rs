use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        time_zone: "UTC",
        time_zone: "Europe/Berlin",
        groups: [{ name: "staff", gid: 20, gid: 21 }],
    };
}
