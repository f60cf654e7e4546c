//! A base given its own UEFI loader: literally (checked when it compiles) or computed
//! (checked by `validate()`).
use fruix_core::Rule;
use fruix_macros::operating_system;
use std::path::PathBuf;

fn main() {
    let literal = operating_system! {
        host_name: "with-loader",
        base: { release: "15.0-RELEASE", loader_efi: "/srv/freebsd/loader.efi" },
    };
    let expected = fruix_core::freebsd::sample_base("15.0-RELEASE")
        .with_loader_efi("/srv/freebsd/loader.efi");
    assert_eq!(literal.base, expected);
    assert_eq!(literal.validate(), Ok(()));

    let built = Some(PathBuf::from("out/loader.efi"));
    let computed = operating_system! {
        host_name: "with-loader",
        base: { release: "15.0-RELEASE", loader_efi: built },
    };
    let problems = computed.validate().expect_err("a relative loader path");
    let rules: Vec<_> = problems.0.iter().map(|v| (v.rule, v.path.to_string())).collect();
    assert_eq!(rules, [(Rule::NotAbsolutePath, "base.loader_efi".to_string())]);
}
