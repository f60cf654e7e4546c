//! FreeBSD pkg repositories a system's `pkg(...)` packages come from.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One pkg repository (`pkg-repository(5)`): where `pkg("name")` packages are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PackageRepository {
    /// Repository name, unique within a system (`FreeBSD`, `local`); packages may name it.
    pub name: String,
    /// `http://`, `https://` or `file://` URL, or an absolute directory on the building
    /// host. `${ABI}` is replaced by the ABI (`FreeBSD:15:amd64`).
    pub url: String,
    /// The ABI whose packages are used (`FreeBSD:15:amd64`); derived from the base's
    /// release and architecture when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
    /// How the catalogue's signature is checked.
    #[serde(default, skip_serializing_if = "RepositorySignature::is_none")]
    pub signature: RepositorySignature,
}

/// How a repository's catalogue is authenticated (`signature_type` in pkg.conf).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum RepositorySignature {
    /// Unsigned: packages are still checked against the catalogue's sha256 sums, but
    /// the catalogue itself is trusted as fetched (builds say so).
    #[default]
    None,
    /// Signed with one RSA key: the catalogue's `signature` member, checked with the
    /// PEM public key at `key`.
    Pubkey {
        /// PEM public key on the building host.
        key: PathBuf,
    },
    /// Signed the way pkg.FreeBSD.org is: `data.sig` + `data.pub`, trusted when the key's
    /// fingerprint is listed in `dir/trusted/` and not in `dir/revoked/`
    /// (e.g. `/usr/share/keys/pkg`).
    Fingerprints {
        /// Directory holding `trusted/` and `revoked/`.
        dir: PathBuf,
    },
}

impl RepositorySignature {
    /// Whether the repository is used unsigned.
    pub fn is_none(&self) -> bool {
        matches!(self, RepositorySignature::None)
    }
}

impl PackageRepository {
    /// A repository at `url` with no ABI override and no signature checking.
    pub fn new(name: &str, url: &str) -> PackageRepository {
        PackageRepository {
            name: name.to_owned(),
            url: url.to_owned(),
            ..PackageRepository::default()
        }
    }

    /// The ABI this repository's packages are taken for: the declared one, else the base's
    /// (`FreeBSD:15:amd64`); `None` when neither is known (a malformed release label).
    pub fn abi_for(&self, base: &crate::FreeBsdBase) -> Option<String> {
        self.abi.clone().or_else(|| base.pkg_abi())
    }

    /// The URL with `${ABI}` replaced by `abi`, as pkg expands it.
    pub fn url_with_abi(&self, abi: &str) -> String {
        self.url.replace(ABI_VARIABLE, abi)
    }
}

/// The one variable a repository URL may hold, replaced by the repository's ABI.
pub const ABI_VARIABLE: &str = "${ABI}";
