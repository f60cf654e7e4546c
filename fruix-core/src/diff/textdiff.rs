//! Unified diffs of small text files (`rc.conf`, `loader.conf`, `init.scm`...), as
//! diff(1) prints them: hunks with three lines of context, through the `similar` crate
//! (Myers' algorithm, with a deadline so that two very different files cannot stall a
//! report).

use similar::{ChangeTag, TextDiff};
use std::time::Duration;

const CONTEXT: usize = 3;

/// How long aligning one pair of files may take before `similar` settles for a coarser
/// (still correct) diff.
const DEADLINE: Duration = Duration::from_millis(200);

/// Whether `bytes` look like text worth showing line by line.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The hunks (`@@ -a,n +b,m @@` then ` `, `-`, `+` lines) turning `a` into `b`; empty
/// when they are equal.
pub(crate) fn unified(a: &str, b: &str) -> Vec<String> {
    let diff = TextDiff::configure().timeout(DEADLINE).diff_lines(a, b);
    let mut out = Vec::new();
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        out.push(hunk.header().to_string().trim_end().to_owned());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Equal => ' ',
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            let line = change.as_str().unwrap_or_default();
            out.push(format!("{sign}{}", line.strip_suffix('\n').unwrap_or(line)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_gets_one_hunk_with_context() {
        let a = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let b = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified(a, b),
            [
                "@@ -2,7 +2,7 @@",
                " b",
                " c",
                " d",
                "-e",
                "+E",
                " f",
                " g",
                " h"
            ]
        );
    }

    #[test]
    fn additions_at_the_end_and_far_apart_changes() {
        assert_eq!(unified("x\n", "x\ny\n"), ["@@ -1 +1,2 @@", " x", "+y"]);
        let a: String = (0..20).map(|n| format!("{n}\n")).collect();
        let b: String = (0..20)
            .map(|n| match n {
                1 => "one\n".to_owned(),
                18 => "eighteen\n".to_owned(),
                n => format!("{n}\n"),
            })
            .collect();
        let hunks = unified(&a, &b);
        assert_eq!(hunks.iter().filter(|l| l.starts_with("@@")).count(), 2);
        assert!(hunks.contains(&"-18".to_owned()) && hunks.contains(&"+eighteen".to_owned()));
        assert!(unified(&a, &a).is_empty());
    }

    #[test]
    fn text_is_utf8_without_nul() {
        assert!(is_text(b"sshd_enable=\"YES\"\n"));
        assert!(!is_text(b"\x7fELF\0\0"));
    }
}
