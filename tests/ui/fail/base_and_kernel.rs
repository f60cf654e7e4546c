use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: { release: "15.0-RELEASED", arch: amd64, loader_efi: "loader.efi" },
        kernel: { config: "my kernel", modules: ["if-vtnet"] },
        loader: { autoboot_delay: -5 },
    };
}
