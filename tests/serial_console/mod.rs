//! Driving a program's serial console (here: FreeBSD's boot loader under QEMU) from a test,
//! expect-style: the output is read on a thread into a small terminal model (carriage
//! returns, backspaces and ANSI sequences applied as a terminal would, so the loader's
//! spinner and pager leave only what a person would see), and the test waits on it with
//! timeouts. Typing is one character at a time, each sent only after the previous one was
//! echoed: the loader drops characters that arrive while it is busy.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The screen as a terminal shows it: finished lines and the line the cursor is on.
#[derive(Default)]
pub struct Screen {
    pub lines: Vec<String>,
    current: Vec<u8>,
    cursor: usize,
    escape: Escape,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Escape {
    #[default]
    None,
    Started,
    Csi,
}

impl Screen {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match (self.escape, b) {
                (Escape::Started, b'[') => self.escape = Escape::Csi,
                (Escape::Started, _) => self.escape = Escape::None,
                // Parameters and intermediates until the final byte (`@` to `~`).
                (Escape::Csi, 0x40..=0x7e) => self.escape = Escape::None,
                (Escape::Csi, _) => {}
                (Escape::None, 0x1b) => self.escape = Escape::Started,
                (Escape::None, b'\r') => self.cursor = 0,
                (Escape::None, b'\n') => {
                    let line = String::from_utf8_lossy(&self.current);
                    self.lines.push(line.trim_end().to_owned());
                    self.current.clear();
                    self.cursor = 0;
                }
                (Escape::None, 0x08) => self.cursor = self.cursor.saturating_sub(1),
                (Escape::None, b) if b == b'\t' || b >= 0x20 => {
                    if self.cursor < self.current.len() {
                        self.current[self.cursor] = b;
                    } else {
                        self.current.resize(self.cursor, b' ');
                        self.current.push(b);
                    }
                    self.cursor += 1;
                }
                (Escape::None, _) => {} // other control characters show nothing
            }
        }
    }

    /// The line the cursor is on, as shown (up to the cursor: what follows it is
    /// leftover that the next characters overwrite).
    pub fn current(&self) -> String {
        let end = self.cursor.min(self.current.len());
        String::from_utf8_lossy(&self.current[..end]).into_owned()
    }

    /// Everything shown so far, one line per line.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text.push_str(&self.current());
        text
    }
}

struct Shared {
    screen: Screen,
    /// Bytes as received, for the failure report.
    raw: Vec<u8>,
    /// The program's stderr.
    errors: Vec<u8>,
    closed: bool,
}

/// A running program whose stdin and stdout are its serial console.
pub struct Console {
    child: Child,
    stdin: ChildStdin,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    started: Instant,
}

/// What went wrong, with the end of the transcript.
#[derive(Debug)]
pub struct ConsoleError(pub String);

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long the echo of one typed character may take before it is sent again.
const ECHO_WAIT: Duration = Duration::from_secs(5);

