use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [
            { name: "Alice Smith", uid: 1002, group: "wheel" },
            { name: "-bob", uid: 1003, group: "wheel" },
            { name: "a-name-that-is-far-too-long-for-freebsd", uid: 1004, group: "wheel" },
        ],
    };
}
