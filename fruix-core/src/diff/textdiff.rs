//! Unified diffs of small text files (`rc.conf`, `loader.conf`, `init.scm`...): the
//! common prefix and suffix are set aside, the rest is aligned by a longest common
//! subsequence of lines, and hunks keep three lines of context.

/// The middle parts larger than this (lines x lines) are not aligned.
const MAX_CELLS: usize = 4_000_000;
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// Whether `bytes` look like text worth showing line by line.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The hunks (`@@ -a,n +b,m @@` then ` `, `-`, `+` lines) turning `a` into `b`; empty
/// when they are equal, one explanatory line when they are too different to align.
pub(crate) fn unified(a: &str, b: &str) -> Vec<String> {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    let Some(ops) = align(&x, &y) else {
        return vec![format!(
            "(too different to align: {} and {} lines)",
            x.len(),
            y.len()
        )];
    };
    hunks(&ops, &x, &y)
}

/// The edit script, in order, or `None` when the differing middle is too large.
fn align(x: &[&str], y: &[&str]) -> Option<Vec<Op>> {
    let prefix = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let suffix = x[prefix..]
        .iter()
        .rev()
        .zip(y[prefix..].iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let (mx, my) = (&x[prefix..x.len() - suffix], &y[prefix..y.len() - suffix]);
    if mx.len().saturating_mul(my.len()) > MAX_CELLS {
        return None;
    }
    // lcs[i][j]: longest common subsequence of mx[i..] and my[j..].
    let w = my.len() + 1;
    let mut lcs = vec![0u32; (mx.len() + 1) * w];
    for i in (0..mx.len()).rev() {
        for j in (0..my.len()).rev() {
            lcs[i * w + j] = if mx[i] == my[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut ops = vec![Op::Same; prefix];
    let (mut i, mut j) = (0, 0);
    while i < mx.len() || j < my.len() {
        if i < mx.len() && j < my.len() && mx[i] == my[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if i < mx.len() && (j == my.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            // Deletions first, as diff(1) prints them.
            ops.push(Op::Del);
            i += 1;
        } else {
            ops.push(Op::Add);
            j += 1;
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    Some(ops)
}

fn hunks(ops: &[Op], x: &[&str], y: &[&str]) -> Vec<String> {
    // Positions in `ops` of changes, grouped when their context would touch.
    let changes: Vec<usize> = (0..ops.len()).filter(|&k| ops[k] != Op::Same).collect();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &k in &changes {
        match groups.last_mut() {
            Some((_, end)) if k <= *end + 2 * CONTEXT + 1 => *end = k,
            _ => groups.push((k, k)),
        }
    }
    // Line numbers in x and y before each op.
    let mut at = Vec::with_capacity(ops.len() + 1);
    let (mut i, mut j) = (0usize, 0usize);
    for op in ops {
        at.push((i, j));
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Del => i += 1,
            Op::Add => j += 1,
        }
    }
    at.push((i, j));
    let mut out = Vec::new();
    for (first, last) in groups {
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(ops.len());
        let (xs, ys) = at[start];
        let (xe, ye) = at[end];
        out.push(format!(
            "@@ -{} +{} @@",
            range(xs, xe - xs),
            range(ys, ye - ys)
        ));
        for k in start..end {
            let (i, j) = at[k];
            out.push(match ops[k] {
                Op::Same => format!(" {}", x[i]),
                Op::Del => format!("-{}", x[i]),
                Op::Add => format!("+{}", y[j]),
            });
        }
    }
    out
}

/// `start,len` as diff(1) prints it (1-based; an empty range names the line before).
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
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
