//! Field paths: where in a spec a value sits (`users[1].name`, `rc_conf["sshd_enable"]`).
//!
//! Paths name the value a violation is about, and the values its verdict depends on.
//! The `operating_system!` macro uses the second part: it only knows the values written
//! literally, so it keeps a list of *opaque* paths (values computed by Rust expressions) and
//! reports a violation only when none of the paths involved is opaque.

use std::fmt;

/// One step in a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// A struct field.
    Field(String),
    /// A list element.
    Index(usize),
    /// A map entry.
    Key(String),
    /// Every element of a list (used in dependencies: "all the names in `groups`").
    All,
    /// Elements of a list that are not known yet (a spread `..expr` in the macro). Only
    /// ever appears in opaque paths; it hides `All` but no single `Index`.
    Rest,
}

/// A path from the root of an [`crate::OperatingSystem`] to one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FieldPath(Vec<Seg>);

impl FieldPath {
    /// The whole spec.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }
    fn with(&self, seg: Seg) -> Self {
        let mut segs = self.0.clone();
        segs.push(seg);
        FieldPath(segs)
    }
    /// This path followed by struct field `name`.
    pub fn field(&self, name: &str) -> Self {
        self.with(Seg::Field(name.to_owned()))
    }
    /// This path followed by list element `i`.
    pub fn index(&self, i: usize) -> Self {
        self.with(Seg::Index(i))
    }
    /// This path followed by map entry `key`.
    pub fn key(&self, key: &str) -> Self {
        self.with(Seg::Key(key.to_owned()))
    }
    /// This path followed by "every element" (in dependencies: a rule that looks at all of them).
    pub fn all(&self) -> Self {
        self.with(Seg::All)
    }
    /// This path followed by "the elements a spread added" (macro only: marks them opaque).
    pub fn rest(&self) -> Self {
        self.with(Seg::Rest)
    }
    /// The steps from the root, outermost first.
    pub fn segments(&self) -> &[Seg] {
        &self.0
    }
    /// The path one step up, if any.
    pub fn parent(&self) -> Option<Self> {
        let (_, up) = self.0.split_last()?;
        Some(FieldPath(up.to_vec()))
    }

    /// Whether this value is known when the values at `opaque` paths are not: it is unknown
    /// when an opaque path covers it (is a prefix of it, or covers some element of a `[*]`).
    pub fn is_known(&self, opaque: &[FieldPath]) -> bool {
        !opaque.iter().any(|o| covers(o, self))
    }
}

/// Does opaque path `o` hide (part of) the value at `p`?
fn covers(o: &FieldPath, p: &FieldPath) -> bool {
    if o.0.len() > p.0.len() {
        return false;
    }
    o.0.iter().zip(&p.0).all(|(os, ps)| match (os, ps) {
        // An unknown element, or unknown extra elements, hide "every element".
        (Seg::Index(_) | Seg::Rest, Seg::All) => true,
        (Seg::Rest, _) => false,
        (a, b) => a == b,
    })
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(spec)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Field(name) if i == 0 => f.write_str(name)?,
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(key) => write!(f, "[{key:?}]")?,
                Seg::All => f.write_str("[*]")?,
                Seg::Rest => f.write_str("[..]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> FieldPath {
        FieldPath::root()
    }

    #[test]
    fn displays_like_rust_accessors() {
        assert_eq!(
            p().field("users").index(1).field("name").to_string(),
            "users[1].name"
        );
        assert_eq!(
            p().field("rc_conf").key("a b").to_string(),
            r#"rc_conf["a b"]"#
        );
        assert_eq!(
            p().field("groups").all().field("gid").to_string(),
            "groups[*].gid"
        );
    }

    #[test]
    fn opaque_prefix_hides_descendants_only() {
        let opaque = [p().field("users").index(0)];
        assert!(!p().field("users").index(0).field("uid").is_known(&opaque));
        assert!(p().field("users").index(1).field("uid").is_known(&opaque));
        assert!(!p().field("users").all().field("uid").is_known(&opaque));
        assert!(p().field("users").is_known(&opaque));
        assert!(p().field("groups").all().is_known(&opaque));
    }

    #[test]
    fn spread_hides_all_but_not_single_elements() {
        let opaque = [p().field("services").rest()];
        assert!(p()
            .field("services")
            .index(3)
            .field("name")
            .is_known(&opaque));
        assert!(!p().field("services").all().field("name").is_known(&opaque));
    }
}
