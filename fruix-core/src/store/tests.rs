use super::*;
use std::os::unix::fs::PermissionsExt;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn hello(store: &Store, text: &str) -> StorePath {
    let mut b = store.builder("hello").unwrap();
    b.file(
        "bin/hello",
        format!("#!/bin/sh\necho {text}\n").as_bytes(),
        true,
    )
    .unwrap();
    b.file("share/doc/README", b"hi\n", false).unwrap();
    b.symlink("bin/hi", "hello").unwrap();
    b.commit().unwrap()
}

/// Every file under `dir` with its mode and contents: a snapshot to compare stores by.
fn snapshot(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let data = if md.is_file() {
            fs::read(&p).unwrap()
        } else {
            Vec::new()
        };
        out.push((rel, md.permissions().mode(), data));
        if md.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

#[test]
fn items_are_named_by_content_and_canonical() {
    let (_d1, a) = store();
    let (_d2, b) = store();
    let pa = hello(&a, "world");
    let pb = hello(&b, "world");
    assert_eq!(
        pa, pb,
        "same contents, same name, whatever the physical store"
    );
    assert_ne!(hello(&a, "other"), pa);
    assert!(pa.to_string().starts_with("/frx/store/"));
    assert_eq!(snapshot(&a.physical(&pa)), snapshot(&b.physical(&pb)));
    let bin = a.physical(&pa).join("bin/hello");
    assert_eq!(
        fs::metadata(&bin).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    let doc = a.physical(&pa).join("share/doc/README");
    assert_eq!(
        fs::metadata(&doc).unwrap().permissions().mode() & 0o7777,
        0o444
    );
    assert_eq!(
        fs::metadata(a.physical(&pa)).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    let mtime = fs::metadata(&bin).unwrap().modified().unwrap();
    assert_eq!(
        mtime,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1)
    );
}

#[test]
fn rebuilding_the_same_item_changes_nothing() {
    let (_d, s) = store();
    let p = hello(&s, "x");
    let before = snapshot(s.dir());
    assert_eq!(hello(&s, "x"), p);
    assert_eq!(snapshot(s.dir()), before);
}

#[test]
fn image_metadata_is_part_of_the_name() {
    let (_d, s) = store();
    let plain = hello(&s, "x");
    let mut b = s.builder("hello").unwrap();
    b.file("bin/hello", b"#!/bin/sh\necho x\n", true).unwrap();
    b.file("share/doc/README", b"hi\n", false).unwrap();
    b.symlink("bin/hi", "hello").unwrap();
    b.set_meta(
        "bin/hello",
        ImageMeta {
            uid: 0,
            gid: 0,
            perm: 0o4555,
            flags: 0,
        },
    );
    let setuid = b.commit().unwrap();
    assert_ne!(plain, setuid);
    assert_eq!(
        s.record(&setuid).unwrap().image_meta["bin/hello"].perm,
        0o4555
    );
}

#[test]
fn references_and_closure() {
    let (_d, s) = store();
    let lib = hello(&s, "lib");
    let mut b = s.builder("app").unwrap();
    b.file(
        "bin/app",
        format!("exec {}/bin/hello\n", lib).as_bytes(),
        true,
    )
    .unwrap();
    let app = b.commit().unwrap();
    let mut b = s.builder("profile").unwrap();
    b.symlink("app", &app.to_string()).unwrap();
    let profile = b.commit().unwrap();
    assert_eq!(
        s.record(&app).unwrap().references,
        std::slice::from_ref(&lib)
    );
    assert_eq!(
        s.record(&profile).unwrap().references,
        std::slice::from_ref(&app)
    );
    let mut expected = vec![lib, app, profile.clone()];
    expected.sort();
    assert_eq!(s.closure(&[profile]).unwrap(), expected);
}

#[test]
fn verify_reports_modified_and_missing_items() {
    let (_d, s) = store();
    let a = hello(&s, "a");
    let b = hello(&s, "b");
    assert_eq!(s.verify().unwrap(), []);
    let file = s.physical(&a).join("share/doc/README");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&file, "tampered\n").unwrap();
    remove_tree(&s.physical(&b)).unwrap();
    let problems = s.verify().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems
        .iter()
        .any(|p| matches!(p, VerifyProblem::Modified { item, .. } if *item == a)));
    assert!(problems.contains(&VerifyProblem::Missing(b)));
}

#[test]
fn gc_keeps_the_closure_of_roots_only() {
    let (_d, s) = store();
    let lib = hello(&s, "lib");
    let mut b = s.builder("app").unwrap();
    b.file("bin/app", lib.to_string().as_bytes(), true).unwrap();
    let app = b.commit().unwrap();
    let junk = hello(&s, "junk");
    s.add_root("app", &app).unwrap();
    let report = s.gc().unwrap();
    assert_eq!(report.deleted, std::slice::from_ref(&junk));
    assert!(s.contains(&lib) && s.contains(&app) && !s.contains(&junk));
    assert!(!s.physical(&junk).exists());
    s.remove_root("app").unwrap();
    assert_eq!(s.gc().unwrap().deleted.len(), 2);
    assert_eq!(s.items().unwrap(), []);
}

