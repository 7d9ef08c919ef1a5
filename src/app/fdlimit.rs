//! Process-wide resources the binary sets at start. File descriptors: every
//! check in flight holds a socket, so the soft `RLIMIT_NOFILE` is raised to
//! the hard limit, and concurrency is lowered if it still cannot fit (the
//! caller says so on stderr). Memory: one malloc arena.

/// Descriptors kept free for stdio, input files, the resolver and the runtime.
const RESERVED: u64 = 64;

/// Raises the soft limit as far as allowed and returns the concurrency that
/// fits under it, with the limit when that is lower than asked.
pub fn fit(concurrency: usize) -> (usize, Option<u64>) {
    let limit = raise_soft_limit();
    let room = limit.saturating_sub(RESERVED).max(1);
    if (concurrency as u64) <= room {
        return (concurrency, None);
    }
    (usize::try_from(room).unwrap_or(usize::MAX), Some(limit))
}

/// Sets the soft `RLIMIT_NOFILE` to the hard one; returns the soft limit now
/// in force (unchanged if the OS refuses).
#[allow(unsafe_code)]
fn raise_soft_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    limit.rlim_cur
}

/// One malloc arena instead of glibc's one per thread (up to eight per
/// core): results are made on the runtime's workers and freed on the
/// runner's and the writer's threads, and with an arena per thread peak RSS
/// rose by up to a third; with one, RSS and CPU per check are both a little
/// lower than before the runner moved to a worker (`bench/RESULTS.md`).
/// Process-wide, so the binary's call, not the library's.
#[allow(unsafe_code)]
pub fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator; called before any
    // thread of ours exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_concurrency_is_kept_and_huge_is_lowered() {
        assert_eq!(fit(10), (10, None));
        let limit = raise_soft_limit();
        assert!(limit >= 64);
        let (fitted, lowered) = fit(1_000_000_000);
        assert_eq!((fitted as u64, lowered), (limit.saturating_sub(RESERVED).max(1), Some(limit)));
    }
}
