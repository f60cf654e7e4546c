//! The system closure: everything one declaration needs, as store items, tied together by
//! the system item `<hash>-fruix-system-<host>`:
//!
//! ```text
//! activate                      -> config item: sets up accounts, homes, runtime dirs
//! boot/kernel                   -> kernel slice
//! boot/loader.efi, lua, ...     -> bootloader slice
//! boot/loader.conf              -> config item
//! etc                           -> config item: rc.conf, fstab, passwd, group, hosts, ...
//! shepherd/init.scm             -> config item (Shepherd init modes)
//! usr/local/etc/rc.d/fruix-*    -> config item (fruix-activate; fruix-shepherd in Shepherd modes)
//! usr/local/etc/rc.d/<service>  -> config item (one per service in `freebsd-init+rc.d`)
//! profile                       -> profile item: base userland + packages
//! metadata/spec.json            the declaration (host paths replaced by content identities,
//!                               password hashes redacted)
//! metadata/base.json            the base's items and provenance
//! metadata/closure              every item the system needs, one per line
//! ```
//!
//! Secrets: declared password hashes reach the image only through `etc/master.passwd` of
//! the config item, whose image mode is 0600. The store keeps such private files 0400
//! (readable by the store's owner only, never by other users of the building host), and
//! `disk.img`, which holds them too (its root partition), is 0400 as well. The system's
//! `metadata/spec.json` (world-readable) has them redacted.

pub(crate) mod accounts;
mod activate;
pub mod etc;
mod packages;
mod pkg_record;
mod pkgbase;
mod pkgs;
mod profile;
pub mod programs;
pub(crate) mod quote;
pub mod rcd;
pub mod rcorder;
pub mod shepherd;

pub use pkg_record::{packages_record, PackagesRecord, RecordedPackage, RecordedRepository};
pub use pkgs::{PackageOptions, PackageProgress, Pins};

use crate::freebsd::{BaseError, BaseItems};
use crate::io_error::{io, IoError};
use crate::store::{ImageMeta, Store, StoreError, StorePath, STORE_DIR};
use crate::{BaseSource, InitMode, OperatingSystem, PackageSource, ToValidated, Violations};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Why a system could not be built. The store keeps whatever complete items were made.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error(transparent)]
    /// The spec breaks validation rules.
    Invalid(#[from] Violations),
    #[error(transparent)]
    /// The FreeBSD base could not be imported.
    Base(#[from] BaseError),
    #[error(transparent)]
    /// The store refused an item.
    Store(#[from] StoreError),
    #[error("package `{name}`: {why}")]
    /// A package could not be built into an item.
    Package {
        /// The package's name.
        name: String,
        /// What went wrong.
        why: String,
    },
    #[error(
        "kernel module `{module}` is not in the kernel ({kernel}/boot/kernel has no `{module}.ko`)"
    )]
    /// `kernel.modules` names a module the kernel item lacks.
    MissingModule {
        /// The module's name.
        module: String,
        /// The kernel item's store path.
        kernel: String,
    },
    #[error("time zone `{zone}` is not in the base ({runtime} has no usr/share/zoneinfo/{zone})")]
    /// `time_zone` names a zone the base has no zoneinfo file for.
    MissingTimeZone {
        /// The time zone.
        zone: String,
        /// The runtime item's store path.
        runtime: String,
    },
    #[error(
        "service `{service}` would shadow FreeBSD's own rc.d script `{script}` ({runtime}/etc/rc.d): \
         enable the base's script in rc_conf, or give the service another name"
    )]
    /// In `freebsd-init+rc.d`, a service would take the name of one of the base's rc.d
    /// scripts, or of what one provides: both would start, under one `<name>_enable`.
    ShadowsBaseScript {
        /// The service.
        service: String,
        /// The base's rc.d script.
        script: String,
        /// The runtime item's store path.
        runtime: String,
    },
    #[error("`{path}` is provided by both {first} and {second}, with different contents")]
    /// Two items of the profile provide the same path with different contents (or one as
    /// a directory, the other not).
    ProfileConflict {
        /// The path inside the profile.
        path: String,
        /// The first item providing it.
        first: String,
        /// The second item providing it.
        second: String,
    },
    #[error("`{path}` is installed by both {first} and {second}, with different contents")]
    /// Two FreeBSD packages own one path with different contents (or one has a file where
    /// the other has a directory).
    PackagePathConflict {
        /// The install path.
        path: String,
        /// The first package (`name-version`).
        first: String,
        /// The second package.
        second: String,
    },
    #[error(transparent)]
    /// A `.pkg` file or catalogue was refused.
    Pkg(Box<crate::pkg::PkgError>),
    #[error(transparent)]
    /// A repository file could not be fetched.
    Fetch(Box<crate::pkg::fetch::FetchError>),
    #[error(transparent)]
    /// The requested packages could not be resolved.
    Resolve(Box<crate::pkg::resolve::ResolveError>),
    #[error(transparent)]
    /// The lock file could not be used (or no longer matches the declaration).
    Lock(Box<crate::pkg::lock::LockError>),
    #[error(transparent)]
    /// A repository's catalogue signature was not accepted.
    Signature(Box<crate::pkg::signature::SignatureError>),
    #[error(transparent)]
    /// A package's users or groups clash with the system's.
    Accounts(Box<crate::pkg::accounts::AccountError>),
    #[error(transparent)]
    /// A package has install scripts the policy refuses.
    Scripts(Box<crate::pkg::scripts::ScriptError>),
    #[error(transparent)]
    /// An I/O operation on a system file failed.
    Io(#[from] IoError),
    #[error("system item `{0}` is damaged")]
    /// A stored system item (the argument) cannot be read back.
    Damaged(String),
}

