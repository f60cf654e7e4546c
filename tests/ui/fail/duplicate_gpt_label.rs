use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        host_name: "fruix-test",
        base: sample_base("15.0-RELEASE"),
        image: { esp_label: "fruix", root_label: "fruix" },
        file_systems: [{ mount: "/", device: gpt_label("fruix"), kind: ufs }],
    };
}
