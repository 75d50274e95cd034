//! The one error type of core's fallible operations (running a stage, generating, probing,
//! reading a weights file): a sentence a person can act on, shown as is by the page and the CLI.
//!
//! A config that fails validation is a `ConfigError` instead: it names the field at fault, so a
//! form can point at it. It converts into this type where a run meets it (the `From` is in
//! `config`, which sits above this module).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }

    /// Reading a result back from the device failed (a lost GPU, a failed map): `what` names it.
    pub fn device_read(what: &str, cause: impl fmt::Debug) -> Self {
        Error(format!("reading {what} from the device failed: {cause:?}"))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
