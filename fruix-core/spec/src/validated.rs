//! A declaration that passed validation, as a type: the build stages take it, so the rules
//! run once and what they guarantee (sizes, labels, names) need not be checked again.

use crate::geometry::{EspVolume, PartitionGeometry};
use crate::{OperatingSystem, Violations};
use std::borrow::Cow;
use std::ops::Deref;

/// An [`OperatingSystem`] that satisfies every rule of [`crate::validate`]. Only validation
/// makes one ([`OperatingSystem::validated`], `TryFrom`); it reads as the spec (`Deref`)
/// but cannot be changed: [`ValidatedSystem::into_inner`] gives the spec back to edit,
/// and it must be validated again to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedSystem(OperatingSystem);

impl ValidatedSystem {
    /// The spec, read-only.
    pub fn spec(&self) -> &OperatingSystem {
        &self.0
    }

    /// The spec, to change (and validate again).
    pub fn into_inner(self) -> OperatingSystem {
        self.0
    }

    /// Where the image's partitions go (see [`crate::geometry`]).
    pub fn geometry(&self) -> PartitionGeometry {
        PartitionGeometry::of(&self.0.image)
    }

    /// The ESP's size and FAT type; validation checked that the type can hold the size.
    pub fn esp_volume(&self) -> EspVolume {
        EspVolume::of_valid(&self.geometry(), self.0.image.esp_fat)
    }
}

impl Deref for ValidatedSystem {
    type Target = OperatingSystem;
    fn deref(&self) -> &OperatingSystem {
        &self.0
    }
}

impl AsRef<OperatingSystem> for ValidatedSystem {
    fn as_ref(&self) -> &OperatingSystem {
        &self.0
    }
}

impl TryFrom<OperatingSystem> for ValidatedSystem {
    type Error = Violations;
    fn try_from(os: OperatingSystem) -> Result<Self, Violations> {
        os.validated()
    }
}

impl From<ValidatedSystem> for OperatingSystem {
    fn from(valid: ValidatedSystem) -> Self {
        valid.0
    }
}

impl OperatingSystem {
    /// Checks every rule of [`crate::validate`]; the spec, as a [`ValidatedSystem`], when
    /// none is broken, otherwise all violations.
    pub fn validated(self) -> Result<ValidatedSystem, Violations> {
        self.validate()?;
        Ok(ValidatedSystem(self))
    }
}

/// What the build stages accept: a [`ValidatedSystem`], used as it is, or an
/// [`OperatingSystem`] (or a reference to either), which they validate first and refuse
/// with its [`Violations`]. Validate once with [`OperatingSystem::validated`] and pass the
/// result to run the rules once for several stages.
pub trait ToValidated {
    /// The declaration as a [`ValidatedSystem`]: borrowed when it already is one.
    fn to_validated(&self) -> Result<Cow<'_, ValidatedSystem>, Violations>;
}

impl ToValidated for ValidatedSystem {
    fn to_validated(&self) -> Result<Cow<'_, ValidatedSystem>, Violations> {
        Ok(Cow::Borrowed(self))
    }
}

impl ToValidated for OperatingSystem {
    fn to_validated(&self) -> Result<Cow<'_, ValidatedSystem>, Violations> {
        self.validate()?;
        Ok(Cow::Owned(ValidatedSystem(self.clone())))
    }
}

impl<T: ToValidated + ?Sized> ToValidated for &T {
    fn to_validated(&self) -> Result<Cow<'_, ValidatedSystem>, Violations> {
        (**self).to_validated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_specs_become_validated_systems() {
        let good = OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        };
        let valid = good.clone().validated().unwrap();
        assert_eq!(valid.host_name, "h");
        assert!(matches!(valid.to_validated(), Ok(Cow::Borrowed(_))));
        assert!(matches!(good.to_validated(), Ok(Cow::Owned(_))));
        assert_eq!(OperatingSystem::from(valid), good);

        let bad = OperatingSystem {
            host_name: "bad_host".into(),
            ..Default::default()
        };
        let err = ValidatedSystem::try_from(bad.clone()).unwrap_err();
        assert_eq!(err.0[0].path.to_string(), "host_name");
        // As the stages take it: a reference to a spec is validated like the spec.
        fn stage(os: impl ToValidated) -> Result<String, Violations> {
            Ok(os.to_validated()?.host_name.clone())
        }
        assert_eq!(stage(&bad), Err(err));
        assert_eq!(stage(&good).as_deref(), Ok("h"));
    }

    #[test]
    fn the_esp_volume_is_the_aligned_partition() {
        let mut os = OperatingSystem {
            host_name: "h".into(),
            ..Default::default()
        };
        os.image.esp_size = crate::FAT32_MIN_ESP;
        let esp = os.validated().unwrap().esp_volume();
        assert_eq!((esp.bytes(), esp.fat()), (33 << 20, crate::FatType::Fat32));
    }
}
