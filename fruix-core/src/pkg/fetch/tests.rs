use super::*;
use crate::pkg::location::{RepoLocation, Source};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What the test server answers to the `n`th request (from 0) for a path.
enum Reply {
    Body(Vec<u8>),
    Status(u16),
    /// Announces the whole length, sends only the first `usize` bytes, closes.
    Truncated(Vec<u8>, usize),
}

type Handler = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1, one thread, one request per connection.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(handler: Box<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let n = h.fetch_add(1, Ordering::SeqCst);
                let _ = answer(stream, &*handler, n);
            }
        });
        Server {
            base: format!("http://{addr}"),
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn answer(mut stream: TcpStream, handler: &Handler, n: usize) -> io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    match handler(&path, n) {
        Reply::Body(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        Reply::Status(code) => {
            write!(
                stream,
                "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Reply::Truncated(body, sent) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body[..sent])?;
        }
    }
    stream.flush()
}

fn fast() -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 3,
        backoff: Duration::from_millis(5),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
    })
}

fn package_bytes() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

use crate::store::hash::hex;

struct Case {
    bytes: Vec<u8>,
    sha256: String,
    cache_dir: tempfile::TempDir,
    cache: DownloadCache,
}

fn case() -> Case {
    let bytes = package_bytes();
    let sha256 = sha256_hex(&bytes);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = DownloadCache::open(cache_dir.path().join("downloads")).unwrap();
    Case {
        bytes,
        sha256,
        cache_dir,
        cache,
    }
}

impl Case {
    fn expected(&self) -> Expected<'_> {
        Expected {
            repository: "test",
            package: "hello-1.0",
            repopath: "All/hello-1.0.pkg",
            sha256: &self.sha256,
            size: self.bytes.len() as u64,
        }
    }

    fn cache_files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn location(server: &Server) -> RepoLocation {
    RepoLocation::parse(
        "test",
        &format!("{}/${{ABI}}/latest", server.base),
        "FreeBSD:15:amd64",
    )
    .unwrap()
}

#[test]
fn success_then_cache_hit_without_network() {
    let c = case();
    let body = c.bytes.clone();
    let mut server = Server::start(Box::new(move |path, _| {
        assert_eq!(path, "/FreeBSD:15:amd64/latest/All/hello-1.0.pkg");
        Reply::Body(body.clone())
    }));
    let repo = location(&server);
    let mut last = None;
    let path = fast()
        .fetch_package(&c.cache, &repo, &c.expected(), &mut |p| {
            last = Some((p.done, p.total))
        })
        .unwrap();
    assert_eq!(fs::read(&path).unwrap(), c.bytes);
    assert_eq!(path, c.cache.path_of(&c.sha256).unwrap());
    assert_eq!(
        last,
        Some((c.bytes.len() as u64, Some(c.bytes.len() as u64)))
    );
    assert_eq!(c.cache_files(), [format!("{}.pkg", c.sha256)]);
    assert_eq!(server.hits(), 1);

    server.stop();
    let again = fast()
        .fetch_package(&c.cache, &repo, &c.expected(), &mut |_| {})
        .unwrap();
    assert_eq!(again, path);

    // A corrupted entry is not used: it is deleted, and with the server gone the fetch
    // fails with the connection error.
    fs::write(&path, b"corrupted").unwrap();
    let err = fast()
        .fetch_package(&c.cache, &repo, &c.expected(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Transport { attempts: 3, .. }),
        "{err}"
    );
    assert!(c.cache_files().is_empty(), "{:?}", c.cache_files());
}

#[test]
fn transient_503_is_retried() {
    let c = case();
    let body = c.bytes.clone();
    let server = Server::start(Box::new(move |_, n| {
        if n == 0 {
            Reply::Status(503)
        } else {
            Reply::Body(body.clone())
        }
    }));
    let path = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), c.bytes);
    assert_eq!(server.hits(), 2);
}

