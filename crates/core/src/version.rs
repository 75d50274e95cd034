//! Which Sleeper Lab this is: the release and the commit it was built from. Reports and share
//! links carry it, so a rerun can say when a link comes from another version.

/// The release (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit this build was made from (12 hex digits), or "unknown" outside a git checkout.
pub const COMMIT: &str = env!("SLEEPER_COMMIT");

/// "0.1.0+1a2b3c4d5e6f": the form reports and links carry.
pub fn app() -> String {
    format!("{VERSION}+{COMMIT}")
}
