use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        rc_conf: { sshd_flags: "-o \"Port 2222", hostname: "a\nb" },
        loader: { entries: { "hw.vtnet.mq_disable": "1\"" } },
    };
}
