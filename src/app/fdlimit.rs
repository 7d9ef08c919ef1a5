//! Process-wide resources the binary sets at start. File descriptors: every
//! check in flight holds a socket, so the soft `RLIMIT_NOFILE` is raised to
//! the hard limit, and concurrency is lowered if it still cannot fit (the
//! caller says so on stderr).

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
