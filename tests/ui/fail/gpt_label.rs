use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        image: {
            root_label: "a-root-label-that-is-longer-than-gpt-allows",
            esp_label: "efi boot",
        },
        file_systems: [{ mount: "/", device: gpt_label("a-root-label-that-is-longer-than-gpt-allows"), kind: ufs }],
    };
}