impl Console {
    /// Starts `command` with its stdin, stdout and stderr piped.
    pub fn spawn(mut command: Command) -> Result<Console, ConsoleError> {
        let shown = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ConsoleError(format!("cannot start {shown}: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ConsoleError(format!("{shown}: no pipes")));
        };
        let shared = Arc::new((
            Mutex::new(Shared {
                screen: Screen::default(),
                raw: Vec::new(),
                errors: Vec::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let out = Arc::clone(&shared);
        std::thread::spawn(move || pump(stdout, &out, false));
        let err = Arc::clone(&shared);
        std::thread::spawn(move || pump(stderr, &err, true));
        Ok(Console {
            child,
            stdin,
            shared,
            started: Instant::now(),
        })
    }

    /// Time since the program started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until `done` holds for the screen; `what` names it in the error.
    pub fn wait(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Screen) -> bool,
    ) -> Result<(), ConsoleError> {
        let (lock, ready) = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut shared = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&shared.screen) {
                return Ok(());
            }
            let now = Instant::now();
            if shared.closed || now >= deadline {
                let why = if shared.closed {
                    "the console closed (the program exited)".to_owned()
                } else {
                    format!("no {what} within {timeout:?}")
                };
                return Err(self.failure(&shared, &why));
            }
            shared = ready
                .wait_timeout(shared, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn failure(&self, shared: &Shared, why: &str) -> ConsoleError {
        let text = shared.screen.text();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        ConsoleError(format!(
            "{why} after {:.1?}\n--- program's stderr ---\n{}\n--- last lines of the console ---\n{}",
            self.elapsed(),
            String::from_utf8_lossy(&shared.errors).trim_end(),
            tail.join("\n")
        ))
    }

    /// Runs `inspect` on the screen as it is now.
    pub fn with_screen<T>(&self, inspect: impl FnOnce(&Screen) -> T) -> T {
        let shared = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
        inspect(&shared.screen)
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ConsoleError> {
        self.stdin
            .write_all(bytes)
            .and_then(|()| self.stdin.flush())
            .map_err(|e| ConsoleError(format!("writing to the console: {e}")))
    }

    /// Types `text` on the current line, each character after the previous one's echo
    /// (sent again if it is not echoed in time), and checks the line shows it; a line
    /// that came out wrong (an echo later than the resend) is erased and typed again.
    pub fn type_text(&mut self, text: &str) -> Result<(), ConsoleError> {
        let start = self.with_screen(|s| (s.lines.len(), s.current()));
        let wanted = format!("{}{text}", start.1);
        let mut attempt = 0;
        loop {
            self.type_chars(start.0, &start.1, text)?;
            let shown = self.with_screen(|s| (s.lines.len(), s.current()));
            if shown.0 == start.0 && shown.1 == wanted {
                return Ok(());
            }
            attempt += 1;
            if attempt == 3 || shown.0 != start.0 {
                return Err(self.with_shared(|c, shared| {
                    c.failure(
                        shared,
                        &format!("typed {text:?}, but the line shows {:?}", shown.1),
                    )
                }));
            }
            // Backspace erases what the loader's line editor holds, one character each
            // and, like typing, one at a time.
            for len in (start.1.len()..shown.1.len()).rev() {
                self.send(b"\x08")?;
                self.wait("erase", ECHO_WAIT, |s| s.current().len() <= len)?;
            }
        }
    }

    fn type_chars(&mut self, line: usize, prefix: &str, text: &str) -> Result<(), ConsoleError> {
        let mut typed = prefix.to_owned();
        for c in text.chars() {
            typed.push(c);
            let mut tries = 0;
            loop {
                self.send(c.to_string().as_bytes())?;
                let echoed = self.wait("echo", ECHO_WAIT, |s| {
                    s.lines.len() != line || s.current().len() >= typed.len()
                });
                match echoed {
                    Ok(()) => break,
                    Err(e) if tries == 2 => return Err(e),
                    Err(_) => tries += 1,
                }
            }
        }
        Ok(())
    }

    fn with_shared<T>(&self, f: impl FnOnce(&Self, &Shared) -> T) -> T {
        let shared = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
        f(self, &shared)
    }

    /// The whole transcript as a terminal shows it.
    pub fn text(&self) -> String {
        self.with_screen(Screen::text)
    }

    /// The bytes received, unprocessed.
    pub fn raw(&self) -> Vec<u8> {
        self.with_shared(|_, shared| shared.raw.clone())
    }

    /// Stops the program.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pump(mut from: impl Read, shared: &(Mutex<Shared>, Condvar), is_stderr: bool) {
    let (lock, ready) = shared;
    let mut buf = [0u8; 8192];
    loop {
        let n = from.read(&mut buf).unwrap_or(0);
        let mut shared = lock.lock().unwrap_or_else(|e| e.into_inner());
        if n == 0 {
            if !is_stderr {
                shared.closed = true;
            }
            ready.notify_all();
            return;
        }
        if is_stderr {
            shared.errors.extend_from_slice(&buf[..n]);
        } else {
            shared.raw.extend_from_slice(&buf[..n]);
            shared.screen.feed(&buf[..n]);
        }
        ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Screen;

    #[test]
    fn the_screen_applies_carriage_returns_backspaces_and_escapes() {
        let mut s = Screen::default();
        s.feed(b"\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe: start\r\n\r/\x08-\x08\\\x08can't load\r\n\r");
        s.feed(b"OK lsx\x08 \x08dev\r\n\r disk0p2: FreeBSD UFS\r\n\r --more-- quit ");
        s.feed(b"\r              \r next\r\n\rOK ");
        assert_eq!(
            s.lines,
            [
                "BdsDxe: start",
                "can't load",
                "OK lsdev",
                " disk0p2: FreeBSD UFS",
                " next"
            ]
        );
        assert_eq!(s.current(), "OK ");
    }
}
