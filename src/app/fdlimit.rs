//! Process-wide resources the binary sets at start. File descriptors: every
//! check in flight holds sockets (its connection, or the UDP sockets of its
//! lookup; a lookup run ahead holds some too: `Limits::descriptors_per_check`),
//! so the soft `RLIMIT_NOFILE` is raised to the hard limit, and concurrency
//! is lowered if it still cannot fit (the caller says so on stderr): a run
//! that ran out of descriptors would fail checks with spurious `dns` or
//! `connect` errors instead.

/// Descriptors kept free for stdio, input files, the TCP fallback of DNS and
/// the runtime.
const RESERVED: u64 = 64;

/// Raises the soft limit as far as allowed and returns the concurrency that
/// fits under it when each unit of concurrency holds up to `per_check`
/// descriptors, with the limit when that is lower than asked.
pub fn fit(concurrency: usize, per_check: u64) -> (usize, Option<u64>) {
    fit_under(raise_soft_limit(), concurrency, per_check)
}

/// The concurrency that fits under `limit` descriptors (at least 1), and
/// `limit` if that is lower than `concurrency`.
fn fit_under(limit: u64, concurrency: usize, per_check: u64) -> (usize, Option<u64>) {
    let room = (limit.saturating_sub(RESERVED) / per_check.max(1)).max(1);
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
        assert_eq!(fit(10, 4), (10, None));
        let limit = raise_soft_limit();
        assert!(limit >= 64);
        let (fitted, lowered) = fit(1_000_000_000, 4);
        assert_eq!((fitted as u64, lowered), ((limit.saturating_sub(RESERVED) / 4).max(1), Some(limit)));
    }

    #[test]
    fn every_descriptor_of_a_check_and_its_lookups_is_counted() {
        // ulimit -n 1024, -c 5000, names resolved ahead: a check's 2 and a
        // lookup ahead's 2 descriptors each, 64 kept free.
        assert_eq!(fit_under(1024, 5000, 4), (240, Some(1024)));
        assert_eq!(fit_under(1024, 5000, 2), (480, Some(1024)), "no lookups ahead (--rate)");
        assert_eq!(fit_under(1024, 240, 4), (240, None), "fits exactly");
        assert_eq!(fit_under(1024, 241, 4), (240, Some(1024)));
        assert_eq!(fit_under(10, 5000, 4), (1, Some(10)), "at least one check");
        assert_eq!(fit_under(u64::MAX, 5000, 4), (5000, None));
        assert_eq!(fit_under(1024, 100, 0), (100, None), "no division by zero");
    }
}
