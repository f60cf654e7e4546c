use fruix_macros::operating_system;

fn main() {
    let _os = operating_system! {
        time_zone: "UTC",
        users: [{ name: "alice" }],
    };
}
