//! Closure completeness: every program the system will execute
//! ([`required_programs`]) must be an executable regular file in the root file system,
//! links followed inside it ([`crate::links`]). Checked on the root tree before any image
//! item is written, and again by `verify` on a written image, from the declaration the
//! image carries.

use super::ufs::{FileType, Ufs};
use super::verify::ImageReport;
use crate::links::{resolve, EntryType, LinkTree};
use crate::system::programs::{required_programs, RequiredProgram};
use crate::tree::{FileTree, NodeKind};
use crate::OperatingSystem;
use std::fmt;
use std::io::{Read, Seek};

/// Where a system records its declaration.
const SPEC: &str = "/run/current-system/metadata/spec.json";

/// A program the system needs that its root file system does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingProgram {
    /// Absolute path on the target.
    pub path: String,
    /// What is there instead, e.g. "`shepherd` not found", "not executable (mode 0444)".
    pub why: String,
    /// The declarations that need it.
    pub needed_by: Vec<String>,
}

impl fmt::Display for MissingProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}), needed by {}",
            self.path,
            self.why,
            self.needed_by.join(", ")
        )
    }
}

/// Programs the system would run but does not have: every one, with what needs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingPrograms(pub Vec<MissingProgram>);

impl fmt::Display for MissingPrograms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} program(s) the system runs are not executable files in its root file system:",
            self.0.len()
        )?;
        for missing in &self.0 {
            write!(f, "\n  - {missing}")?;
        }
        Ok(())
    }
}

/// A root whose files have permission bits: what the check asks of a resolved path.
pub trait Modes: LinkTree {
    /// Whether `node` is a regular file, and its permission bits.
    fn mode(&mut self, node: &Self::Node) -> Result<(bool, u16), String>;
}

/// Why `path` is not an executable regular file in `fs`, if it is not.
fn problem<F: Modes>(fs: &mut F, path: &str) -> Option<String>
where
    F::Error: fmt::Display,
{
    let (node, kind) = match resolve(fs, path.as_bytes()) {
        Ok(found) => found,
        Err(e) => return Some(e.to_string()),
    };
    if kind == EntryType::Dir {
        return Some("a directory".to_owned());
    }
    match fs.mode(&node) {
        Ok((true, perm)) if perm & 0o111 != 0 => None,
        Ok((true, perm)) => Some(format!("not executable (mode {perm:04o})")),
        Ok((false, _)) => Some("not a regular file".to_owned()),
        Err(e) => Some(e),
    }
}

/// The programs of `required` that `fs` lacks.
pub fn missing_programs<F: Modes>(fs: &mut F, required: &[RequiredProgram]) -> Vec<MissingProgram>
where
    F::Error: fmt::Display,
{
    required
        .iter()
        .filter_map(|p| {
            Some(MissingProgram {
                path: p.path.clone(),
                why: problem(fs, &p.path)?,
                needed_by: p.needed_by.clone(),
            })
        })
        .collect()
}

/// Build time: the root tree laid out for `os` has every program `os` runs.
pub fn check_tree(os: &OperatingSystem, tree: &FileTree) -> Result<(), MissingPrograms> {
    let missing = missing_programs(&mut &*tree, &required_programs(os));
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingPrograms(missing))
    }
}

/// `verify`: the image's root has every program its own declaration runs.
pub fn verify_programs<R: Read + Seek>(fs: &mut Ufs<R>, report: &mut ImageReport) {
    let spec = resolve(fs, SPEC.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|(ino, _)| {
            let mut bytes = Vec::new();
            fs.read_file(ino, &mut bytes).map_err(|e| e.to_string())?;
            OperatingSystem::from_json(&String::from_utf8_lossy(&bytes)).map_err(|e| e.to_string())
        });
    let os = match spec {
        Ok(os) => os,
        Err(e) => {
            report
                .problems
                .push(format!("{SPEC}: cannot read the system's declaration: {e}"));
            return;
        }
    };
    let required = required_programs(&os);
    let missing = missing_programs(fs, &required);
    if missing.is_empty() {
        report.passed.push(format!(
            "all {} programs the system runs are executable files in the image",
            required.len()
        ));
    }
    for m in missing {
        report.problems.push(format!("missing program: {m}"));
    }
}

