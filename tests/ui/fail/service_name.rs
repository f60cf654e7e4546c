use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        services: [
            { name: "SSH daemon", start: ["/usr/sbin/sshd", "-D"] },
            { name: "root", start: ["/bin/sh"] },
        ],
    };
}
