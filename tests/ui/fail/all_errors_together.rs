use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [{ name: "Bob", uid: 1002, group: "staf", shell: "sh" }],
        services: [{ name: "web", start: ["httpd"], requires: ["db"] }],
        rc_conf: { "bad key": "x" },
        time_zone: "Mars/Olympus",
    };
}
