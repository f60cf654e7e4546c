//! Disk-image stage: file systems and partition tables written from in-memory trees.
//!
//! [`layout::seal`] seals the layout ([`ImageSpec`]); [`esp`] builds the FAT ESP,
//! [`ufs`] the UFS2 root, [`gpt`] writes and reads the partition table; [`artifact`] assembles
//! `disk.img` as a store item and [`verify`] checks an image without mounting it.
//! [`programs`] checks, before anything is written and again in `verify`, that every
//! program the system runs is in its root file system (links followed by [`crate::links`]).

pub mod artifact;
pub mod esp;
pub mod gpt;
pub mod layout;
pub mod metadata;
pub mod programs;
pub mod ufs;
pub mod verify;

pub use artifact::{
    materialize_bhyve_image, materialize_bhyve_image_with, materialize_bhyve_image_with_progress,
    operating_system_image_spec, ImageArtifact, ImageError, Stage,
};
pub use layout::{ImageSpec, PartitionKind, PartitionSpec};
pub use metadata::Metadata;
