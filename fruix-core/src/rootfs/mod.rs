//! The root file system of a system: upstream Fruix's `/run/current-system` topology, as
//! an in-memory [`FileTree`] for the image writers, or written out as a directory.
//!
//! ```text
//! /frx/store/<item>/...          every item of the closure, with its image metadata
//! /run/current-system            -> /frx/store/<hash>-fruix-system-<host>
//! /activate                      -> /run/current-system/activate
//! /boot/<name>                   -> /run/current-system/boot/<name>   (kernel, loader.efi, loader.conf, lua, ...)
//! /etc/                          real directories; files -> /run/current-system/{etc,profile/etc}/...
//!                                (master.passwd, passwd, group are real copies: pwd_mkdb needs them)
//! /bin /sbin /lib /libexec ...   -> /run/current-system/profile/<name>
//! /usr/                          real; /usr/<name> -> profile; /usr/local/etc/rc.d/* -> system
//! /dev /tmp /proc /var /root /home /boot/efi ...   mount points and runtime directories
//! ```

use crate::io_error::{io, IoError};
use crate::links::{host_child, resolve, EntryType, HostTree, LinkTree};
use crate::store::hash::{default_meta, EntryKind};
use crate::store::{Store, StorePath, STORE_DIR, STORE_MTIME};
use crate::system::SystemClosure;
use crate::tree::{Content, Dir, FileTree, Meta, Node, NodeKind, TreeError};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a root file system could not be laid out or written.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error(transparent)]
    /// A path could not be added to the root tree.
    Tree(#[from] TreeError),
    #[error(transparent)]
    /// The store could not be read.
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    /// An I/O operation failed.
    Io(#[from] IoError),
}

const CURRENT: &str = "/run/current-system";

/// Top-level names the root file system makes itself, with what it puts there. A base
/// holding one of them could not be laid out; its import refuses it.
pub const RESERVED_TOP_LEVEL: &[(&str, &str)] = &[
    ("run", CURRENT),
    ("activate", "/activate"),
    ("frx", STORE_DIR),
];
const DIR: Meta = Meta::root(0o755, STORE_MTIME);

fn meta(perm: u16) -> Meta {
    Meta::root(perm, STORE_MTIME)
}

fn node(kind: NodeKind, perm: u16) -> Node {
    Node {
        meta: meta(perm),
        kind,
    }
}

fn link(target: &str) -> Node {
    node(NodeKind::Symlink(target.as_bytes().to_vec()), 0o755)
}

fn dir(perm: u16) -> Node {
    node(NodeKind::Dir(Dir::default()), perm)
}

/// Lays out the root file system of `system`.
pub fn root_tree(store: &Store, system: &SystemClosure) -> Result<FileTree, RootfsError> {
    let mut tree = FileTree::new(DIR);
    for item in &system.items {
        add_item(&mut tree, store, item)?;
    }
    tree.insert(b"run/current-system", link(&system.system.to_string()), DIR)?;
    tree.insert(b"activate", link(&format!("{CURRENT}/activate")), DIR)?;

    // /boot: every boot entry of the system, and the ESP's mount point.
    tree.insert(b"boot", dir(0o755), DIR)?;
    for name in list(&store.physical(&system.system).join("boot"))? {
        tree.insert(
            format!("boot/{name}").as_bytes(),
            link(&format!("{CURRENT}/boot/{name}")),
            DIR,
        )?;
    }

    // /etc: real directories (FreeBSD writes host keys, resolv.conf, pwd.db there),
    // the base's and packages' files linked through the profile, generated ones over them.
    let profile = store.physical(&system.profile);
    mirror(
        &mut tree,
        store,
        &format!("{}/etc", system.profile),
        "etc",
        &format!("{CURRENT}/profile/etc"),
        &[],
    )?;
    let config_etc = store.physical(&system.config).join("etc");
    for name in list(&config_etc)? {
        let path = format!("etc/{name}");
        remove(&mut tree, &path);
        let real = match name.as_str() {
            "master.passwd" => Some(0o600),
            "passwd" | "group" => Some(0o644),
            _ => None,
        };
        let node = match real {
            Some(perm) => {
                let file = config_etc.join(&name);
                let len = fs::metadata(&file).map_err(io("reading", &file))?.len();
                node(NodeKind::File(Content::Host { path: file, len }), perm)
            }
            None => link(&format!("{CURRENT}/etc/{name}")),
        };
        tree.insert(path.as_bytes(), node, DIR)?;
    }

    // /usr: real down to /usr/local/etc/rc.d, where Fruix's rc.d scripts go.
    let real = ["usr/local/etc/rc.d"];
    mirror(
        &mut tree,
        store,
        &format!("{}/usr", system.profile),
        "usr",
        &format!("{CURRENT}/profile/usr"),
        &real,
    )?;
    let system_rc_d = store.physical(&system.system).join("usr/local/etc/rc.d");
    for script in list(&system_rc_d)? {
        let path = format!("usr/local/etc/rc.d/{script}");
        remove(&mut tree, &path);
        tree.insert(path.as_bytes(), link(&format!("{CURRENT}/{path}")), DIR)?;
    }

    // Everything else of the profile's top level: one link each.
    for name in list(&profile)? {
        if !matches!(
            name.as_str(),
            "etc" | "usr" | "var" | "tmp" | "dev" | "root" | "home" | "boot" | "proc"
        ) {
            tree.insert(
                name.as_bytes(),
                link(&format!("{CURRENT}/profile/{name}")),
                DIR,
            )?;
        }
    }

    // Mount points and runtime directories.
    let runtime: [(&str, u16); 16] = [
        ("dev", 0o555),
        ("proc", 0o555),
        ("tmp", 0o1777),
        ("mnt", 0o755),
        ("media", 0o755),
        ("home", 0o755),
        ("root", 0o700),
        ("boot/efi", 0o755),
        ("var", 0o755),
        ("var/db", 0o755),
        ("var/empty", 0o555),
        ("var/lib", 0o755),
        ("var/lib/fruix", 0o755),
        ("var/log", 0o755),
        ("var/run", 0o755),
        ("var/tmp", 0o1777),
    ];
    for (path, perm) in runtime {
        if tree.get(path.as_bytes()).is_none() {
            tree.insert(path.as_bytes(), dir(perm), DIR)?;
        }
    }
    Ok(tree)
}

/// Names in a directory, sorted; none if it does not exist or is a symlink (which could
/// point at a directory of the building host).
fn list(dir: &Path) -> Result<Vec<String>, RootfsError> {
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(io("listing", dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

fn remove(tree: &mut FileTree, path: &str) {
    let mut parts: Vec<&str> = path.split('/').collect();
    let Some(last) = parts.pop() else { return };
    let mut dir = &mut tree.root;
    for part in parts {
        match dir.entries.get_mut(part.as_bytes()).map(|n| &mut n.kind) {
            Some(NodeKind::Dir(d)) => dir = d,
            _ => return,
        }
    }
    dir.entries.remove(last.as_bytes());
}

/// The store as a system sees it: only its logical `/frx/store` (mapped to the physical
/// store directory) exists, so links into other items are followed and nothing of the
/// building host is.
struct StoreView<'s>(&'s Store);

#[derive(Clone)]
enum ViewNode {
    /// The directory made of the first `n` components of [`STORE_DIR`].
    Logical(usize),
    Physical(PathBuf),
}

fn store_dir_components() -> impl Iterator<Item = &'static str> {
    STORE_DIR.split('/').filter(|c| !c.is_empty())
}

impl LinkTree for StoreView<'_> {
    type Node = ViewNode;
    type Error = std::io::Error;
    fn root(&mut self) -> std::io::Result<ViewNode> {
        Ok(ViewNode::Logical(0))
    }
    fn child(
        &mut self,
        dir: &ViewNode,
        name: &[u8],
    ) -> std::io::Result<Option<(ViewNode, EntryType)>> {
        match dir {
            ViewNode::Physical(dir) => {
                Ok(host_child(dir, name)?.map(|(path, kind)| (ViewNode::Physical(path), kind)))
            }
            ViewNode::Logical(n) => {
                if store_dir_components().nth(*n).map(str::as_bytes) != Some(name) {
                    return Ok(None);
                }
                let next = if n + 1 == store_dir_components().count() {
                    ViewNode::Physical(self.0.dir().to_path_buf())
                } else {
                    ViewNode::Logical(n + 1)
                };
                Ok(Some((next, EntryType::Dir)))
            }
        }
    }
    fn read_link(&mut self, link: &ViewNode) -> std::io::Result<Vec<u8>> {
        match link {
            ViewNode::Physical(path) => HostTree(path).read_link(path),
            ViewNode::Logical(_) => Err(std::io::ErrorKind::InvalidInput.into()),
        }
    }
}

/// The physical directory the logical `path` (under `/frx/store`) resolves to, if it
/// resolves to a directory.
fn physical_dir(store: &Store, path: &str) -> Option<PathBuf> {
    match resolve(&mut StoreView(store), path.as_bytes()) {
        Ok((ViewNode::Physical(dir), EntryType::Dir)) => Some(dir),
        _ => None,
    }
}

/// Makes `rel` a real directory mirroring the profile directory `source` (a logical path
/// under `/frx/store`): subdirectories
/// are real under `etc` and where `real_dirs` asks for them; everything else links to
/// `target`.
fn mirror(
    tree: &mut FileTree,
    store: &Store,
    source: &str,
    rel: &str,
    target: &str,
    real_dirs: &[&str],
) -> Result<(), RootfsError> {
    if tree.get(rel.as_bytes()).is_none() {
        tree.insert(rel.as_bytes(), dir(0o755), DIR)?;
    }
    let names = match physical_dir(store, source) {
        Some(here) => list(&here)?,
        None => Vec::new(),
    };
    for name in names {
        let child = format!("{rel}/{name}");
        let child_target = format!("{target}/{name}");
        let child_source = format!("{source}/{name}");
        let is_dir = physical_dir(store, &child_source).is_some();
        let wanted = real_dirs
            .iter()
            .any(|r| *r == child || r.starts_with(&format!("{child}/")));
        if is_dir && (rel == "etc" || rel.starts_with("etc/") || wanted) {
            mirror(tree, store, &child_source, &child, &child_target, real_dirs)?;
        } else {
            tree.insert(child.as_bytes(), link(&child_target), DIR)?;
        }
    }
    // Directories Fruix needs real even where the profile has nothing.
    for r in real_dirs {
        if let Some(rest) = r.strip_prefix(&format!("{rel}/")) {
            let name = rest.split('/').next().unwrap_or(rest);
            let next = format!("{rel}/{name}");
            if tree.get(next.as_bytes()).is_none() {
                mirror(
                    tree,
                    store,
                    &format!("{source}/{name}"),
                    &next,
                    &format!("{target}/{name}"),
                    real_dirs,
                )?;
            }
        }
    }
    Ok(())
}

/// Adds `/frx/store/<item>` with the item's image metadata.
fn add_item(tree: &mut FileTree, store: &Store, item: &StorePath) -> Result<(), RootfsError> {
    let record = store.record(item)?;
    let root = store.physical(item);
    let prefix = format!("{}/{}", STORE_DIR.trim_start_matches('/'), item.base_name());
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut todo = vec![(root.clone(), String::new())];
    while let Some((path, rel)) = todo.pop() {
        let md = fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        let full = if rel.is_empty() {
            prefix.clone()
        } else {
            format!("{prefix}/{rel}")
        };
        let image = |kind| {
            let m = record
                .image_meta
                .get(&rel)
                .copied()
                .unwrap_or_else(|| default_meta(kind));
            Meta {
                uid: m.uid,
                gid: m.gid,
                perm: m.perm,
                flags: m.flags,
                mtime: STORE_MTIME,
            }
        };
        let node = if md.is_dir() {
            // Reversed onto the stack: entries are visited in walk order, so the first
            // name of a hard-linked file is the one the others point to.
            for name in list(&path)?.into_iter().rev() {
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                todo.push((path.join(&name), child));
            }
            Node {
                meta: image(EntryKind::Dir),
                kind: NodeKind::Dir(Dir::default()),
            }
        } else if md.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(io("reading link", &path))?;
            Node {
                meta: image(EntryKind::Symlink),
                kind: NodeKind::Symlink(target.as_os_str().as_encoded_bytes().to_vec()),
            }
        } else {
            let exec = md.permissions().mode() & 0o111 != 0;
            let key = (md.dev(), md.ino());
            match links.get(&key) {
                Some(first) if md.nlink() > 1 => Node {
                    meta: image(EntryKind::File { exec }),
                    kind: NodeKind::HardLink(first.clone()),
                },
                _ => {
                    if md.nlink() > 1 {
                        links.insert(key, full.as_bytes().to_vec());
                    }
                    Node {
                        meta: image(EntryKind::File { exec }),
                        kind: NodeKind::File(Content::Host {
                            path: path.clone(),
                            len: md.len(),
                        }),
                    }
                }
            }
        };
        tree.insert(full.as_bytes(), node, DIR)?;
    }
    Ok(())
}

