//! rcorder(8)'s ordering of rc.d scripts, from their `PROVIDE:`, `REQUIRE:`, `BEFORE:` and
//! `KEYWORD:` header lines, to check the scripts Fruix generates without a FreeBSD host.
//!
//! Facts from FreeBSD's `sbin/rcorder/rcorder.c` (the version with sequence numbers, in
//! FreeBSD 13 and later): header lines are read until the first other line after the
//! first header line; files, requirements, providers and `BEFORE:` entries are each kept
//! in lists that new entries are prepended to; the ordering is a depth-first walk that
//! starts at the *last* file given, satisfies a file's requirements (latest written first)
//! by running every provider (latest read first), then emits the file. Each file gets a
//! sequence number, one more than the highest of its requirements, and the output is the
//! walk's order sorted by sequence. rcorder sorts with qsort(3), which is stable only for
//! the small inputs it sorts by insertion (fewer than 7 files); this sort is stable, so
//! among equal sequence numbers it keeps the walk's order. A file that takes part in a
//! cycle is reported and moved to the end, as rcorder does.

use std::collections::HashMap;

/// The header of one rc.d script, words in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcHeader {
    /// `PROVIDE:` (or `PROVIDES:`): what the script stands for.
    pub provide: Vec<String>,
    /// `REQUIRE:` (or `REQUIRES:`): what must run first.
    pub require: Vec<String>,
    /// `BEFORE:`: what must run after it.
    pub before: Vec<String>,
    /// `KEYWORD:` (or `KEYWORDS:`), e.g. `shutdown`.
    pub keyword: Vec<String>,
}

/// Which list of a header a tag fills.
type Field = fn(&mut RcHeader) -> &mut Vec<String>;

/// Reads the header lines of a script as rcorder does (backslash continues a line).
pub fn parse(text: &str) -> RcHeader {
    let mut header = RcHeader::default();
    let mut parsing = false;
    let mut pending = String::new();
    for raw in text.lines() {
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        let line = std::mem::take(&mut pending) + raw;
        // rcorder's tags; the plural spellings are synonyms.
        let tags: [(&str, Field); 7] = [
            ("# REQUIRE:", |h| &mut h.require),
            ("# REQUIRES:", |h| &mut h.require),
            ("# PROVIDE:", |h| &mut h.provide),
            ("# PROVIDES:", |h| &mut h.provide),
            ("# BEFORE:", |h| &mut h.before),
            ("# KEYWORD:", |h| &mut h.keyword),
            ("# KEYWORDS:", |h| &mut h.keyword),
        ];
        let slot = tags
            .into_iter()
            .find_map(|(tag, field)| Some((line.strip_prefix(tag)?.to_owned(), field)));
        match slot {
            Some((rest, field)) => {
                parsing = true;
                let words = rest.split([' ', '\t']).filter(|w| !w.is_empty());
                field(&mut header).extend(words.map(str::to_owned));
            }
            None if parsing => break,
            None => {}
        }
    }
    header
}

/// The order rcorder gives, and what it warns about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcOrder {
    /// Indices into the scripts given, in run order.
    pub order: Vec<usize>,
    /// Each file's sequence number (1 for a file that requires nothing provided).
    pub sequence: Vec<u32>,
    /// rcorder's warnings: requirements nobody provides, circular dependencies.
    pub problems: Vec<String>,
}

struct Provision {
    /// Files that provide it and have not run yet, latest read first.
    providers: Vec<usize>,
    in_progress: bool,
    sequence: u32,
}

struct File {
    name: String,
    /// Requirements, latest written first (BEFORE:-made ones ahead of them).
    requires: Vec<String>,
    provides: Vec<String>,
    in_progress: bool,
    sequence: u32,
    issues: u32,
}

struct Walk {
    files: Vec<File>,
    provisions: HashMap<String, Provision>,
    pending: Vec<usize>,
    emitted: Vec<usize>,
    max_sequence: u32,
    problems: Vec<String>,
}

