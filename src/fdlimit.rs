//! File descriptors: every check in flight holds a socket, so the soft
//! `RLIMIT_NOFILE` is raised to the hard limit at start, and concurrency is
//! lowered (once, with a word on stderr) if it still cannot fit.

/// Descriptors kept free for stdio, input files, the resolver and the runtime.
const RESERVED: u64 = 64;

/// Raises the soft limit as far as allowed and returns the concurrency that
/// fits under it.
pub fn fit(concurrency: usize) -> usize {
    let limit = raise_soft_limit();
    let room = limit.saturating_sub(RESERVED).max(1);
    if (concurrency as u64) <= room {
        return concurrency;
    }
    let lowered = usize::try_from(room).unwrap_or(usize::MAX);
    crate::report::message(&format!(
        "--concurrency {concurrency} needs more file descriptors than the limit of {limit}; using {lowered}"
    ));
    lowered
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
        assert_eq!(fit(10), 10);
        let limit = raise_soft_limit();
        assert!(limit >= 64);
        let fitted = fit(1_000_000_000);
        assert_eq!(fitted as u64, limit.saturating_sub(RESERVED).max(1));
    }
}