/// Writes `tree` under `out` (which must not exist): contents, links and permission bits.
/// Ownership is applied only when running as root; otherwise it stays the caller's.
pub fn write_dir(tree: &FileTree, out: &Path) -> Result<(), RootfsError> {
    fs::create_dir(out).map_err(io("creating", out))?;
    // Created files belong to whoever runs this: root may give them their image owners.
    let as_root = fs::metadata(out).map_err(io("reading", out))?.uid() == 0;
    let mut dirs = vec![(out.to_path_buf(), tree.root_meta)];
    let mut chown_later = Vec::new();
    for (rel, node) in tree.walk() {
        let path = out.join(Path::new(OsStr::from_bytes(&rel)));
        if as_root {
            chown_later.push((
                path.clone(),
                node.meta,
                matches!(node.kind, NodeKind::Symlink(_)),
            ));
        }
        match &node.kind {
            NodeKind::Dir(_) => {
                fs::create_dir(&path).map_err(io("creating", &path))?;
                dirs.push((path, node.meta));
            }
            NodeKind::File(content) => {
                let mut src = content.open().map_err(io("reading", &path))?;
                let mut dst = fs::File::create(&path).map_err(io("creating", &path))?;
                std::io::copy(&mut src, &mut dst).map_err(io("writing", &path))?;
                fs::set_permissions(&path, fs::Permissions::from_mode(u32::from(node.meta.perm)))
                    .map_err(io("setting mode of", &path))?;
            }
            NodeKind::Symlink(target) => {
                let target = Path::new(OsStr::from_bytes(target));
                std::os::unix::fs::symlink(target, &path).map_err(io("linking", &path))?;
            }
            NodeKind::HardLink(first) => {
                let first = out.join(Path::new(OsStr::from_bytes(first)));
                fs::hard_link(&first, &path).map_err(io("linking", &path))?;
            }
            _ => {}
        }
    }
    for (path, meta, is_link) in chown_later {
        let ids = (Some(meta.uid), Some(meta.gid));
        let done = if is_link {
            std::os::unix::fs::lchown(&path, ids.0, ids.1)
        } else {
            std::os::unix::fs::chown(&path, ids.0, ids.1)
        };
        done.map_err(io("changing owner of", &path))?;
        if !is_link && !matches!(fs::symlink_metadata(&path), Ok(m) if m.is_dir()) {
            // chown clears setuid/setgid: restore the mode.
            fs::set_permissions(&path, fs::Permissions::from_mode(u32::from(meta.perm)))
                .map_err(io("setting mode of", &path))?;
        }
    }
    // Directory modes last: read-only directories could not be filled.
    for (path, meta) in dirs.into_iter().rev() {
        fs::set_permissions(&path, fs::Permissions::from_mode(u32::from(meta.perm)))
            .map_err(io("setting mode of", &path))?;
    }
    Ok(())
}