#[test]
fn an_abandoned_build_leaves_the_store_as_it_was() {
    let (_d, s) = store();
    hello(&s, "keep");
    let before = snapshot(s.dir());
    {
        let mut b = s.builder("broken").unwrap();
        b.file("half", b"written", false).unwrap();
        assert!(b.file("../escape", b"x", false).is_err());
    }
    assert_eq!(snapshot(s.dir()), before);
}

#[test]
fn opening_cleans_what_killed_builds_left() {
    let (_d, s) = store();
    let kept = hello(&s, "kept");
    // A staging directory and an unregistered item, as a SIGKILL would leave them.
    let staging = s.dir().join(".fruix/tmp/999-0-dead");
    fs::create_dir_all(staging.join("x")).unwrap();
    let orphan = s
        .dir()
        .join("0123456789abcdef0123456789abcdef01234567-orphan");
    fs::create_dir_all(&orphan).unwrap();
    fs::set_permissions(&orphan, fs::Permissions::from_mode(0o555)).unwrap();
    // Half-written registration, cache entry and root (killed inside `write_atomic`).
    let halves = [
        ".fruix/db/.tmp-999-3-0123456789abcdef0123456789abcdef01234567.json",
        ".fruix/cache/.tmp-999-4-image-00ff",
        ".fruix/roots/.tmp-999-5-current",
    ]
    .map(|rel| s.dir().join(rel));
    for half in &halves {
        fs::write(half, b"{\"path\": \"/frx/st").unwrap();
    }
    assert_eq!(s.roots().unwrap(), [], "a root being written is not a root");
    let s = Store::open(s.dir()).unwrap();
    assert!(!staging.exists() && !orphan.exists());
    for half in &halves {
        assert!(!half.exists(), "{} left", half.display());
    }
    assert_eq!(s.items().unwrap(), [kept]);
    assert_eq!(s.verify().unwrap(), []);
}

#[test]
fn build_cache_skips_the_build() {
    let (_d, s) = store();
    let first: StorePath = s
        .build_cached::<StoreError>("key1", |s| Ok(hello(s, "c")))
        .unwrap();
    let again = s
        .build_cached::<StoreError>("key1", |_| panic!("the cache must answer"))
        .unwrap();
    assert_eq!(first, again);
}

#[test]
fn self_references_are_hashed_modulo_themselves() {
    let (_d, s) = store();
    let mut b = s.builder("image").unwrap();
    let me = b.self_path();
    b.file_with_self_ref(
        "metadata",
        format!("image_store_path={me}\n").as_bytes(),
        false,
    )
    .unwrap();
    b.file("disk.img", b"bytes", false).unwrap();
    let item = b.commit().unwrap();
    let text = fs::read_to_string(s.physical(&item).join("metadata")).unwrap();
    assert_eq!(text, format!("image_store_path={item}\n"));
    assert_eq!(s.record(&item).unwrap().references, Vec::<StorePath>::new());
    assert_eq!(s.verify().unwrap(), []);
    // Tampering with the self-referencing file is still caught.
    let file = s.physical(&item).join("metadata");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&file, text.replace("image_store_path", "image_stor3_path")).unwrap();
    assert_eq!(s.verify().unwrap().len(), 1);
}

/// An item like an image's: a large sparse first file naming another item, then small files.
fn image_like(store: &Store, dep: &StorePath, hash_ahead: bool) -> (StorePath, Option<String>) {
    let mut b = store.builder("image").unwrap();
    let disk = b.prepare("disk.img").unwrap();
    let f = fs::File::create(&disk).unwrap();
    f.set_len(8 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(format!("ref {dep} end").as_bytes(), 3 << 20)
        .unwrap();
    drop(f);
    b.set_meta("disk.img", ImageMeta::root(0o400));
    let plain = hash_ahead.then(|| b.hash_first_file("disk.img").unwrap());
    b.file("metadata", b"size=8M\n", false).unwrap();
    b.file("run.sh", b"#!/bin/sh\n", true).unwrap();
    (b.commit().unwrap(), plain)
}

#[test]
fn hashing_the_first_file_ahead_gives_the_same_item_and_its_plain_sha256() {
    let (_d1, one) = store();
    let (_d2, two) = store();
    let dep1 = hello(&one, "x");
    let dep2 = hello(&two, "x");
    let (ahead, plain) = image_like(&one, &dep1, true);
    let (whole, _) = image_like(&two, &dep2, false);
    assert_eq!(ahead, whole);
    let disk = one.physical(&ahead).join("disk.img");
    assert_eq!(plain.unwrap(), hash::sha256_file(&disk).unwrap());
    let (a, b) = (one.record(&ahead).unwrap(), two.record(&whole).unwrap());
    assert_eq!(a.references, vec![dep1.clone()]);
    assert_eq!(
        (a.references, a.content_bytes, a.entries),
        (b.references, b.content_bytes, b.entries)
    );
    assert!(one.verify().unwrap().is_empty());
}
