use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [
            { name: "root", uid: 0, group: "wheel", password: "hunter2" },
            { name: "alice", uid: 1002, group: "wheel", password: "$6$fruixsalt$UmcX2hX35aKPDTgf9ofcprR/pi2EOxs/y7k4Cddb3Jr4n2AhiOhWzVDG8ZDYEGG0ePZBy5YtF8CdjwplKi2od." },
        ],
    };
}
