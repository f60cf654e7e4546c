use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        services: [
            { name: "a", start: ["/bin/a"], requires: ["b"] },
            { name: "b", start: ["/bin/b"], requires: ["c"] },
            { name: "c", start: ["/bin/c"], requires: ["a"] },
            { name: "selfish", start: ["/bin/s"], requires: ["selfish"] },
        ],
    };
}
