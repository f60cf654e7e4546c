//! Running the shared rules on what the macro knows, and turning violations into
//! compile errors at the spans where the offending values were written.

use crate::ast::Range;
use crate::lower::Cx;
use fruix_spec::OperatingSystem;
use proc_macro2::Span;

/// Adds a compile error for every violation of the core's rules that the literal parts of
/// the declaration decide on their own.
pub fn check(cx: &mut Cx, os: &OperatingSystem) {
    for violation in fruix_spec::__private::violations(os) {
        if !fruix_spec::__private::is_decidable(&violation, &cx.opaque) {
            continue;
        }
        // A violation about a default (a field not written) is pointed at the whole macro.
        let at = cx
            .span_of(&violation.path)
            .unwrap_or_else(|| Range::single(Span::call_site()));
        match &violation.help {
            Some(help) => cx.error_help(at, &violation.message, help),
            None => cx.error(at, &violation.message),
        }
    }
}
