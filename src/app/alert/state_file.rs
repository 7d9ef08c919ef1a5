//! `--state FILE`: the confirmed states (and streaks) kept across restarts,
//! so a restart alerts on nothing that did not change. JSON with a format
//! name and a version, keyed by URL and name; written whole after each
//! round to a temporary file in the same directory, synced, then renamed
//! over FILE, so a reader (or a crash) sees the old file or the new one,
//! never half of one.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use statuscheck::State;

use super::damping::{Damper, Key, Tracked};

/// The largest state file read or written: 64 MiB, some 400,000 URLs. A
/// larger file is reported and treated as empty; a larger state is not
/// written (FILE keeps the last one that fit).
pub const CAP: u64 = 64 << 20;

/// What the file says it is, so that another program's JSON is not taken
/// for ours.
const FORMAT: &str = "statuscheck-state";
const VERSION: u32 = 1;

/// What was found at the path.
#[derive(Debug)]
pub enum Loaded {
    /// No file yet: the first run.
    Missing,
    States(Vec<(Key, Tracked)>),
    /// Truncated, too large, or not ours: why, in words.
    Unusable(String),
}

#[derive(Deserialize)]
struct Stored {
    format: String,
    version: u32,
    states: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    url: String,
    name: Option<String>,
    state: String,
    #[serde(default)]
    candidate: Option<String>,
    #[serde(default)]
    streak: u32,
}

#[derive(Serialize)]
struct Written<'a> {
    format: &'static str,
    version: u32,
    states: Vec<WrittenEntry<'a>>,
}

#[derive(Serialize)]
struct WrittenEntry<'a> {
    url: &'a str,
    name: Option<&'a str>,
    state: &'static str,
    candidate: Option<&'static str>,
    streak: u32,
}

/// Reads FILE. Only a file that cannot be opened for another reason than
/// not being there (a directory, no permission) is an error.
pub fn load(path: &Path) -> io::Result<Loaded> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    file.take(CAP + 1).read_to_end(&mut text)?;
    if text.len() as u64 > CAP {
        return Ok(Loaded::Unusable(format!("it is larger than {} MiB", CAP >> 20)));
    }
    Ok(parse(&text))
}

fn parse(text: &[u8]) -> Loaded {
    let stored: Stored = match serde_json::from_slice(text) {
        Ok(stored) => stored,
        Err(e) => return Loaded::Unusable(format!("it is not a state file statuscheck wrote ({e})")),
    };
    if stored.format != FORMAT || stored.version != VERSION {
        return Loaded::Unusable(format!(
            "it is a '{}' file of version {}, not a {FORMAT} file of version {VERSION}",
            stored.format, stored.version
        ));
    }
    let mut states = Vec::with_capacity(stored.states.len());
    for entry in stored.states {
        let candidate = match entry.candidate.as_deref() {
            None => Some(None),
            Some(name) => state(name).map(Some),
        };
        let (Some(confirmed), Some(candidate)) = (state(&entry.state), candidate) else {
            return Loaded::Unusable(format!("it holds an unknown state for {}", entry.url));
        };
        let tracked = Tracked { confirmed, candidate, streak: entry.streak };
        states.push((Key { url: entry.url, name: entry.name }, tracked));
    }
    Loaded::States(states)
}

/// A state by its stable name; `unknown` is never saved, so never read.
fn state(name: &str) -> Option<State> {
    State::ALL.iter().copied().find(|s| s.as_str() == name && *s != State::Unknown)
}

/// The file's contents for `damper`, sorted by URL and name.
fn render(damper: &Damper) -> Vec<u8> {
    let mut states: Vec<(&Key, &Tracked)> = damper.states().collect();
    states.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let states = states
        .into_iter()
        .map(|(key, tracked)| WrittenEntry {
            url: &key.url,
            name: key.name.as_deref(),
            state: tracked.confirmed.as_str(),
            candidate: tracked.candidate.map(State::as_str),
            streak: tracked.streak,
        })
        .collect();
    let mut text = serde_json::to_vec(&Written { format: FORMAT, version: VERSION, states }).unwrap_or_default();
    text.push(b'\n');
    text
}

/// Replaces FILE with `damper`'s states, atomically.
pub fn save(path: &Path, damper: &Damper) -> io::Result<()> {
    let text = render(damper);
    if text.len() as u64 > CAP {
        return Err(io::Error::other(format!(
            "the states are larger than {} MiB; the file keeps the last that fit",
            CAP >> 20
        )));
    }
    let mut file = temporary(path)?;
    file.write_all(&text)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether FILE's directory takes new files: asked before any check, so a
/// watch that could never save its states does not start.
pub fn check_writable(path: &Path) -> io::Result<()> {
    temporary(path).map(drop)
}

/// A temporary file beside FILE (a rename across file systems is no
/// rename), removed if it is never persisted.
fn temporary(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(".statuscheck-state.").tempfile_in(directory(path))
}

fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::super::damping::Damping;
    use super::*;

    fn damper() -> Damper {
        let key = |url: &str, name: Option<&str>| Key { url: url.into(), name: name.map(Into::into) };
        let flapping = Tracked { confirmed: State::Up, candidate: Some(State::Down), streak: 2 };
        Damper::new(
            Damping::default(),
            [
                (key("https://b.test/", Some("api")), flapping),
                (key("https://a.test/", None), Tracked::new(State::Down)),
            ],
        )
    }

    fn states(loaded: Loaded) -> Vec<(Key, Tracked)> {
        match loaded {
            Loaded::States(mut states) => {
                states.sort_by(|a, b| a.0.cmp(&b.0));
                states
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn saved_states_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("st.json");
        assert!(matches!(load(&path).unwrap(), Loaded::Missing));
        save(&path, &damper()).unwrap();
        let mut expected: Vec<(Key, Tracked)> = damper().states().map(|(k, t)| (k.clone(), *t)).collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(states(load(&path).unwrap()), expected);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"format":"statuscheck-state","version":1,"states":[{"url":"https://a.test/""#));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn truncated_foreign_and_huge_files_are_unusable() {
        let whole = render(&damper());
        for cut in [1, whole.len() / 2, whole.len() - 3] {
            assert!(matches!(parse(&whole[..cut]), Loaded::Unusable(_)), "cut at {cut}");
        }
        for foreign in [
            r#"{"format":"other","version":1,"states":[]}"#,
            r#"{"format":"statuscheck-state","version":2,"states":[]}"#,
            r#"{"format":"statuscheck-state","version":1,"states":[{"url":"a","name":null,"state":"unknown"}]}"#,
            r#"{"format":"statuscheck-state","version":1,"states":[{"url":"a","name":null,"state":"up","candidate":"sideways"}]}"#,
            r#"[1,2,3]"#,
            "",
        ] {
            assert!(matches!(parse(foreign.as_bytes()), Loaded::Unusable(_)), "{foreign}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let file = File::create(&path).unwrap();
        file.set_len(CAP + 1).unwrap();
        match load(&path).unwrap() {
            Loaded::Unusable(why) => assert!(why.contains("larger than 64 MiB"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_directory_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_err());
        assert!(check_writable(&dir.path().join("missing/st.json")).is_err());
        assert!(check_writable(&dir.path().join("st.json")).is_ok());
    }
}
