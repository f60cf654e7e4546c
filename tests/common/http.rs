//! A small static HTTP/1.1 server on 127.0.0.1 for the tests (std::net only): serves one
//! directory, one thread per connection, `Connection: close` after each response. Faults
//! can be injected for paths, to test retries and checks.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What to do instead of serving a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// Announce the full length, send only this many bytes, close.
    Truncate(usize),
    /// Close the connection without answering.
    Drop,
    /// Serve the file with its first byte changed.
    Corrupt,
    /// Wait this long, then serve normally.
    Delay(Duration),
}

#[derive(Default)]
struct Shared {
    /// Request paths, in arrival order (`GET /All/x-1.0.pkg`).
    requests: Vec<String>,
    /// Pending faults: (path suffix, fault), used once each, first match first.
    faults: VecDeque<(String, Fault)>,
}

/// A running server; stopped when dropped.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn serve(root: &Path) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let root = root.to_path_buf();
        let (stop2, shared2) = (stop.clone(), shared.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, shared) = (root.clone(), shared2.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &root, &shared);
                });
            }
        });
        TestServer {
            addr,
            stop,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests served so far (`GET /path`).
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// The next request whose path ends with `suffix` gets `fault` instead (once; queue
    /// several for several requests).
    pub fn inject(&self, suffix: &str, fault: Fault) {
        self.shared
            .lock()
            .unwrap()
            .faults
            .push_back((suffix.to_owned(), fault));
    }

    /// Stops accepting connections; the port is closed when this returns.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wakes the accept loop, which then sees the flag.
            let _ = TcpStream::connect(self.addr);
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `root`/`path` when `path` stays inside `root`.
fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path.split('?').next()?)?;
    let mut out = root.to_path_buf();
    for part in Path::new(&decoded).components() {
        match part {
            Component::RootDir => {}
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    )?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

fn handle(mut stream: TcpStream, root: &Path, shared: &Mutex<Shared>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // The rest of the head: headers until the empty line (bodies are not expected).
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return respond(&mut stream, 400, b"", false);
    };
    let fault = {
        let mut shared = shared.lock().unwrap();
        shared.requests.push(format!("{method} {path}"));
        let at = shared
            .faults
            .iter()
            .position(|(s, _)| path.ends_with(s.as_str()));
        at.and_then(|i| shared.faults.remove(i)).map(|(_, f)| f)
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, b"", false);
    }
    let body = file_for(root, path).and_then(|p| {
        let mut f = std::fs::File::open(p).ok()?;
        let mut v = Vec::new();
        f.read_to_end(&mut v).ok()?;
        Some(v)
    });
    let Some(mut body) = body else {
        return respond(&mut stream, 404, b"", head_only);
    };
    match fault {
        None => respond(&mut stream, 200, &body, head_only),
        Some(Fault::Status(status)) => respond(&mut stream, status, b"", head_only),
        Some(Fault::Drop) => Ok(()),
        Some(Fault::Truncate(n)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()
        }
        Some(Fault::Corrupt) => {
            if let Some(b) = body.first_mut() {
                *b ^= 0xff;
            }
            respond(&mut stream, 200, &body, head_only)
        }
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            respond(&mut stream, 200, &body, head_only)
        }
    }
}

/// A raw GET of `url` (http://127.0.0.1:port/path): (status, body). For testing the server.
pub fn get(url: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, raw[split + 4..].to_vec()))
}