/// The in-memory root tree of a build; a node is a path from the root.
impl LinkTree for &FileTree {
    type Node = Vec<u8>;
    type Error = String;
    fn root(&mut self) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
    fn child(
        &mut self,
        dir: &Vec<u8>,
        name: &[u8],
    ) -> Result<Option<(Vec<u8>, EntryType)>, String> {
        let mut path = dir.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        let Some(node) = self.get(&path) else {
            return Ok(None);
        };
        let kind = match node.kind {
            NodeKind::Dir(_) => EntryType::Dir,
            NodeKind::Symlink(_) => EntryType::Symlink,
            _ => EntryType::Other,
        };
        Ok(Some((path, kind)))
    }
    fn read_link(&mut self, link: &Vec<u8>) -> Result<Vec<u8>, String> {
        match self.get(link).map(|n| &n.kind) {
            Some(NodeKind::Symlink(target)) => Ok(target.clone()),
            _ => Err(format!(
                "`{}` is not a symlink",
                String::from_utf8_lossy(link)
            )),
        }
    }
}

impl Modes for &FileTree {
    fn mode(&mut self, node: &Vec<u8>) -> Result<(bool, u16), String> {
        let missing = || format!("`{}` vanished", String::from_utf8_lossy(node));
        let mut n = self.get(node).ok_or_else(missing)?;
        // A hard link is the file it names, metadata included.
        if let NodeKind::HardLink(first) = &n.kind {
            n = self.get(first).ok_or_else(missing)?;
        }
        Ok((matches!(n.kind, NodeKind::File(_)), n.meta.perm))
    }
}

impl<R: Read + Seek> Modes for Ufs<R> {
    fn mode(&mut self, node: &u64) -> Result<(bool, u16), String> {
        let st = self.stat(*node).map_err(|e| e.to_string())?;
        Ok((st.ftype == FileType::File, st.perm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Meta, Node};

    fn tree() -> FileTree {
        let dir = Meta::root(0o755, 0);
        let mut t = FileTree::new(dir);
        let mut add = |path: &str, kind: NodeKind, perm: u16| {
            let node = Node {
                meta: Meta::root(perm, 0),
                kind,
            };
            t.insert(path.as_bytes(), node, dir).unwrap();
        };
        add("store/item/bin/sh", NodeKind::File("x".into()), 0o555);
        add(
            "store/item/bin/[",
            NodeKind::HardLink(b"store/item/bin/sh".to_vec()),
            0o644,
        );
        add("store/item/etc/rc.subr", NodeKind::File("x".into()), 0o644);
        add("current", NodeKind::Symlink(b"/store/item".to_vec()), 0o755);
        add("bin", NodeKind::Symlink(b"current/bin".to_vec()), 0o755);
        add(
            "etc",
            NodeKind::Symlink(b"../../../current/etc".to_vec()),
            0o755,
        );
        add("loop", NodeKind::Symlink(b"loop".to_vec()), 0o755);
        t
    }

    #[test]
    fn programs_are_found_through_the_trees_own_links() {
        let tree = tree();
        let mut t = &tree;
        assert_eq!(problem(&mut t, "/bin/sh"), None);
        assert_eq!(problem(&mut t, "/bin/["), None, "the first name's inode");
        assert_eq!(
            problem(&mut t, "/etc/rc.subr").as_deref(),
            Some("not executable (mode 0644)")
        );
        assert_eq!(
            problem(&mut t, "/bin/ls").as_deref(),
            Some("`ls` not found")
        );
        assert_eq!(problem(&mut t, "/bin").as_deref(), Some("a directory"));
        assert_eq!(
            problem(&mut t, "/loop").as_deref(),
            Some("more than 32 symbolic links")
        );
    }
}
