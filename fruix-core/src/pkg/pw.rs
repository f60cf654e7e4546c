//! The `pw(8)` commands ports put in their pre-install scripts to create the users and
//! groups a package needs (`Mk/Scripts/do-users-groups.sh`):
//!
//! ```text
//! ${PW} groupadd -R ${PKG_ROOTDIR} www -g 80
//! ${PW} useradd www -u 80 -g 80 -c "World Wide Web Owner" -d /nonexistent -s /usr/sbin/nologin
//! ${PW} groupmod operator -m www
//! ```
//!
//! pkg itself creates no accounts: these lines do, when the script runs. Fruix reads them
//! instead, so the ids are known when the image is written (files owned by the package's
//! users get the right numbers), and leaves them out of the scripts run at first boot.
//!
//! Scripts are read as sh(1) words (quotes, backslashes, `\`-newline continuations),
//! split into simple commands at `;`, `&`, `|`, `&&`, `||` and newlines. Only commands
//! whose every value is a literal are taken: a `$variable` in a name or an id leaves the
//! line to the script.

use std::ops::Range;

/// One account command read from a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PwCommand {
    /// `pw groupadd NAME -g GID [-M members]`.
    GroupAdd {
        /// Group name.
        name: String,
        /// `-g`: the group id (pw picks one when absent).
        gid: Option<u32>,
        /// `-M`: initial members.
        members: Vec<String>,
    },
    /// `pw useradd NAME -u UID -g GROUP -c GECOS -d HOME -s SHELL [-G groups]`.
    UserAdd {
        /// Login name.
        name: String,
        /// `-u`: the user id (pw picks one when absent).
        uid: Option<u32>,
        /// `-g`: primary group, by name or number.
        group: Option<String>,
        /// `-G`: supplementary groups.
        groups: Vec<String>,
        /// `-c`: the GECOS comment.
        gecos: Option<String>,
        /// `-d`: home directory.
        home: Option<String>,
        /// `-s`: login shell.
        shell: Option<String>,
    },
    /// `pw groupmod NAME -m members`: adds members to a group.
    GroupMod {
        /// Group name.
        name: String,
        /// `-m`/`-M`: members to add.
        members: Vec<String>,
    },
}

/// A `pw` command and where it is in its script (the byte range of the simple command,
/// from the `pw` word to the end of its last argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwLine {
    /// What the command does.
    pub command: PwCommand,
    /// Its bytes in the script.
    pub span: Range<usize>,
}

/// A shell word: its value (quotes removed) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    span: Range<usize>,
    /// It holds an unquoted or double-quoted `$`, or a backquote: its value is not known.
    expands: bool,
}

/// Splits `script` into simple commands, each a list of words.
fn commands(script: &str) -> Vec<Vec<Word>> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' => i += 1,
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' | b';' | b'&' | b'|' | b'(' | b')' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                i += 1;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {
                let (word, end) = read_word(script, i);
                current.push(word);
                i = end;
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Reads one word starting at `start`; returns it and the index after it.
fn read_word(script: &str, start: usize) -> (Word, usize) {
    let bytes = script.as_bytes();
    let mut text = String::new();
    let mut expands = false;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' => break,
            b'\\' => {
                if let Some(next) = script[i + 1..].chars().next() {
                    if next != '\n' {
                        text.push(next);
                    }
                    i += 1 + next.len_utf8();
                } else {
                    i += 1;
                }
            }
            b'\'' => {
                let close = script[i + 1..]
                    .find('\'')
                    .map_or(bytes.len(), |p| i + 1 + p);
                text.push_str(&script[i + 1..close]);
                i = (close + 1).min(bytes.len());
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\'
                        && matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b'$' | b'`'))
                    {
                        text.push(char::from(bytes[i + 1]));
                        i += 2;
                        continue;
                    }
                    if matches!(bytes[i], b'$' | b'`') {
                        expands = true;
                    }
                    let ch = script[i..].chars().next().unwrap_or('\0');
                    text.push(ch);
                    i += ch.len_utf8();
                }
                i = (i + 1).min(bytes.len());
            }
            c => {
                if matches!(c, b'$' | b'`') {
                    expands = true;
                }
                let ch = script[i..].chars().next().unwrap_or('\0');
                text.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    (
        Word {
            text,
            span: start..i,
            expands,
        },
        i,
    )
}

