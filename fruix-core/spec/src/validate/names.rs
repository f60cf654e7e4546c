//! Name lookups with "did you mean" suggestions, shared by enum parsing, the macro's
//! field-name checks and the validation rules.

/// A name that is not one of the known names of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`{}; expected one of {}", suggestion_text(.suggestion), .expected.join(", "))]
pub struct UnknownName {
    /// What kind of name it is ("loader console").
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The closest known name, if one is close enough.
    pub suggestion: Option<String>,
    /// All known names.
    pub expected: Vec<String>,
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// Finds `name` among `all` by `name_of`, or says what was expected.
pub fn lookup<T: Copy>(
    what: &'static str,
    name: &str,
    all: &[T],
    name_of: impl Fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    if let Some(found) = all.iter().copied().find(|t| name_of(*t) == name) {
        return Ok(found);
    }
    let expected: Vec<&str> = all.iter().map(|t| name_of(*t)).collect();
    Err(UnknownName {
        what,
        name: name.to_owned(),
        suggestion: closest(name, expected.iter().copied()).map(str::to_owned),
        expected: expected.iter().map(|s| format!("`{s}`")).collect(),
    })
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo
/// (at most a third of the name's length, as rustc's own suggestions).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count().max(3) / 3).max(1);
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            // Case-only differences are always worth suggesting.
            let d = if c.to_lowercase() == lower {
                0
            } else {
                edit_distance(name, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("hots_name", "host_name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggests_typos_not_strangers() {
        let fields = ["host_name", "base", "users", "groups"];
        assert_eq!(closest("hostname", fields), Some("host_name"));
        assert_eq!(closest("usres", fields), Some("users"));
        assert_eq!(closest("GROUPS", fields), Some("groups"));
        assert_eq!(closest("kernel", fields), None);
    }
}