/// The package stage's errors are boxed: they are large, and rare.
macro_rules! boxed_from {
    ($($variant:ident($error:ty)),* $(,)?) => {
        $(impl From<$error> for SystemError {
            fn from(e: $error) -> SystemError {
                SystemError::$variant(Box::new(e))
            }
        })*
    };
}

boxed_from!(
    Pkg(crate::pkg::PkgError),
    Fetch(crate::pkg::fetch::FetchError),
    Resolve(crate::pkg::resolve::ResolveError),
    Lock(crate::pkg::lock::LockError),
    Signature(crate::pkg::signature::SignatureError),
    Accounts(crate::pkg::accounts::AccountError),
    Scripts(crate::pkg::scripts::ScriptError),
);

/// A built system and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemClosure {
    /// The system item.
    pub system: StorePath,
    /// Generated configuration (etc, boot/loader.conf, activate, shepherd, rc.d).
    pub config: StorePath,
    /// Base userland and packages.
    pub profile: StorePath,
    /// The FreeBSD base's items.
    pub base: BaseItems,
    /// The packages' items, in declaration order.
    pub packages: Vec<StorePath>,
    /// Every item, the system item included, sorted.
    pub items: Vec<StorePath>,
}

/// Bumped whenever generated contents change, so cached systems are rebuilt.
const SCHEME: &str = "fruix-system-v2";

/// Builds the system closure of `os` into `store`, or finds it in the build cache. An
/// [`OperatingSystem`] is validated first ([`SystemError::Invalid`]); a
/// [`ValidatedSystem`](crate::ValidatedSystem) is used as it is.
pub fn build_system(os: &impl ToValidated, store: &Store) -> Result<SystemClosure, SystemError> {
    build_system_with(os, store, &PackageOptions::default(), &mut |_, _| {})
}

