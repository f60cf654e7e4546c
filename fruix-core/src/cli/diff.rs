//! `fruix diff A B` and the system command line's `diff --against IMAGE`: open both
//! sides, compare, print. Exit status: 0 equal, 1 different, 2 when a side cannot be read.

use super::CliError;
use crate::diff::{self, Report};
use crate::store::{Store, StoreLocation};
use std::path::PathBuf;

/// Prints a report as `key=value` lines or as JSON.
pub fn print_report(report: &Report, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.to_key_values());
    }
    Ok(())
}

/// Compares two arguments (images, store items, paths) and prints the report; returns
/// whether they are equal. Store items are looked up in `store_dir` (default: the
/// default store), which is only opened when an argument names one.
pub fn diff_args(
    a: &str,
    b: &str,
    store_dir: Option<PathBuf>,
    json: bool,
) -> Result<bool, CliError> {
    let store = if diff::names_store_item(a) || diff::names_store_item(b) {
        let dir = store_dir.unwrap_or_else(|| StoreLocation::default_location().dir());
        // A directory that is not there is no store: the arguments are then plain paths.
        dir.is_dir()
            .then(|| Store::open(&dir))
            .transpose()
            .map_err(|e| CliError::Diff(e.into()))?
    } else {
        None
    };
    let (side_a, side_b) = diff::open_pair(a, b, store.as_ref())?;
    let report = diff::diff(&side_a, &side_b);
    print_report(&report, json)?;
    Ok(report.equal)
}
