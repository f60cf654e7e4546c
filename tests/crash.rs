//! Crash safety: real builds of the default image in child processes, killed with SIGKILL
//! at many points spread over every stage (base import, closure generation, ESP, UFS2
//! root written into the disk image). After each kill the store must clean itself when opened, verify clean,
//! hold no item without complete contents, and the next build must finish with the same
//! image bytes as an uninterrupted build.
//!
//! Kills are placed with the timeline of an uninterrupted build (when each item appeared in
//! its store), so every stage gets kills however long it takes on this machine; where a
//! kill actually landed is read afterwards from which items exist, not assumed.

mod common;

use common::child_process;
use fruix_core::store::{Store, StorePath};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A scratch directory; on `/dev/shm` when it has room, so that ~60 builds of a 320 MiB
/// image do not wait on disk writeback (the store behaves the same on any file system).
fn temp(tag: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if free_bytes(shm) > 3 << 30 {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("fruix-crash-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_bytes(dir: &Path) -> u64 {
    common::fs_space(dir).map_or(0, |s| s.available)
}

/// Runs in child processes: builds the default image into `FRUIX_CHILD_STORE`.
#[test]
#[ignore = "helper run in child processes by the other tests"]
fn child_build_image() {
    let store = Store::open(child_process::store_dir()).unwrap();
    let os = fruix_systems::fruix_freebsd();
    let artifact = fruix_core::image::materialize_bhyve_image(&os, &store).unwrap();
    println!(
        "\nFRUIX-RESULT {} {}",
        artifact.image, artifact.metadata.raw_sha256
    );
}

/// A child building `child_build_image` into `store`.
fn child(store: &Path) -> Command {
    child_process::command("child_build_image", store)
}

/// (image store path, raw_sha256) printed by a successful child.
fn result_of(out: &std::process::Output) -> (String, String) {
    let line = child_process::tagged(out, "FRUIX-RESULT ");
    let (image, sha) = line.split_once(' ').unwrap();
    (image.to_owned(), sha.trim().to_owned())
}

/// The build stages, in order, each named by the item whose commit ends it (the UFS2 root
/// is written straight into the image's disk.img: it has no item of its own).
const STAGES: [(&str, &str); 4] = [
    ("store import", "freebsd-base-"),
    ("closure generation", "fruix-system-"),
    ("ESP", "fruix-esp-"),
    ("UFS2 + disk image", "fruix-bhyve-image-"),
];

/// Names (without hash) of the `<hash>-<name>` entries in a store directory.
fn item_dirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.parse::<StorePath>().ok())
        .map(|p| p.name().to_owned())
        .collect()
}

/// The stage a build was in when it stopped, judged by which items are complete: the
/// first stage whose final item is not registered.
fn stage_reached(store: &Store) -> &'static str {
    let names = common::item_names(store);
    STAGES
        .iter()
        .find(|(_, item)| !names.iter().any(|n| n.starts_with(item)))
        .map_or("after the image", |(stage, _)| stage)
}