/// Orders `scripts` (file name and header, in the order rc passes them: `/etc/rc.d/*`
/// then the local directories, each sorted) as rcorder(8) does.
pub fn order(scripts: &[(String, RcHeader)]) -> RcOrder {
    let mut walk = Walk {
        files: Vec::new(),
        provisions: HashMap::new(),
        pending: Vec::new(),
        emitted: Vec::new(),
        max_sequence: 0,
        problems: Vec::new(),
    };
    let mut befores: Vec<(usize, String)> = Vec::new();
    for (i, (name, header)) in scripts.iter().enumerate() {
        walk.pending.insert(0, i);
        walk.files.push(File {
            name: name.clone(),
            requires: header.require.iter().rev().cloned().collect(),
            provides: header.provide.iter().rev().cloned().collect(),
            in_progress: false,
            sequence: 0,
            issues: 0,
        });
        for word in &header.provide {
            walk.provide(word, i);
        }
        for word in &header.before {
            befores.insert(0, (i, word.clone()));
        }
    }
    // `BEFORE: X` in file F: F provides a made-up provision every provider of X requires.
    for (n, (file, target)) in befores.into_iter().enumerate() {
        let fake = format!("fake_prov_{n:08}");
        walk.provide(&fake, file);
        walk.files[file].provides.insert(0, fake.clone());
        match walk.provisions.get(&target) {
            Some(p) => {
                for &provider in &p.providers.clone() {
                    walk.files[provider].requires.insert(0, fake.clone());
                }
            }
            None => walk.problems.push(format!(
                "file `{}' is before unknown provision `{target}'",
                walk.files[file].name
            )),
        }
    }
    while let Some(&first) = walk.pending.first() {
        walk.do_file(first, &mut Vec::new());
    }
    let mut order = walk.emitted.clone();
    order.sort_by_key(|&f| walk.files[f].sequence);
    RcOrder {
        order,
        sequence: walk.files.iter().map(|f| f.sequence).collect(),
        problems: walk.problems,
    }
}

impl Walk {
    fn provide(&mut self, word: &str, file: usize) {
        let p = self.provisions.entry(word.to_owned()).or_insert(Provision {
            providers: Vec::new(),
            in_progress: false,
            sequence: 0,
        });
        p.providers.insert(0, file);
    }

    fn do_file(&mut self, f: usize, stack: &mut Vec<usize>) {
        let was_set = self.files[f].in_progress;
        if was_set {
            let name = self.files[f].name.clone();
            self.problems
                .push(format!("Circular dependency on file `{name}'."));
        }
        self.files[f].in_progress = true;
        self.files[f].sequence = 0;
        let requires = std::mem::take(&mut self.files[f].requires);
        for req in &requires {
            self.satisfy(req, f, stack);
            if let Some(p) = self.provisions.get(req) {
                self.files[f].sequence = self.files[f].sequence.max(p.sequence);
            }
        }
        self.files[f].sequence += 1;
        if self.files[f].issues > 0 {
            self.files[f].sequence = self.max_sequence + 1;
        }
        self.max_sequence = self.max_sequence.max(self.files[f].sequence);
        let sequence = self.files[f].sequence;
        for word in std::mem::take(&mut self.files[f].provides) {
            if let Some(p) = self.provisions.get_mut(&word) {
                p.sequence = p.sequence.max(sequence);
                p.providers.retain(|&x| x != f);
            }
        }
        if !was_set {
            self.emitted.push(f);
        }
        self.pending.retain(|&x| x != f);
    }

    fn satisfy(&mut self, req: &str, f: usize, stack: &mut Vec<usize>) {
        let Some(p) = self.provisions.get_mut(req) else {
            let name = &self.files[f].name;
            self.problems.push(format!(
                "requirement `{req}' in file `{name}' has no providers."
            ));
            return;
        };
        if p.providers.is_empty() {
            return;
        }
        if p.in_progress {
            let providers = p.providers.clone();
            self.report_loop(req, &providers, f, stack);
            return;
        }
        p.in_progress = true;
        stack.push(f);
        while let Some(&next) = self.provisions.get(req).and_then(|p| p.providers.first()) {
            self.do_file(next, stack);
        }
        stack.pop();
    }

