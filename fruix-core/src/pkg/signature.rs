//! Catalogue signatures: checking a repository's catalogue against the declared keys,
//! and signing catalogues (for `RepoWriter` and the tests).
//!
//! What pkg signs is the uncompressed catalogue member (`data`, `packagesite.yaml`), and
//! what its RSA signature covers is the member's SHA-256 as 64 lowercase hex characters:
//!
//! - `signature_type: pubkey`: the catalogue archive holds a `signature` member; the key is
//!   a PEM file on the building host.
//! - `signature_type: fingerprints` (pkg.FreeBSD.org): `<member>.sig` and `<member>.pub`;
//!   the key is trusted when the SHA-256 hex of the `.pub` bytes is the `fingerprint` of a
//!   file in `<dir>/trusted/` and of none in `<dir>/revoked/`.
//!
//! The RSA encodings pkg accepts (libpkg `pkgsign_ossl.c`), all PKCS#1 v1.5:
//! 1. current: SHA-256 DigestInfo of SHA-256(hex), i.e. an RSA-SHA256 signature of the
//!    64 hex characters (what pkg writes when built with OpenSSL 3; the only form
//!    `fingerprints` accepts);
//! 2. historical (`pubkey` only): a DigestInfo that says SHA-1 but holds the 65 bytes of
//!    the hex and its NUL, as OpenSSL 1.1 encoded it (`04 41` octet string);
//! 3. the same 65 bytes behind the fixed 20-byte SHA-1 header OpenSSL 3 re-encodes with.
//!
//! Non-RSA signatures (`$PKGSIGN:ecc$...`) are reported as unsupported.

use super::create::Signer;
use crate::store::hash::hex;
use fruix_spec::RepositorySignature;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The `signature` mode a repository is declared with, as the lock and metadata show it:
/// `unsigned`, `pubkey` or `fingerprints`.
pub fn signature_mode(setting: &RepositorySignature) -> &'static str {
    match setting {
        RepositorySignature::None => "unsigned",
        RepositorySignature::Pubkey { .. } => "pubkey",
        RepositorySignature::Fingerprints { .. } => "fingerprints",
    }
}

/// How a catalogue was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// No signature settings were declared: the catalogue is trusted as fetched.
    Unsigned,
    /// The `signature` member matched the declared public key.
    Pubkey {
        /// The key file.
        key: PathBuf,
    },
    /// `<member>.sig` matched `<member>.pub`, whose fingerprint is trusted.
    Fingerprint {
        /// SHA-256 hex of the `.pub` bytes.
        fingerprint: String,
    },
}

impl SignatureStatus {
    /// The value for metadata (`signature=<value>`): `unsigned`, `pubkey` or
    /// `fingerprint:<sha256 hex>`.
    pub fn metadata_value(&self) -> String {
        match self {
            SignatureStatus::Unsigned => "unsigned".to_string(),
            SignatureStatus::Pubkey { .. } => "pubkey".to_string(),
            SignatureStatus::Fingerprint { fingerprint } => format!("fingerprint:{fingerprint}"),
        }
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str(
                "unsigned (no signature settings declared: the catalogue is trusted as fetched)",
            ),
            SignatureStatus::Pubkey { key } => write!(f, "signed, checked with {}", key.display()),
            SignatureStatus::Fingerprint { fingerprint } => {
                write!(f, "signed by trusted key with fingerprint {fingerprint}")
            }
        }
    }
}