/// Words that may come before a command without being it.
const PREFIXES: &[&str] = &[
    "then", "else", "elif", "do", "if", "while", "until", "!", "{", "exec", "command",
];

/// Is `word` the pw program: `pw`, a path ending in `/pw`, or the ports' `${PW}`/`$PW`?
fn is_pw(word: &Word) -> bool {
    let raw = word.text.as_str();
    raw == "pw" || raw.ends_with("/pw") || raw == "${PW}" || raw == "$PW"
}

/// Every `pw groupadd`, `useradd` and `groupmod -m` command of `script` whose names and
/// ids are literal.
pub fn parse(script: &str) -> Vec<PwLine> {
    let mut out = Vec::new();
    for words in commands(script) {
        let Some(at) = words
            .iter()
            .position(|w| !PREFIXES.contains(&w.text.as_str()))
        else {
            continue;
        };
        let words = &words[at..];
        let Some(first) = words.first() else { continue };
        if !is_pw(first) {
            continue;
        }
        if let Some(command) = command(&words[1..]) {
            let end = words.last().map_or(first.span.end, |w| w.span.end);
            out.push(PwLine {
                command,
                span: first.span.start..end,
            });
        }
    }
    out
}

/// Which add command the words name: `useradd`, `adduser`, `user add`, ...
fn verb(words: &[&Word]) -> Option<(&'static str, usize)> {
    let a = words.first()?.text.as_str();
    let b = words.get(1).map(|w| w.text.as_str());
    let one = match a {
        "useradd" | "adduser" => Some("useradd"),
        "groupadd" | "addgroup" => Some("groupadd"),
        "groupmod" | "modgroup" => Some("groupmod"),
        _ => None,
    };
    if let Some(v) = one {
        return Some((v, 1));
    }
    match (a, b) {
        ("user", Some("add")) | ("add", Some("user")) => Some(("useradd", 2)),
        ("group", Some("add")) | ("add", Some("group")) => Some(("groupadd", 2)),
        ("group", Some("mod")) | ("mod", Some("group")) => Some(("groupmod", 2)),
        _ => None,
    }
}

/// Options that take a value (pw's global ones and the add/mod ones we read or skip).
const VALUED: &[&str] = &[
    "-R", "-V", "-C", "-n", "-u", "-g", "-G", "-c", "-d", "-s", "-L", "-k", "-e", "-p", "-M", "-m",
    "-l", "-h", "-H", "-w", "-y", "-Y",
];

