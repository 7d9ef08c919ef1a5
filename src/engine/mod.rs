//! The engine layer, on top of the wire: one URL checked (`check`, with its
//! redirects), one target tried to its result (`attempt`: `--rate`,
//! retries), who starts next (`schedule`: per host, dedupe), on which
//! runtime (`spill`), and the runner over a stream of targets (`run`).
//! Settings come in as [`Options`] and [`Limits`]; nothing here reads the
//! command line, prints or touches process-wide state.

mod attempt;
mod check;
mod options;
mod run;
mod schedule;
mod spill;
mod target;

pub use check::{Answer, Checker};
pub use options::{user_agent, Method, Options, Profile};
pub use run::{Limits, Results, Runner};
pub use target::Target;
