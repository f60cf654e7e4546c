//! Packages added to the system profile.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A package: a named, versioned file tree that becomes one store item.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Package {
    /// Package name; unique within a system.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Where the files come from.
    pub source: PackageSource,
}

/// Where a package's files come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum PackageSource {
    /// Files written out in the declaration.
    Inline {
        /// The files, each with its path inside the package.
        files: Vec<InlineFile>,
    },
    /// A directory tree on the building host, copied with canonical metadata.
    Tree {
        /// The tree's root directory on the building host.
        path: PathBuf,
    },
    /// A FreeBSD package resolved by name (`Package::name`) in the system's
    /// `package_repositories`, with its dependencies. `Package::version`, when not empty,
    /// is the exact version required (`1.9.16p2_1`).
    Pkg {
        /// The repository to take it from; the first one that has it when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
    },
    /// A `.pkg` file on the building host. Its dependencies are resolved in the system's
    /// repositories. `Package::name` and `Package::version`, when not empty, must match
    /// the file's manifest.
    PkgFile {
        /// Absolute path of the `.pkg` file.
        path: PathBuf,
        /// Expected sha256 of the file, lowercase hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
}

impl Default for PackageSource {
    fn default() -> Self {
        PackageSource::Inline { files: Vec::new() }
    }
}

/// A file given inline: path inside the package, contents, and whether it is executable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InlineFile {
    /// Path inside the package, relative (`share/fruix/welcome`).
    pub path: String,
    /// The file's contents, written as UTF-8.
    pub contents: String,
    /// Whether the file gets mode 0555 instead of 0444.
    pub executable: bool,
}

impl Package {
    /// A package made of inline text files, e.g.
    /// `Package::inline("motd-extras", "1.0", [("share/motd/extra", "hello\n")])`.
    pub fn inline<'a>(
        name: &str,
        version: &str,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Package {
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            source: PackageSource::Inline {
                files: files
                    .into_iter()
                    .map(|(path, contents)| InlineFile {
                        path: path.to_owned(),
                        contents: contents.to_owned(),
                        executable: false,
                    })
                    .collect(),
            },
        }
    }

    /// A package copied from a directory tree on the building host.
    pub fn tree(name: &str, version: &str, path: impl Into<PathBuf>) -> Package {
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            source: PackageSource::Tree { path: path.into() },
        }
    }

    /// A FreeBSD package resolved by name in the system's repositories, any version.
    pub fn pkg(name: &str) -> Package {
        Package {
            name: name.to_owned(),
            version: String::new(),
            source: PackageSource::Pkg { repository: None },
        }
    }

    /// A `.pkg` file on the building host; name and version come from its manifest.
    pub fn pkg_file(path: impl Into<PathBuf>) -> Package {
        Package {
            name: String::new(),
            version: String::new(),
            source: PackageSource::PkgFile {
                path: path.into(),
                sha256: None,
            },
        }
    }

    /// Marks the inline file at `path` executable (mode 0555 in the store).
    pub fn with_executable(mut self, path: &str) -> Package {
        if let PackageSource::Inline { files } = &mut self.source {
            for file in files.iter_mut().filter(|f| f.path == path) {
                file.executable = true;
            }
        }
        self
    }
}
