//! Quoting for the languages the generated files are written in.

/// A word for sh(1): bare when it is plainly safe, else single-quoted.
pub fn sh(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A command line for sh(1).
pub fn sh_command(words: &[String]) -> String {
    words.iter().map(|w| sh(w)).collect::<Vec<_>>().join(" ")
}

/// A Scheme string literal.
pub fn scheme(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of Scheme strings: `'("a" "b")`.
pub fn scheme_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| scheme(s)).collect();
    format!("'({})", inner.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quoting() {
        assert_eq!(sh("/usr/sbin/sshd"), "/usr/sbin/sshd");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("$HOME"), "'$HOME'");
    }

    #[test]
    fn scheme_strings() {
        assert_eq!(scheme(r#"say "hi" \ bye"#), r#""say \"hi\" \\ bye""#);
        assert_eq!(scheme_list(&["a".into(), "b c".into()]), r#"'("a" "b c")"#);
    }
}
