use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [
            { name: "alice", uid: 1002, group: "wheel" },
            { name: "bob", uid: 1002, group: "wheel" },
            { name: "carol", uid: 22, group: "wheel" },
        ],
    };
}
