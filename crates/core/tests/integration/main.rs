//! The integration tests of core, natively on the CPU backend. One binary, not a file a crate:
//! each test crate would be compiled and linked against burn on its own.

mod common;

mod backdoor;
mod bases;
mod bench;
mod data_pins;
mod fuzz;
mod probing;
mod share;
mod stages;