/// [`build_system`] with FreeBSD packages pinned by `options`' lock file, reporting
/// package downloads to `progress` (bytes done, bytes in all).
pub fn build_system_with(
    os: &impl ToValidated,
    store: &Store,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<SystemClosure, SystemError> {
    let os = os.to_validated()?;
    let os: &OperatingSystem = &os;
    let pins = pkgs::pin(os, options, progress)?;
    let base = pkgbase::materialize_base(os, store, &pins, options, progress)?;
    let key = cache_key(os, &base, &pins)?;
    let system = store.build_cached::<SystemError>(&key, |store| {
        build_uncached(os, &base, store, &pins, options, progress)
    })?;
    load(store, &system)
}

/// Pins the FreeBSD packages of `os` and writes `options`' lock file (the system CLI's
/// `lock` verb): resolved afresh when `options.update_lock`, else only when the lock file
/// is missing. Returns the pins (an empty lock for a system without `pkg(...)`).
pub fn lock_packages(
    os: &impl ToValidated,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<Pins, SystemError> {
    let os = os.to_validated()?;
    pkgs::pin(&os, options, progress)
}

/// What identifies a system's contents: the declaration, its base, and the state of any
/// host trees its packages copy (names, sizes and times; contents are hashed when copied).
fn cache_key(os: &OperatingSystem, base: &BaseItems, pins: &Pins) -> Result<String, SystemError> {
    let mut sha = Sha256::new();
    sha.update(SCHEME);
    sha.update(os.to_json());
    sha.update(base.base.to_string());
    // Empty without FreeBSD packages: such systems keep their keys.
    sha.update(pins.identity()?);
    for package in &os.packages {
        if let PackageSource::Tree { path } = &package.source {
            sha.update(crate::store::tree_stamp(path)?);
        }
    }
    let digest = sha.finalize();
    Ok(format!("system-{}", crate::store::hash::hex(&digest)))
}

/// What stands for a password hash in `metadata/spec.json`.
pub const REDACTED: &str = "*redacted: see etc/master.passwd*";

/// The declaration as recorded in the system: host paths (release-set directories,
/// package trees, a given boot loader) replaced by what identifies their contents, so
/// that the system item does not depend on where things were on the building host;
/// password hashes redacted.
fn portable_spec(os: &OperatingSystem, base: &BaseItems, packages: &[StorePath]) -> String {
    let mut os = os.clone();
    os.base.source = match os.base.source {
        BaseSource::Sample => BaseSource::Sample,
        _ => BaseSource::Tree {
            path: PathBuf::from(base.base.to_string()),
        },
    };
    if os.base.loader_efi.is_some() {
        let shipped = base
            .bootloader
            .join(crate::freebsd::loader_efi::LOADER_PATH);
        os.base.loader_efi = Some(PathBuf::from(shipped));
    }
    // Password hashes are secrets: they live only in the private `etc/master.passwd`.
    for user in &mut os.users {
        if !user.password.is_empty() && user.password != "*" {
            user.password = REDACTED.to_owned();
        }
    }
    for (package, item) in os.packages.iter_mut().zip(packages) {
        match &mut package.source {
            PackageSource::Tree { path } | PackageSource::PkgFile { path, .. } => {
                *path = PathBuf::from(item.to_string());
            }
            _ => {}
        }
    }
    os.to_json()
}

fn build_uncached(
    os: &OperatingSystem,
    base: &BaseItems,
    store: &Store,
    pins: &Pins,
    options: &PackageOptions,
    progress: PackageProgress<'_>,
) -> Result<StorePath, SystemError> {
    for module in &os.kernel.modules {
        let module_file = format!("boot/kernel/{module}.ko");
        if store.item_file(&base.kernel, &module_file).is_none() {
            return Err(SystemError::MissingModule {
                module: module.clone(),
                kernel: base.kernel.to_string(),
            });
        }
    }
    // Through `item_file`: a base's symlink must not make us copy a file of the host.
    let zone_file = format!("usr/share/zoneinfo/{}", os.time_zone);
    let Some(zone) = store.item_file(&base.runtime, &zone_file) else {
        return Err(SystemError::MissingTimeZone {
            zone: os.time_zone.clone(),
            runtime: base.runtime.to_string(),
        });
    };
    if os.init_mode == InitMode::FreebsdInitRcd {
        check_base_rc_scripts(os, base, store)?;
    }
    // FreeBSD packages first: all their checks come before any item is written.
    let pkg = pkgs::build(os, store, pins, options, progress)?;
    // One item per declared package (a FreeBSD package's own), then the FreeBSD
    // packages' dependencies.
    let mut packages = Vec::new();
    for package in &os.packages {
        packages.push(match pkg.item_of(package) {
            Some(item) => item,
            None => packages::materialize(package, store)?,
        });
    }
    let dependencies: Vec<StorePath> = pkg
        .items
        .iter()
        .filter(|i| !packages.contains(i))
        .cloned()
        .collect();
    let mut profile_items = vec![base.runtime.clone()];
    profile_items.extend(packages.iter().cloned());
    profile_items.extend(dependencies.iter().cloned());
    let profile = profile::build(&profile_items, store)?;
    let config = build_config(os, &zone, store, &pkg)?;

    let mut deps = vec![config.clone(), profile.clone(), base.base.clone()];
    deps.extend(packages.iter().cloned());
    deps.extend(dependencies.iter().cloned());
    let closure = store.closure(&deps)?;

    let mut b = store.builder(&format!("fruix-system-{}", os.host_name))?;
    b.symlink("activate", &config.join("activate"))?;
    b.symlink("etc", &config.join("etc"))?;
    if os.init_mode.uses_shepherd() {
        b.symlink("shepherd", &config.join("shepherd"))?;
    }
    b.symlink("profile", &profile.to_string())?;
    if !pkg.scripts.first_boot.is_empty() {
        b.symlink(
            activate::PACKAGE_SCRIPTS,
            &config.join(activate::PACKAGE_SCRIPTS),
        )?;
    }
    for (script, _) in rc_scripts(os) {
        b.symlink(
            &format!("usr/local/etc/rc.d/{script}"),
            &config.join(&format!("rc.d/{script}")),
        )?;
    }
    b.symlink("boot/kernel", &base.kernel.join("boot/kernel"))?;
    let loader_dir = store.physical(&base.bootloader).join("boot");
    // A real directory of the item: a `boot` symlink would list the host's.
    if !std::fs::symlink_metadata(&loader_dir).is_ok_and(|m| m.is_dir()) {
        return Err(SystemError::Damaged(format!(
            "{}: `boot` is not a directory",
            base.bootloader
        )));
    }
    let mut boot_entries: Vec<String> = std::fs::read_dir(&loader_dir)
        .map_err(io("listing", &loader_dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "kernel")
        .collect();
    boot_entries.sort();
    for name in boot_entries {
        b.symlink(
            &format!("boot/{name}"),
            &base.bootloader.join(&format!("boot/{name}")),
        )?;
    }
    b.symlink("boot/loader.conf", &config.join("boot/loader.conf"))?;
    if os.init_mode.uses_shepherd() {
        b.symlink("boot/shepherd-pid1", &config.join("boot/shepherd-pid1"))?;
    }
    b.file(
        "metadata/spec.json",
        portable_spec(os, base, &packages).as_bytes(),
        false,
    )?;
    let base_json =
        serde_json::to_vec_pretty(base).map_err(|e| SystemError::Damaged(e.to_string()))?;
    b.file("metadata/base.json", &base_json, false)?;
    let list: String = closure.iter().map(|i| format!("{i}\n")).collect();
    b.file("metadata/closure", list.as_bytes(), false)?;
    if let Some(record) = &pkg.record {
        let json =
            serde_json::to_vec_pretty(record).map_err(|e| SystemError::Damaged(e.to_string()))?;
        b.file(pkg_record::RECORD, &json, false)?;
    }
    Ok(b.commit()?)
}

fn build_config(
    os: &OperatingSystem,
    zone: &Path,
    store: &Store,
    pkg: &pkgs::PkgStage,
) -> Result<StorePath, SystemError> {
    let mut b = store.builder(&format!("fruix-config-{}", os.host_name))?;
    let pkg_accounts = &pkg.accounts;
    let package_scripts = !pkg.scripts.first_boot.is_empty();
    let mut files: Vec<(String, String, bool)> = [
        ("etc/rc.conf", etc::rc_conf(os), false),
        ("etc/fstab", etc::fstab(os), false),
        ("etc/hosts", etc::hosts(os), false),
        ("etc/motd", etc::motd(os), false),
        ("etc/sysctl.conf", etc::sysctl_conf(os), false),
        (
            "etc/master.passwd",
            accounts::master_passwd(os, pkg_accounts),
            false,
        ),
        ("etc/passwd", accounts::passwd(os, pkg_accounts), false),
        ("etc/group", accounts::group(os, pkg_accounts), false),
        ("etc/shells", accounts::shells(os), false),
        ("boot/loader.conf", etc::loader_conf(os), false),
        ("activate", activate::activate(os, package_scripts), true),
    ]
    .into_iter()
    .map(|(path, text, exec)| (path.to_owned(), text, exec))
    .collect();
    if os.init_mode.uses_shepherd() {
        files.push(("boot/shepherd-pid1".into(), shepherd::pid1_script(os), true));
        files.push(("shepherd/init.scm".into(), shepherd::init_scm(os), false));
    }
    for (script, text) in rc_scripts(os) {
        files.push((format!("rc.d/{script}"), text, true));
    }
    if package_scripts {
        files.push((
            activate::PACKAGE_SCRIPTS.to_owned(),
            crate::pkg::scripts::render(&pkg.scripts),
            true,
        ));
    }
    for (path, text, exec) in &files {
        b.file(path, text.as_bytes(), *exec)?;
    }
    // Password hashes: readable by root only in the image, which makes the store's copy
    // private too (0400, readable by the store's owner only; see `store::hash`).
    b.set_meta("etc/master.passwd", ImageMeta::root(0o600));
    b.copy_file("etc/localtime", zone, false)?;
    for user in &os.users {
        if !user.ssh_keys.is_empty() {
            let keys: String = user.ssh_keys.iter().map(|k| format!("{k}\n")).collect();
            b.file(
                &format!("etc/fruix/authorized_keys/{}", user.name),
                keys.as_bytes(),
                false,
            )?;
        }
    }
    Ok(b.commit()?)
}

/// The rc.d scripts of the system (file name and text): Fruix's activation, then Shepherd's
/// or, in `freebsd-init+rc.d`, one per service.
fn rc_scripts(os: &OperatingSystem) -> Vec<(String, String)> {
    let mut out = vec![(activate::RC_SCRIPT.to_owned(), activate::rc_script())];
    match os.init_mode {
        InitMode::FreebsdInitRcShepherd | InitMode::ShepherdPid1 => {
            out.push((shepherd::RC_SCRIPT.to_owned(), shepherd::rc_script(os)));
        }
        InitMode::FreebsdInitRcd => {
            out.extend(os.services.iter().map(|s| (s.name.clone(), rcd::script(s))));
        }
    }
    out
}

/// A service must not take the name of one of the base's rc.d scripts, nor what one of
/// them provides: both would start, under the same `<name>_enable`.
fn check_base_rc_scripts(
    os: &OperatingSystem,
    base: &BaseItems,
    store: &Store,
) -> Result<(), SystemError> {
    let dir = store.physical(&base.runtime).join("etc/rc.d");
    // A real directory of the item: a symlink could list the host's.
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(io("listing", &dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut taken: Vec<(String, String)> = Vec::new();
    for name in names {
        taken.push((name.clone(), name.clone()));
        let text = store
            .item_file(&base.runtime, &format!("etc/rc.d/{name}"))
            .and_then(|path| std::fs::read(path).ok());
        if let Some(text) = text {
            let header = rcorder::parse(&String::from_utf8_lossy(&text));
            taken.extend(header.provide.into_iter().map(|p| (p, name.clone())));
        }
    }
    for service in &os.services {
        let rc = service.rc_name();
        if let Some((_, script)) = taken.iter().find(|(w, _)| *w == service.name || *w == rc) {
            return Err(SystemError::ShadowsBaseScript {
                service: service.name.clone(),
                script: script.clone(),
                runtime: base.runtime.to_string(),
            });
        }
    }
    Ok(())
}

/// Reads a built system back from its item.
pub fn load(store: &Store, system: &StorePath) -> Result<SystemClosure, SystemError> {
    let dir = store.physical(system);
    let damaged = || SystemError::Damaged(system.to_string());
    let item_of = |link: &str| -> Result<StorePath, SystemError> {
        let target = std::fs::read_link(dir.join(link)).map_err(|_| damaged())?;
        let target = target.to_str().ok_or_else(damaged)?;
        let base = target
            .strip_prefix(STORE_DIR)
            .and_then(|t| t.strip_prefix('/'))
            .ok_or_else(damaged)?;
        let item = base.split('/').next().ok_or_else(damaged)?;
        item.parse().map_err(|_| damaged())
    };
    let base_json = std::fs::read(dir.join("metadata/base.json")).map_err(|_| damaged())?;
    let base: BaseItems = serde_json::from_slice(&base_json).map_err(|_| damaged())?;
    let config = item_of("etc")?;
    let profile = item_of("profile")?;
    let items = store.closure(std::slice::from_ref(system))?;
    let fixed = [
        &config,
        &profile,
        &base.base,
        &base.runtime,
        &base.bootloader,
        &base.kernel,
        system,
    ];
    let packages = items
        .iter()
        .filter(|i| {
            !fixed.contains(i)
                && store
                    .record(&profile)
                    .is_ok_and(|r| r.references.contains(i))
        })
        .cloned()
        .collect();
    Ok(SystemClosure {
        system: system.clone(),
        config,
        profile,
        base,
        packages,
        items,
    })
}