/// Why a catalogue's signature was not accepted, or a key could not be used.
#[derive(Debug, Error)]
pub enum SignatureError {
    /// A key or trust file could not be read.
    #[error("repository {repository:?}: reading {}: {source}", path.display())]
    Read {
        /// The repository.
        repository: String,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key is not an RSA key in PEM.
    #[error("{what}: not a usable RSA key: {problem}")]
    BadKey {
        /// Which key (file path, or the catalogue member).
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// The catalogue lacks the members its signature mode needs.
    #[error("repository {repository:?} is declared {mode}-signed but its catalogue has no {missing} member")]
    MissingMember {
        /// The repository.
        repository: String,
        /// `pubkey` or `fingerprints`.
        mode: &'static str,
        /// The member's name.
        missing: String,
    },
    /// The signature does not match the catalogue and key.
    #[error("repository {repository:?}: catalogue member {member} does not match its signature ({key}): tampered with, or signed with another key")]
    Mismatch {
        /// The repository.
        repository: String,
        /// The signed member.
        member: String,
        /// The key it was checked with.
        key: String,
    },
    /// The catalogue's key is not listed in `trusted/`.
    #[error("repository {repository:?}: the catalogue's key (fingerprint {fingerprint}) is not trusted: no file in {} lists it", trusted.display())]
    Untrusted {
        /// The repository.
        repository: String,
        /// SHA-256 hex of the key.
        fingerprint: String,
        /// The `trusted/` directory.
        trusted: PathBuf,
    },
    /// The catalogue's key is listed in `revoked/`.
    #[error("repository {repository:?}: the catalogue's key (fingerprint {fingerprint}) is revoked by {}", file.display())]
    Revoked {
        /// The repository.
        repository: String,
        /// SHA-256 hex of the key.
        fingerprint: String,
        /// The revoking file.
        file: PathBuf,
    },
    /// A fingerprint file is not `function: "sha256"` + `fingerprint: "<hex>"`.
    #[error("repository {repository:?}: fingerprint file {}: {problem}", file.display())]
    BadFingerprintFile {
        /// The repository.
        repository: String,
        /// The file.
        file: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The signature is not RSA (`$PKGSIGN:ecc$...`).
    #[error("repository {repository:?}: {kind} signatures are not supported (only RSA)")]
    Unsupported {
        /// The repository.
        repository: String,
        /// The signer type named in the signature.
        kind: String,
    },
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
}

/// Checks the catalogue member `member` (e.g. `data`) of `repository` against `setting`.
/// `members` are the catalogue archive's members by name (`data`, `signature`, `data.sig`,
/// `data.pub`). An undeclared signature gives [`SignatureStatus::Unsigned`] for the caller
/// to show.
pub fn verify_catalogue(
    repository: &str,
    setting: &RepositorySignature,
    member: &str,
    members: &BTreeMap<String, Vec<u8>>,
) -> Result<SignatureStatus, SignatureError> {
    let missing = |mode, name: &str| SignatureError::MissingMember {
        repository: repository.to_string(),
        mode,
        missing: name.to_string(),
    };
    if setting.is_none() {
        return Ok(SignatureStatus::Unsigned);
    }
    let data = members
        .get(member)
        .ok_or_else(|| missing(signature_mode(setting), member))?;
    match setting {
        RepositorySignature::None => Ok(SignatureStatus::Unsigned),
        RepositorySignature::Pubkey { key } => {
            let signature = members
                .get("signature")
                .ok_or_else(|| missing("pubkey", "signature"))?;
            refuse_non_rsa(repository, signature)?;
            let pem = fs::read(key).map_err(|source| SignatureError::Read {
                repository: repository.to_string(),
                path: key.clone(),
                source,
            })?;
            let public = public_key(&pem, &key.display().to_string())?;
            if !verify_with(&public, data, signature, true) {
                return Err(SignatureError::Mismatch {
                    repository: repository.to_string(),
                    member: member.to_string(),
                    key: format!("key {}", key.display()),
                });
            }
            Ok(SignatureStatus::Pubkey { key: key.clone() })
        }
        RepositorySignature::Fingerprints { dir } => {
            let sig_name = format!("{member}.sig");
            let pub_name = format!("{member}.pub");
            let signature = members
                .get(&sig_name)
                .ok_or_else(|| missing("fingerprints", &sig_name))?;
            let pem = members
                .get(&pub_name)
                .ok_or_else(|| missing("fingerprints", &pub_name))?;
            refuse_non_rsa(repository, signature)?;
            let fingerprint = fingerprint(pem);
            check_trust(repository, dir, &fingerprint)?;
            let public = public_key(pem, &format!("repository {repository:?} member {pub_name}"))?;
            if !verify_with(&public, data, signature, false) {
                return Err(SignatureError::Mismatch {
                    repository: repository.to_string(),
                    member: member.to_string(),
                    key: format!("key with fingerprint {fingerprint}"),
                });
            }
            Ok(SignatureStatus::Fingerprint { fingerprint })
        }
    }
}

fn refuse_non_rsa(repository: &str, signature: &[u8]) -> Result<(), SignatureError> {
    let Some(rest) = signature.strip_prefix(b"$PKGSIGN:") else {
        return Ok(());
    };
    let kind = rest.split(|&b| b == b'$').next().unwrap_or_default();
    Err(SignatureError::Unsupported {
        repository: repository.to_string(),
        kind: String::from_utf8_lossy(kind).into_owned(),
    })
}

/// SHA-256 hex of a public key file's bytes: its fingerprint in `trusted/` files.
pub fn fingerprint(public_pem: &[u8]) -> String {
    hex(&Sha256::digest(public_pem))
}

/// The text of a `trusted/` (or `revoked/`) file for a fingerprint, as pkg's key
/// directories hold them.
pub fn fingerprint_file(fingerprint: &str) -> String {
    format!("function: \"sha256\"\nfingerprint: \"{fingerprint}\"\n")
}

fn check_trust(repository: &str, dir: &Path, fingerprint: &str) -> Result<(), SignatureError> {
    let revoked = dir.join("revoked");
    if revoked.is_dir() {
        if let Some(file) = listing(repository, &revoked, fingerprint)? {
            return Err(SignatureError::Revoked {
                repository: repository.to_string(),
                fingerprint: fingerprint.to_string(),
                file,
            });
        }
    }
    let trusted = dir.join("trusted");
    match listing(repository, &trusted, fingerprint)? {
        Some(_) => Ok(()),
        None => Err(SignatureError::Untrusted {
            repository: repository.to_string(),
            fingerprint: fingerprint.to_string(),
            trusted,
        }),
    }
}

/// The first file (by name) in `dir` whose fingerprint is `wanted`. Every file must be a
/// well-formed fingerprint file: a broken revocation must not pass silently.
fn listing(repository: &str, dir: &Path, wanted: &str) -> Result<Option<PathBuf>, SignatureError> {
    let read = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SignatureError::Read {
            repository: repository.to_string(),
            path,
            source,
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir(dir).map_err(read(dir))? {
        let entry = entry.map_err(read(dir))?;
        if entry.file_type().map_err(read(dir))?.is_dir() {
            continue;
        }
        files.push(entry.path());
    }
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).map_err(read(&file))?;
        let found = parse_fingerprint_file(&text).map_err(|problem| {
            SignatureError::BadFingerprintFile {
                repository: repository.to_string(),
                file: file.clone(),
                problem,
            }
        })?;
        if found == wanted {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// The fingerprint in a pkg fingerprint file (UCL: `function: "sha256"`,
/// `fingerprint: "<hex>"`, `:` or `=`, optional `;`/`,`, `#` comments).
fn parse_fingerprint_file(text: &str) -> Result<String, String> {
    let mut function = None;
    let mut fingerprint = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once([':', '=']) else {
            return Err(format!("cannot read line {line:?}"));
        };
        let value = value
            .trim()
            .trim_end_matches([';', ','])
            .trim()
            .trim_matches('"');
        match key.trim() {
            "function" => function = Some(value.to_ascii_lowercase()),
            "fingerprint" => fingerprint = Some(value.to_ascii_lowercase()),
            other => return Err(format!("unknown key {other:?}")),
        }
    }
    match (function.as_deref(), fingerprint) {
        (Some("sha256"), Some(f)) if f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(f)
        }
        (Some("sha256"), Some(f)) => Err(format!("fingerprint {f:?} is not a sha256")),
        (Some(other), _) => Err(format!("function {other:?} is not supported (only sha256)")),
        (None, _) => Err("no function".to_string()),
    }
}

fn public_key(pem: &[u8], what: &str) -> Result<RsaPublicKey, SignatureError> {
    let bad = |problem: String| SignatureError::BadKey {
        what: what.to_string(),
        problem,
    };
    let text = std::str::from_utf8(pem).map_err(|_| bad("not PEM text".to_string()))?;
    RsaPublicKey::from_public_key_pem(text.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text.trim()))
        .map_err(|e| bad(e.to_string()))
}

/// The encodings of [`verify_catalogue`]'s module documentation: `historical` allows 2
/// and 3 besides 1.
fn verify_with(key: &RsaPublicKey, data: &[u8], signature: &[u8], historical: bool) -> bool {
    let hex_digest = hex(&Sha256::digest(data));
    let current = Sha256::digest(hex_digest.as_bytes());
    if key
        .verify(Pkcs1v15Sign::new::<Sha256>(), &current, signature)
        .is_ok()
    {
        return true;
    }
    historical
        && [SHA1_INFO_65, SHA1_INFO_20].iter().any(|prefix| {
            let payload = historical_payload(prefix, &hex_digest);
            key.verify(Pkcs1v15Sign::new_unprefixed(), &payload, signature)
                .is_ok()
        })
}

/// DigestInfo header naming SHA-1 with a 65-byte digest (DER-correct, OpenSSL 1.1).
const SHA1_INFO_65: &[u8] = &[
    0x30, 0x4e, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x41,
];
/// The fixed SHA-1 DigestInfo header (20-byte digest) OpenSSL 3 prepends whatever the length.
const SHA1_INFO_20: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

fn historical_payload(prefix: &[u8], hex_digest: &str) -> Vec<u8> {
    let mut payload = prefix.to_vec();
    payload.extend_from_slice(hex_digest.as_bytes());
    payload.push(0);
    payload
}

/// How a repository is signed (the two RSA `signature_type`s of pkg-repository(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignMode {
    /// One `signature` member, checked with a key file.
    Pubkey,
    /// `<member>.sig` + `<member>.pub`, checked against trusted fingerprints.
    Fingerprints,
}

/// An RSA private key that signs catalogues the way `pkg repo` does.
#[derive(Debug, Clone)]
pub struct SigningKey {
    key: RsaPrivateKey,
}

impl SigningKey {
    /// A new random key of `bits` bits (pkg generates 2048).
    pub fn generate(bits: usize) -> Result<SigningKey, SignatureError> {
        let key = RsaPrivateKey::new(&mut rand_core::OsRng, bits)
            .map_err(|e| SignatureError::Sign(e.to_string()))?;
        Ok(SigningKey { key })
    }