fn command(args: &[Word]) -> Option<PwCommand> {
    // Global options (`-R root`, `-V etcdir`) may come before the verb.
    let mut rest: Vec<&Word> = Vec::new();
    let mut i = 0;
    while i < args.len() && matches!(args[i].text.as_str(), "-R" | "-V" | "-C") {
        i += 2;
    }
    rest.extend(args.iter().skip(i));
    let (verb, used) = verb(&rest)?;
    let rest = &rest[used..];
    let mut name: Option<String> = None;
    let mut values: Vec<(&str, &Word)> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let word = rest[i];
        let flag = word.text.as_str();
        if flag.starts_with('-') && flag.len() == 2 {
            // `useradd -m` creates the home: a flag, not `-m value` as in groupmod.
            let takes_value = VALUED.contains(&flag) && !(verb == "useradd" && flag == "-m");
            if takes_value {
                let value = rest.get(i + 1)?;
                values.push((flag, value));
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if name.is_none() {
            if word.expands {
                return None;
            }
            name = Some(word.text.clone());
        }
        i += 1;
    }
    let get = |key: &str| -> Option<Option<String>> {
        match values.iter().rev().find(|(k, _)| *k == key) {
            None => Some(None),
            Some((_, w)) if w.expands => None,
            Some((_, w)) => Some(Some(w.text.clone())),
        }
    };
    let name = match get("-n")? {
        Some(n) => n,
        None => name?,
    };
    if name.is_empty() {
        return None;
    }
    let list = |s: Option<String>| -> Vec<String> {
        s.map(|s| {
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    let id = |s: Option<String>| -> Option<Option<u32>> {
        match s {
            None => Some(None),
            Some(s) => s.parse().ok().map(Some),
        }
    };
    Some(match verb {
        "groupadd" => PwCommand::GroupAdd {
            name,
            gid: id(get("-g")?)?,
            members: list(get("-M")?),
        },
        "useradd" => PwCommand::UserAdd {
            name,
            uid: id(get("-u")?)?,
            group: get("-g")?,
            groups: list(get("-G")?),
            gecos: get("-c")?,
            home: get("-d")?,
            shell: get("-s")?,
        },
        _ => {
            let mut members = list(get("-m")?);
            members.extend(list(get("-M")?));
            if members.is_empty() {
                return None;
            }
            PwCommand::GroupMod { name, members }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `Mk/Scripts/do-users-groups.sh` writes.
    const PORTS_SCRIPT: &str = r#"if [ -n "${PKG_ROOTDIR}" ] && [ "${PKG_ROOTDIR}" != "/" ]; then
  PW="/usr/sbin/pw -R ${PKG_ROOTDIR}"
else
  PW=/usr/sbin/pw
fi
echo "===> Creating groups."
if ! ${PW} groupshow www >/dev/null 2>&1; then
  echo "Creating group 'www' with gid '80'."
  ${PW} groupadd www -g 80
else
  echo "Using existing group 'www'."
fi
echo "===> Creating users"
if ! ${PW} usershow www >/dev/null 2>&1; then
  echo "Creating user 'www' with uid '80'."
  ${PW} useradd www -u 80 -g 80  -c "World Wide \"Web\" Owner" -d /nonexistent \
    -s /usr/sbin/nologin
else
  echo "Using existing user 'www'."
fi
${PW} groupmod operator -m www
"#;

    #[test]
    fn ports_users_and_groups_lines() {
        let lines = parse(PORTS_SCRIPT);
        let commands: Vec<&PwCommand> = lines.iter().map(|l| &l.command).collect();
        assert_eq!(
            commands,
            [
                &PwCommand::GroupAdd {
                    name: "www".into(),
                    gid: Some(80),
                    members: vec![]
                },
                &PwCommand::UserAdd {
                    name: "www".into(),
                    uid: Some(80),
                    group: Some("80".into()),
                    groups: vec![],
                    gecos: Some("World Wide \"Web\" Owner".into()),
                    home: Some("/nonexistent".into()),
                    shell: Some("/usr/sbin/nologin".into()),
                },
                &PwCommand::GroupMod {
                    name: "operator".into(),
                    members: vec!["www".into()]
                },
            ]
        );
        assert_eq!(
            &PORTS_SCRIPT[lines[0].span.clone()],
            "${PW} groupadd www -g 80"
        );
        assert!(PORTS_SCRIPT[lines[1].span.clone()].ends_with("-s /usr/sbin/nologin"));
    }

    #[test]
    fn option_forms() {
        let one = |s: &str| parse(s).into_iter().map(|l| l.command).collect::<Vec<_>>();
        assert_eq!(
            one("/usr/sbin/pw -R /mnt useradd -n sudo -u 901 -g wheel -G operator,video -m"),
            [PwCommand::UserAdd {
                name: "sudo".into(),
                uid: Some(901),
                group: Some("wheel".into()),
                groups: vec!["operator".into(), "video".into()],
                gecos: None,
                home: None,
                shell: None,
            }]
        );
        assert_eq!(
            one("then pw group add -g 901 'svc'; echo done"),
            [PwCommand::GroupAdd {
                name: "svc".into(),
                gid: Some(901),
                members: vec![]
            }]
        );
        // Values only the running script knows are left to it.
        assert!(one("pw groupadd $name -g 5").is_empty());
        assert!(one("pw useradd x -u \"${uid}\"").is_empty());
        assert!(one("pw useradd x -u many").is_empty());
        assert!(one("pw usershow x; pw groupdel y; echo pw groupadd z -g 1").is_empty());
        assert!(one("# pw groupadd z -g 1").is_empty());
    }
}
