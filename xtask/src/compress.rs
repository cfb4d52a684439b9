//! Precompressed `.br` and `.gz` beside each asset, which the server's file
//! handler sends when the browser accepts them.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Extensions worth compressing (text and wasm; images are already compressed).
const COMPRESSIBLE: &[&str] = &["js", "wasm", "css", "svg", "html", "json", "txt"];

/// Writes `<file>.br` and `<file>.gz` for every compressible file under
/// `dir` whose compressed copies are missing or older than the file.
/// Returns how many files were (re)compressed.
pub fn precompress_dir(dir: &Path) -> Result<usize> {
    let mut done = 0;
    for file in files_under(dir)? {
        let compressible = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if compressible && precompress_file(&file)? {
            done += 1;
        }
    }
    Ok(done)
}

/// Removes compressed copies whose source is gone or newer (debug builds
/// must not serve a stale release `.br`).
pub fn remove_stale(dir: &Path) -> Result<()> {
    for file in files_under(dir)? {
        let Some(ext) = file.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if ext == "br" || ext == "gz" {
            let source = file.with_extension("");
            if !source.exists() || newer(&source, &file)? {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing {}", file.display()))?;
            }
        }
    }
    Ok(())
}

fn precompress_file(file: &Path) -> Result<bool> {
    let br = with_suffix(file, "br");
    let gz = with_suffix(file, "gz");
    if br.exists() && gz.exists() && !newer(file, &br)? && !newer(file, &gz)? {
        return Ok(false);
    }
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;

    let mut brotli_out = Vec::with_capacity(data.len() / 3);
    {
        // Quality 11 is slow on megabytes of wasm; 9 keeps the build quick
        // and lands within a few percent of it.
        let mut w = brotli::CompressorWriter::new(&mut brotli_out, 64 * 1024, 9, 22);
        w.write_all(&data)?;
    }
    write_atomic(&br, &brotli_out)?;

    let mut gz_out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz_out.write_all(&data)?;
    write_atomic(&gz, &gz_out.finish()?)?;
    Ok(true)
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether `a` was modified after `b`.
fn newer(a: &Path, b: &Path) -> Result<bool> {
    let modified = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .with_context(|| format!("reading the time of {}", p.display()))
    };
    Ok(modified(a)? > modified(b)?)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(path, "tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compressed_copies_decompress_to_the_file_and_are_refreshed_when_stale() {
        let dir = std::env::temp_dir().join(format!("xtask-compress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let js = dir.join("app.js");
        let png = dir.join("logo.png");
        let body = "export function hydrate() {}\n".repeat(200);
        std::fs::write(&js, &body).expect("write js");
        std::fs::write(&png, b"not text").expect("write png");

        assert_eq!(precompress_dir(&dir).expect("compress"), 1);
        assert!(!with_suffix(&png, "br").exists(), "images are left alone");

        let mut out = String::new();
        brotli::Decompressor::new(
            std::fs::File::open(with_suffix(&js, "br")).expect("br"),
            4096,
        )
        .read_to_string(&mut out)
        .expect("brotli");
        assert_eq!(out, body);
        out.clear();
        flate2::read::GzDecoder::new(std::fs::File::open(with_suffix(&js, "gz")).expect("gz"))
            .read_to_string(&mut out)
            .expect("gzip");
        assert_eq!(out, body);

        // Up to date: nothing to do.
        assert_eq!(precompress_dir(&dir).expect("compress again"), 0);

        // A newer source makes its copies stale: removed, then rebuilt.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&js, "changed").expect("rewrite js");
        remove_stale(&dir).expect("remove stale");
        assert!(!with_suffix(&js, "br").exists() && !with_suffix(&js, "gz").exists());
        assert_eq!(precompress_dir(&dir).expect("compress changed"), 1);

        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