#[test]
fn not_found_is_not_retried() {
    let c = case();
    let server = Server::start(Box::new(|_, _| Reply::Status(404)));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "package hello-1.0 from repository \"test\": {}/FreeBSD:15:amd64/latest/All/hello-1.0.pkg does not exist (HTTP 404 or missing file)",
            server.base
        )
    );
    assert_eq!(server.hits(), 1);
    assert!(c.cache_files().is_empty());
}

#[test]
fn persistent_5xx_gives_up_after_the_attempts() {
    let c = case();
    let server = Server::start(Box::new(|_, _| Reply::Status(502)));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Status {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.hits(), 3);
}

#[test]
fn truncated_body_is_retried_then_reported() {
    let c = case();
    let body = c.bytes.clone();
    let server = Server::start(Box::new(move |_, _| Reply::Truncated(body.clone(), 1000)));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    // ureq sees the early close as a broken body; either way: not kept, retried.
    match &err {
        FetchError::Transport { attempts: 3, .. } | FetchError::Truncated { attempts: 3, .. } => {}
        other => panic!("unexpected {other}"),
    }
    assert_eq!(server.hits(), 3);
    assert!(c.cache_files().is_empty(), "{:?}", c.cache_files());
}

#[test]
fn short_body_without_error_is_truncated() {
    let c = case();
    let short = c.bytes[..5000].to_vec();
    let server = Server::start(Box::new(move |_, _| Reply::Body(short.clone())));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Truncated {
                got: 5000,
                expected: 200_000,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(c.cache_files().is_empty());
}

#[test]
fn sha256_mismatch_leaves_the_cache_untouched() {
    let c = case();
    let mut other = c.bytes.clone();
    other[7] ^= 0xff;
    let other_sha = sha256_hex(&other);
    let server = Server::start(Box::new(move |_, _| Reply::Body(other.clone())));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&c.sha256) && text.contains(&other_sha),
        "{text}"
    );
    assert!(text.contains("package hello-1.0"), "{text}");
    assert!(matches!(err, FetchError::Sha256Mismatch { .. }));
    assert_eq!(server.hits(), 1);
    assert!(c.cache_files().is_empty(), "{:?}", c.cache_files());
}

#[test]
fn oversized_body_is_refused() {
    let c = case();
    let mut bigger = c.bytes.clone();
    bigger.extend_from_slice(b"extra");
    let server = Server::start(Box::new(move |_, _| Reply::Body(bigger.clone())));
    let err = fast()
        .fetch_package(&c.cache, &location(&server), &c.expected(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 200_000, .. }),
        "{err}"
    );
    assert!(c.cache_files().is_empty());
}

#[test]
fn fetch_bytes_over_http() {
    let server = Server::start(Box::new(|path, _| match path {
        "/repo/meta.conf" => Reply::Body(b"version = 2;\n".to_vec()),
        _ => Reply::Status(404),
    }));
    let repo = RepoLocation::parse("r", &format!("{}/repo/", server.base), "x").unwrap();
    let fetcher = fast();
    let meta = repo.join("r", "meta.conf").unwrap();
    assert_eq!(
        fetcher
            .fetch_bytes("meta.conf", &meta, 1 << 20, &mut |_| {})
            .unwrap(),
        b"version = 2;\n"
    );
    let err = fetcher
        .fetch_bytes("meta.conf", &meta, 4, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    let missing = repo.join("r", "data.pkg").unwrap();
    let err = fetcher
        .fetch_bytes("catalogue", &missing, 1 << 20, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err}");
}

#[test]
fn local_directories_and_file_urls() {
    let c = case();
    let repo_dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo_dir.path().join("All")).unwrap();
    fs::write(repo_dir.path().join("All/hello-1.0.pkg"), &c.bytes).unwrap();
    let plain = RepoLocation::parse("local", &repo_dir.path().display().to_string(), "x").unwrap();
    let url = RepoLocation::parse(
        "local",
        &format!("file://{}", repo_dir.path().display()),
        "x",
    )
    .unwrap();
    assert_eq!(plain, url);
    let path = fast()
        .fetch_package(&c.cache, &url, &c.expected(), &mut |_| {})
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), c.bytes);

    let c2 = case();
    let mut missing = c2.expected();
    missing.repopath = "All/absent.pkg";
    let err = fast()
        .fetch_package(&c2.cache, &url, &missing, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err}");
    drop(c2.cache_dir);
}

