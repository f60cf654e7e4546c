//! What a system records about its FreeBSD packages (`metadata/packages.json` of the
//! system item, present only when it has some): the packages, where they came from, and
//! what became of their scripts. The image's metadata keys are read from it.

use super::SystemError;
use crate::pkg::accounts::PackageAccounts;
use crate::pkg::scripts::ScriptPlan;
use crate::store::{Store, StorePath};
use serde::{Deserialize, Serialize};

/// The file in the system item.
pub const RECORD: &str = "metadata/packages.json";

/// One FreeBSD package of the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPackage {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The repository it came from, or empty for a `pkg_file(...)`.
    pub repository: String,
    /// sha256 of the `.pkg`.
    pub sha256: String,
    /// Its store item.
    pub item: String,
}

/// One repository the packages came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRepository {
    /// Declared name.
    pub name: String,
    /// How its catalogue was authenticated: `unsigned`, `pubkey` or `fingerprints`.
    pub signature: String,
    /// sha256 of the catalogue the packages were resolved from.
    pub catalogue_sha256: String,
}

/// `metadata/packages.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PackagesRecord {
    /// The install-script policy ([`crate::pkg::scripts::POLICY`]).
    pub script_policy: String,
    /// Shell scripts collected for first boot.
    pub first_boot_scripts: usize,
    /// `@sample` Lua scripts done by the import instead.
    pub sample_scripts: usize,
    /// Users the packages add.
    pub users: Vec<String>,
    /// Groups the packages add.
    pub groups: Vec<String>,
    /// The repositories, in declaration order.
    pub repositories: Vec<RecordedRepository>,
    /// The packages, in dependency order.
    pub packages: Vec<RecordedPackage>,
}

impl PackagesRecord {
    /// The record of packages whose accounts and scripts were sorted out as given.
    pub fn new(
        packages: Vec<RecordedPackage>,
        repositories: Vec<RecordedRepository>,
        accounts: &PackageAccounts,
        scripts: &ScriptPlan,
    ) -> PackagesRecord {
        PackagesRecord {
            script_policy: crate::pkg::scripts::POLICY.to_owned(),
            first_boot_scripts: scripts.first_boot.len(),
            sample_scripts: scripts.samples.len(),
            users: accounts.users.iter().map(|u| u.name.clone()).collect(),
            groups: accounts.groups.iter().map(|g| g.name.clone()).collect(),
            repositories,
            packages,
        }
    }
}

/// The package record of a built system; empty when it has no FreeBSD packages.
pub fn packages_record(store: &Store, system: &StorePath) -> Result<PackagesRecord, SystemError> {
    let Some(path) = store.item_file(system, RECORD) else {
        return Ok(PackagesRecord::default());
    };
    let bytes = std::fs::read(&path).map_err(crate::io_error::io("reading", &path))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SystemError::Damaged(format!("{system}: {RECORD}: {e}")))
}
