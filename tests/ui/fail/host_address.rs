use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        hosts: [
            { address: "10.0.0.300", names: ["gateway"] },
            { address: "10.0.0.1", names: ["bad_name!"] },
        ],
    };
}
