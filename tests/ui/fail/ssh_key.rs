use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        users: [
            { name: "root", uid: 0, group: "wheel" },
            { name: "alice", uid: 1002, group: "wheel", ssh_keys: [
                "ssh-ed25519",
                "ssh-ed2519 AAAAC3NzaC1lZDI1NTE5AAAAIFCs+myzQZ1NqgXHDbDz6qyVBAg0aNMPEJwopc3O6umw alice",
                "ssh-ed25519 not*base64 alice",
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFCs+myzQZ1NqgXHDbDz6qyVBAg0aNMPEJwopc3O6umw alice",
            ] },
        ],
    };
}
