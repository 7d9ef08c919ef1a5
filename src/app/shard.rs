//! Sharding one list across machines: `--shard K/N` keeps only the lines
//! whose host hashes to K. The hash (64-bit FNV-1a of the host name) is fixed
//! forever, so every machine and every version agrees on who checks what, and
//! all URLs of a host land in the same shard (so `--per-host` holds
//! cluster-wide). Lines that are not URLs are split by the hash of the line.

use std::fmt;
use std::str::FromStr;

use anyhow::bail;

/// Where the shard came from: an environment says so on stderr, since
/// checking a quarter of the list without a word looks like lost rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--shard K/N`: asked for, so nothing to say.
    Option,
    /// A Slurm job array; `min` when `SLURM_ARRAY_TASK_MIN` was subtracted.
    Slurm { min: bool },
    /// A Kubernetes Indexed Job with `--shards N`.
    Kubernetes,
}

impl Origin {
    /// The variables the shard was read from, or `None` for `--shard`.
    pub fn environment(self) -> Option<&'static str> {
        match self {
            Origin::Option => None,
            Origin::Slurm { min: false } => Some("SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT"),
            Origin::Slurm { min: true } => {
                Some("SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, and SLURM_ARRAY_TASK_COUNT")
            }
            Origin::Kubernetes => Some("JOB_COMPLETION_INDEX and --shards"),
        }
    }
}

/// This process's part of the input: shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Whether the line (its host if it is a URL, else its text) is ours.
    pub fn includes(&self, key: &[u8]) -> bool {
        fnv1a(key) % self.count == self.index
    }

    /// The shard to use: `--shard` first; else a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, of
    /// `SLURM_ARRAY_TASK_COUNT`); else a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, of `--shards N`); else none. A task ID below
    /// the array's minimum is not a task of this array: an error.
    pub fn choose(
        explicit: Option<Shard>,
        shards: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<(Shard, Origin)>> {
        if let Some(shard) = explicit {
            return Ok(Some((shard, Origin::Option)));
        }
        let number = |name: &str| -> anyhow::Result<Option<u64>> {
            match env(name) {
                None => Ok(None),
                Some(text) => match text.trim().parse() {
                    Ok(n) => Ok(Some(n)),
                    Err(_) => bail!("{name}={text:?} is not a whole number"),
                },
            }
        };
        if let (Some(id), Some(count)) = (number("SLURM_ARRAY_TASK_ID")?, number("SLURM_ARRAY_TASK_COUNT")?) {
            let min = number("SLURM_ARRAY_TASK_MIN")?;
            let Some(index) = id.checked_sub(min.unwrap_or(0)) else {
                bail!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={}", min.unwrap_or(0));
            };
            return Ok(Some((Shard::new(index, count)?, Origin::Slurm { min: min.is_some_and(|m| m > 0) })));
        }
        match (number("JOB_COMPLETION_INDEX")?, shards) {
            (Some(index), Some(count)) => Ok(Some((Shard::new(index, count)?, Origin::Kubernetes))),
            (None, Some(_)) => {
                bail!("--shards needs JOB_COMPLETION_INDEX in the environment (or use --shard K/N)")
            }
            (_, None) => Ok(None),
        }
    }

    fn new(index: u64, count: u64) -> anyhow::Result<Shard> {
        if count == 0 || index >= count {
            bail!("shard {index} of {count} does not exist: shards are numbered 0 to N-1");
        }
        Ok(Shard { index, count })
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, with K from 0 to N-1.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("'{s}' is not K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let (index, count) = (k.parse().map_err(|_| usage())?, n.parse().map_err(|_| usage())?);
        Shard::new(index, count).map_err(|_| usage())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// 64-bit FNV-1a: tiny, fast, and specified, so it never changes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_hash_is_fnv1a_and_never_changes() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    /// Property: for many keys and shard counts, every key is in exactly one
    /// shard, so shards are disjoint and together cover the input.
    #[test]
    fn shards_partition_every_key_exactly_once() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for count in 1..=9u64 {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            for _ in 0..2000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = format!("host{state}.example");
                let owners = shards.iter().filter(|s| s.includes(key.as_bytes())).count();
                assert_eq!(owners, 1, "{key} in {owners} of {count} shards");
            }
        }
    }

    #[test]
    fn parse_k_of_n() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        for bad in ["4/4", "0/0", "1", "a/b", "-1/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn explicit_beats_slurm_beats_kubernetes() {
        let both = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("JOB_COMPLETION_INDEX", "1"),
        ]);
        let explicit = Some(Shard { index: 0, count: 2 });
        assert_eq!(Shard::choose(explicit, Some(3), &both).unwrap(), explicit.map(|s| (s, Origin::Option)));
        assert_eq!(
            Shard::choose(None, Some(3), &both).unwrap(),
            Some((Shard { index: 2, count: 4 }, Origin::Slurm { min: true }))
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert_eq!(
            Shard::choose(None, Some(3), &k8s).unwrap(),
            Some((Shard { index: 1, count: 3 }, Origin::Kubernetes))
        );
        assert_eq!(Origin::Option.environment(), None, "--shard was asked for: nothing to say");
        assert_eq!(Shard::choose(None, None, &k8s).unwrap(), None, "an index alone does not shard");
        assert_eq!(Shard::choose(None, None, env(&[])).unwrap(), None);
    }

    #[test]
    fn bad_environments_are_errors() {
        assert!(Shard::choose(None, Some(3), env(&[])).is_err());
        assert!(Shard::choose(None, Some(3), env(&[("JOB_COMPLETION_INDEX", "3")])).is_err());
        assert!(
            Shard::choose(None, None, env(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "2")])).is_err()
        );
        let below =
            env(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")]);
        let error = Shard::choose(None, None, below).unwrap_err().to_string();
        assert!(error.contains("SLURM_ARRAY_TASK_ID=0 is below SLURM_ARRAY_TASK_MIN=1"), "{error}");
    }
}
