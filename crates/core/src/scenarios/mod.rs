//! Backdoor scenarios beyond the HHH tasks in `data`: the code-vulnerability backdoor.

pub mod code;