#[test]
fn bad_sha256_is_not_a_file_name() {
    let c = case();
    let err = c.cache.path_of("../../etc/passwd").unwrap_err();
    assert!(matches!(err, FetchError::BadSha256 { .. }), "{err}");
    assert!(c.cache.lookup(&"A".repeat(64), 1).is_err());
}

#[test]
fn a_silent_server_times_out_and_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    // Accepts and holds connections without answering; stops after the three attempts.
    let holder = thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(3) {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
        thread::sleep(Duration::from_millis(500));
    });
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 3,
        backoff: Duration::from_millis(5),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(200),
    });
    let source = Source::Http(format!("http://{addr}/meta.conf"));
    let started = std::time::Instant::now();
    let err = fetcher
        .fetch_bytes("meta.conf", &source, 1024, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Transport { attempts: 3, .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    holder.join().unwrap();
}

#[test]
fn catalogue_files_fall_back_and_locked_packages_fetch_offline() {
    use crate::pkg::lock::{LockedPackage, LockedRepository, LOCK_VERSION};
    let c = case();
    let body = c.bytes.clone();
    let mut server = Server::start(Box::new(move |path, _| match path {
        "/r/meta.conf" => Reply::Body(b"version = 2;\n".to_vec()),
        "/r/packagesite.pkg" => Reply::Body(b"catalogue".to_vec()),
        "/r/All/hello-1.0.pkg" => Reply::Body(body.clone()),
        _ => Reply::Status(404),
    }));
    let location = RepoLocation::parse("r", &format!("{}/r", server.base), "x").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let names = fast()
        .fetch_catalogue("r", &location, dest.path(), CATALOGUE_LIMIT, &mut |_| {})
        .unwrap();
    assert_eq!(names, ["meta.conf", "packagesite.pkg"]);
    assert_eq!(
        fs::read(dest.path().join("packagesite.pkg")).unwrap(),
        b"catalogue"
    );

    let lock = Lock {
        version: LOCK_VERSION,
        repositories: vec![LockedRepository {
            name: "r".into(),
            url: format!("{}/r", server.base),
            abi: "FreeBSD:15:amd64".into(),
            catalogue_sha256: "0".repeat(64),
            signature: "unsigned".into(),
        }],
        packages: vec![LockedPackage {
            name: "hello".into(),
            version: "1.0".into(),
            repository: "r".into(),
            repopath: "All/hello-1.0.pkg".into(),
            sha256: c.sha256.clone(),
            pkgsize: c.bytes.len() as u64,
            deps: vec![],
            requested: true,
        }],
    };
    let first = fast().fetch_locked(&c.cache, &lock, &mut |_| {}).unwrap();
    assert_eq!(fs::read(&first[0].1).unwrap(), c.bytes);
    let hits = server.hits();
    server.stop();
    let offline = fast().fetch_locked(&c.cache, &lock, &mut |_| {}).unwrap();
    assert_eq!(offline[0].1, first[0].1);
    assert_eq!(
        hits, 4,
        "meta.conf, data.pkg (404), packagesite.pkg, the package"
    );

    let empty = Server::start(Box::new(|_, _| Reply::Status(404)));
    let location = RepoLocation::parse("e", &empty.base, "x").unwrap();
    let err = fast()
        .fetch_catalogue("e", &location, dest.path(), CATALOGUE_LIMIT, &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no catalogue (looked for data.pkg, packagesite.pkg"),
        "{err}"
    );
}
