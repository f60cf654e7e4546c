//! Compile-time validation: every rule has a compile-fail case with its pinned error
//! output (`tests/ui/fail/*.stderr`), and declarations that must compile (and run) are in
//! `tests/ui/pass`. Regenerate the pinned output with `TRYBUILD=overwrite cargo test --test ui`
//! and review the diff.

#[test]
fn operating_system_macro() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