    /// The cycle through the stack back to a provider of `req`; every file on it is
    /// counted, which moves it to the end of the order.
    fn report_loop(&mut self, req: &str, providers: &[usize], f: usize, stack: &[usize]) {
        let entry = providers
            .iter()
            .find_map(|p| stack.iter().rposition(|s| s == p));
        let Some(entry) = entry else {
            let name = &self.files[f].name;
            self.problems.push(format!(
                "Circular dependency on provision `{req}' in file `{name}' (tracing has failed)."
            ));
            return;
        };
        let mut chain: Vec<usize> = stack[entry..].to_vec();
        chain.push(f);
        for &file in &chain {
            self.files[file].issues += 1;
        }
        chain.push(stack[entry]);
        let names: Vec<&str> = chain.iter().map(|&i| self.files[i].name.as_str()).collect();
        self.problems.push(format!(
            "Circular dependency on provision `{req}': {}.",
            names.join(" -> ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(name: &str, provide: &str, require: &str, before: &str) -> (String, RcHeader) {
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        (
            name.to_owned(),
            RcHeader {
                provide: words(provide),
                require: words(require),
                before: words(before),
                keyword: Vec::new(),
            },
        )
    }

    fn names(scripts: &[(String, RcHeader)], order: &RcOrder) -> Vec<String> {
        order.order.iter().map(|&i| scripts[i].0.clone()).collect()
    }

    #[test]
    fn headers_are_read_until_the_first_other_line() {
        let text = "#!/bin/sh\n#\n# PROVIDE: a b\n# REQUIRE: LOGIN \\\n\tc\n# KEYWORD: shutdown\n\n# REQUIRE: late\n";
        let h = parse(text);
        assert_eq!(h.provide, ["a", "b"]);
        assert_eq!(h.require, ["LOGIN", "c"]);
        assert_eq!(h.keyword, ["shutdown"]);
    }

    #[test]
    fn requirements_come_first_and_ties_keep_the_walk_order() {
        // The walk starts at the last file; independent files come out in reverse.
        let s = vec![
            script("a", "a", "", ""),
            script("b", "b", "", ""),
            script("c", "c", "", ""),
        ];
        assert_eq!(names(&s, &order(&s)), ["c", "b", "a"]);
        // c pulls a in first: walk a, c, b; by sequence a and b (1), then c (2).
        let s = vec![
            script("a", "a", "", ""),
            script("b", "b", "", ""),
            script("c", "c", "a", ""),
        ];
        let o = order(&s);
        assert_eq!(names(&s, &o), ["a", "b", "c"]);
        assert_eq!(o.sequence, [1, 1, 2]);
        assert!(o.problems.is_empty());
    }

    #[test]
    fn before_makes_the_other_file_wait() {
        let s = vec![
            script("late", "late", "", ""),
            script("early", "early", "", "late"),
        ];
        assert_eq!(names(&s, &order(&s)), ["early", "late"]);
    }

    #[test]
    fn missing_providers_and_cycles_are_reported() {
        let s = vec![
            script("x", "x", "y nothing", ""),
            script("y", "y", "x", ""),
            script("z", "z", "", ""),
        ];
        let o = order(&s);
        assert_eq!(
            o.problems,
            [
                "requirement `nothing' in file `x' has no providers.",
                "Circular dependency on file `y'."
            ]
        );
        assert_eq!(names(&s, &o), ["z", "x", "y"]);
        assert_eq!(o.sequence, [2, 3, 1]);

        // A cycle met through a provision being satisfied: its files go last.
        let s = vec![
            script("c", "c", "b", ""),
            script("b", "b", "c", ""),
            script("a", "a", "b", ""),
        ];
        let o = order(&s);
        assert_eq!(
            o.problems,
            ["Circular dependency on provision `b': b -> c -> b."]
        );
        assert_eq!(names(&s, &o), ["c", "b", "a"]);
    }
}