    /// A key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<SigningKey, SignatureError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = RsaPrivateKey::from_pkcs8_pem(pem.trim())
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem.trim()))
            .map_err(|e| SignatureError::BadKey {
                what: "private key".to_string(),
                problem: e.to_string(),
            })?;
        Ok(SigningKey { key })
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, SignatureError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| SignatureError::Sign(e.to_string()))
    }

    /// The public key as PEM (`PUBLIC KEY`, what pkg writes to `<member>.pub` and key files).
    pub fn public_key_pem(&self) -> Result<String, SignatureError> {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SignatureError::Sign(e.to_string()))
    }

    /// The signature of a catalogue member's bytes in the current form (1), which both
    /// `pubkey` and `fingerprints` repositories accept.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let hex_digest = hex(&Sha256::digest(data));
        let digest = Sha256::digest(hex_digest.as_bytes());
        self.key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|e| SignatureError::Sign(e.to_string()))
    }

    /// The members to add beside catalogue member `member` (`data`) holding `data`:
    /// `signature` for [`SignMode::Pubkey`], `<member>.sig` + `<member>.pub` for
    /// [`SignMode::Fingerprints`] (`RepoWriter`'s signer hook).
    pub fn catalogue_members(
        &self,
        mode: SignMode,
        member: &str,
        data: &[u8],
    ) -> Result<Vec<(String, Vec<u8>)>, SignatureError> {
        let signature = self.sign(data)?;
        Ok(match mode {
            SignMode::Pubkey => vec![("signature".to_string(), signature)],
            SignMode::Fingerprints => vec![
                (format!("{member}.sig"), signature),
                (format!("{member}.pub"), self.public_key_pem()?.into_bytes()),
            ],
        })
    }

    /// This key as `RepoWriter::sign_with`'s hook. Signing with a loaded key does not fail
    /// in practice; if it did, the catalogue would be written without signature members,
    /// which verification then reports as missing.
    pub fn signer(self, mode: SignMode) -> Signer {
        Box::new(move |member, data| {
            self.catalogue_members(mode, member, data)
                .unwrap_or_default()
        })
    }

    /// The signature in the historical `pubkey` form (2): old repositories have these.
    pub fn sign_historical(&self, data: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let payload = historical_payload(SHA1_INFO_65, &hex(&Sha256::digest(data)));
        self.key
            .sign(Pkcs1v15Sign::new_unprefixed(), &payload)
            .map_err(|e| SignatureError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
