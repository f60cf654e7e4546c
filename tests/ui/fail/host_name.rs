use fruix_macros::operating_system;

fn main() {
    let _a = operating_system! {
        host_name: "fruix_freebsd",
        base: sample_base("15.0-RELEASE"),
    };
    let _b = operating_system! {
        host_name: "-fruix",
        base: sample_base("15.0-RELEASE"),
    };
}
