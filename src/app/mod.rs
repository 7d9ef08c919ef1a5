//! The binary's own layer, on top of the library's public API: the command
//! line (`cli`), input files and `--resume` (`input`), `--shard`, file
//! descriptor limits (`fdlimit`), the flags named in the library's
//! messages (`flags`), the rounds and signals (`run`), what
//! the user sees (`report`: formats, summary, progress, the stdout writer),
//! inconclusive rounds (`canary`) and alerts on changes of state (`alert`).

pub mod alert;
pub mod canary;
pub mod cli;
pub mod fdlimit;
pub mod flags;
pub mod input;
pub mod report;
pub mod run;
pub mod shard;
