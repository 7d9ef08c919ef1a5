//! The hosts file, read as glibc's `files` source reads it: a name listed
//! there is answered from the file alone, with every address listed for it,
//! in file order.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Hosts(HashMap<String, Vec<IpAddr>>);

impl Hosts {
    /// `/etc/hosts`; none (or unreadable) is an empty one.
    pub fn system() -> Hosts {
        Hosts::read(Path::new("/etc/hosts"))
    }

    pub fn read(path: &Path) -> Hosts {
        std::fs::read_to_string(path).map(|text| Hosts::parse(&text)).unwrap_or_default()
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
        Hosts(names)
    }

    pub fn get(&self, name: &str) -> Option<&[IpAddr]> {
        self.0.get(name.trim_end_matches('.')).map(Vec::as_slice)
    }
}
