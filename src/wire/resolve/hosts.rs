//! The hosts file, read as glibc's `files` source reads it: a name listed
//! there is answered from the file alone, with every address listed for it
//! (in file order here; the resolver then orders the families). Read again at each `--watch` round, as glibc reads it at
//! each lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Hosts {
    names: HashMap<String, Vec<IpAddr>>,
    /// Where it was read from, to read it again.
    path: Option<PathBuf>,
}

impl Hosts {
    /// `/etc/hosts`; none (or unreadable) is an empty one.
    pub fn system() -> Hosts {
        Hosts::read(Path::new("/etc/hosts"))
    }

    pub fn read(path: &Path) -> Hosts {
        let names = std::fs::read_to_string(path).map(|text| Hosts::parse(&text).names).unwrap_or_default();
        Hosts { names, path: Some(path.to_owned()) }
    }

    /// The file as it is now (itself if it was not read from a file).
    pub fn reread(&self) -> Option<Hosts> {
        self.path.as_deref().map(Hosts::read)
    }

    /// `ADDR NAME [ALIAS...]` lines; `#` starts a comment; lines whose
    /// address does not parse (e.g. with a `%zone`) are skipped.
    pub fn parse(text: &str) -> Hosts {
        let mut names: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in text.lines() {
            let mut words = line.split('#').next().unwrap_or("").split_whitespace();
            let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else { continue };
            for name in words {
                let ips = names.entry(name.trim_end_matches('.').to_ascii_lowercase()).or_default();
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        Hosts { names, path: None }
    }

    pub fn get(&self, name: &str) -> Option<&[IpAddr]> {
        self.names.get(name.trim_end_matches('.')).map(Vec::as_slice)
    }
}
