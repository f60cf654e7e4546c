//! Disk-image stage: file systems and partition tables written from in-memory trees.

pub mod ufs;
