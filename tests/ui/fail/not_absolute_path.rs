use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [
            { name: "root", uid: 0, group: "wheel", home: "root" },
            { name: "alice", uid: 1002, group: "wheel", shell: "bin/sh" },
        ],
    };
}
