//! FreeBSD binary packages (`.pkg`) and pkg repositories, turned into store items.
//!
//! The stages, one module each (see `shared/design/PKG.md` for the formats):
//!
//! ```text
//! package_repositories + pkg("name")
//!     |  catalogue: meta.conf + data.pkg / packagesite.pkg  -> Catalogue (CatalogueEntry per package)
//!     |  signature: the catalogue checked against the declared keys (or said to be unsigned)
//!     |  resolve:   requested names -> dependency closure, in dependency order
//!     |  lock:      the closure pinned (catalogue digest, name, version, path, sha256)
//!     |  fetch:     http(s)/file -> content-addressed download cache, sha256 checked
//!     v
//! .pkg files
//!     |  archive:   decompress by magic, read +MANIFEST, check every member against it
//!     |  import:    one store item `<hash>-<name>-<version>` holding the files at their
//!     v             install paths, with owners, modes and flags from the package
//! ImportedPackage (StorePath + Manifest: users, groups, scripts for the system stage)
//! ```
//!
//! `create` writes packages and repositories the way `pkg create` and `pkg repo` do:
//! for people packaging their own software, and for the tests.
//!
//! Shared by the readers and writers: `sum` (pkg's checksums), `compress` (compressions
//! told by magic, byte limits against bombs), `json` (JSON with duplicate keys refused),
//! `manifest_parse` (manifests from and to JSON), `tar_write` (members as pkg writes them),
//! `error` ([`PkgError`]).

pub mod accounts;
pub mod cache;
pub mod fetch;
pub mod location;
pub mod lock;
pub mod manifest;
pub mod pw;
pub mod resolve;
pub mod scripts;
pub mod signature;

pub use manifest::{
    CatalogueEntry, Dependency, DirEntry, FileEntry, Manifest, ScriptPhase, Sum, SumKind,
};
pub mod archive;
pub mod catalogue;
pub mod compress;
pub mod create;
pub mod error;
pub mod import;
pub mod json;
pub mod manifest_parse;
pub mod sum;
pub mod tar_write;

pub use error::PkgError;