/// Builds uninterrupted while watching the store; returns the result and when (since the
/// child started) each stage's final item appeared, and the child's exit.
fn timeline(store_dir: &Path) -> ((String, String), Vec<Duration>) {
    let started = Instant::now();
    let proc = child(store_dir).spawn().unwrap();
    let mut seen: Vec<Option<Duration>> = vec![None; STAGES.len()];
    let out = std::thread::scope(|s| {
        let waiter = s.spawn(|| proc.wait_with_output().unwrap());
        while !waiter.is_finished() {
            let names = item_dirs(store_dir);
            for (i, (_, item)) in STAGES.iter().enumerate() {
                if seen[i].is_none() && names.iter().any(|n| n.starts_with(item)) {
                    seen[i] = Some(started.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        waiter.join().unwrap()
    });
    let end = started.elapsed();
    let result = result_of(&out);
    // A stage too quick to be seen ends when the next one is first seen (or at exit).
    let mut ends = Vec::new();
    for i in 0..STAGES.len() {
        let end_i = seen[i..].iter().flatten().next().copied().unwrap_or(end);
        ends.push(end_i);
    }
    (result, ends)
}

/// Kill times: at least `per_stage` evenly inside each stage's window, the rest shared in
/// proportion to the windows' lengths.
fn kill_points(ends: &[Duration], total: u32, per_stage: u32) -> Vec<Duration> {
    let mut starts = vec![Duration::ZERO];
    starts.extend_from_slice(&ends[..ends.len() - 1]);
    let span = ends[ends.len() - 1].as_secs_f64();
    let spare = total - per_stage * ends.len() as u32;
    let mut points = Vec::new();
    for (start, end) in starts.iter().zip(ends) {
        let len = end.saturating_sub(*start).as_secs_f64();
        let n = per_stage + (f64::from(spare) * len / span).round() as u32;
        for k in 0..n {
            points.push(Duration::from_secs_f64(
                start.as_secs_f64() + (f64::from(k) + 0.5) * len / f64::from(n),
            ));
        }
    }
    points
}

/// Everything in `.fruix/tmp` and every unregistered `<hash>-<name>` directory.
fn leftovers(dir: &Path) -> usize {
    let staging = fs::read_dir(dir.join(".fruix/tmp")).map_or(0, |d| d.count());
    let unregistered = fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| n.parse::<StorePath>().ok())
                .filter(|p| {
                    !dir.join(".fruix/db")
                        .join(format!("{}.json", p.hash()))
                        .exists()
                })
                .count()
        })
        .unwrap_or(0);
    staging + unregistered
}

/// What one kill showed.
struct Trial {
    at: Duration,
    killed_running: bool,
    leftovers_before_open: usize,
    stage: &'static str,
}

/// Kills a build at `at`, checks the store, and finishes the build.
fn trial(dir: &Path, at: Duration, reference: &(String, String)) -> Trial {
    let mut proc = child(dir).spawn().unwrap();
    std::thread::sleep(at);
    let killed_running = proc.try_wait().unwrap().is_none();
    proc.kill().unwrap(); // SIGKILL
    proc.wait().unwrap();
    let leftovers_before_open = leftovers(dir);

    let store = Store::open(dir).unwrap();
    let what = format!("after a kill at {at:?}");
    assert_eq!(leftovers(dir), 0, "opening the store left leftovers {what}");
    for sub in ["db", "cache", "roots"] {
        for entry in fs::read_dir(dir.join(".fruix").join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.starts_with('.'),
                "temporary file .fruix/{sub}/{name} left {what}"
            );
        }
    }
    assert_eq!(store.verify().unwrap(), [], "{what}");
    let items = store.items().unwrap();
    for name in fs::read_dir(dir).unwrap() {
        let name = name.unwrap().file_name().into_string().unwrap();
        if let Ok(item) = name.parse::<StorePath>() {
            assert!(store.contains(&item), "{item} is not registered {what}");
        }
    }
    // Every registered item's references are complete items too.
    assert_eq!(store.closure(&items).unwrap().len(), items.len(), "{what}");
    let stage = stage_reached(&store);

    let out = child(dir).output().unwrap();
    assert_eq!(&result_of(&out), reference, "rebuild {what}");
    Trial {
        at,
        killed_running,
        leftovers_before_open,
        stage,
    }
}

#[test]
fn builds_killed_anywhere_leave_a_clean_store_and_rebuild_the_same_image() {
    let root = temp("kill");
    let (reference, ends) = timeline(&root.join("reference"));
    let points = kill_points(&ends, 60, 6);
    println!("uninterrupted build: stages end at {ends:?}; {reference:?}");

    // Two trials at a time (CI has two cores); each in a fresh store so that a kill lands
    // in the stage its time was chosen for.
    let todo = Mutex::new(points.iter().copied().enumerate().collect::<Vec<_>>());
    let trials = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((k, at)) = todo.lock().unwrap().pop() else {
                    return;
                };
                let dir = root.join(format!("kill-{k}"));
                let t = trial(&dir, at, &reference);
                fs::remove_dir_all(&dir).unwrap();
                trials.lock().unwrap().push(t);
            });
        }
    });
    let mut trials = trials.into_inner().unwrap();
    trials.sort_by_key(|t| t.at);

    let mut table: BTreeMap<usize, (&str, u32, u32, u32)> = BTreeMap::new();
    for t in &trials {
        let order = STAGES
            .iter()
            .position(|(s, _)| *s == t.stage)
            .unwrap_or(STAGES.len());
        let row = table.entry(order).or_insert((t.stage, 0, 0, 0));
        row.1 += 1;
        row.2 += u32::from(t.killed_running);
        row.3 += u32::from(t.leftovers_before_open > 0);
    }
    println!(
        "{} kills (SIGKILL), by the stage the build was in:",
        trials.len()
    );
    println!(
        "  {:<20} {:>5} {:>15} {:>22}",
        "stage", "kills", "while running", "with leftovers to clean"
    );
    for (stage, kills, running, dirty) in table.values() {
        println!("  {stage:<20} {kills:>5} {running:>15} {dirty:>22}");
    }
    let running = trials.iter().filter(|t| t.killed_running).count();
    assert!(trials.len() >= 50, "only {} kills", trials.len());
    assert!(running >= 50, "only {running} kills hit a running build");
    let stages_hit = table
        .values()
        .filter(|(stage, ..)| STAGES.iter().any(|(s, _)| s == stage))
        .count();
    // All but one (as before, when the UFS2 root had a stage and an item of its own).
    assert!(
        stages_hit >= STAGES.len() - 1,
        "kills landed in only {stages_hit} stages: {:?}",
        table.values().collect::<Vec<_>>()
    );
    assert!(
        trials.iter().any(|t| t.leftovers_before_open > 0),
        "no kill interrupted a write: the harness is not testing cleanup"
    );
    fs::remove_dir_all(root).unwrap();
}
