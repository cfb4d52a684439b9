//! Content-hashed copies of the bundle (`<name>.<hash>.js|wasm|css`) and the
//! `hash.txt` that Leptos reads beside the server binary to name them in
//! pages, so browsers can keep them for a year (`immutable`): a new build
//! has new names. The unhashed files stay for pages Latchkey writes by hand
//! (refusal and outage pages link the stylesheet).

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Sixteen hex digits of the SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the hashed copies of `<name>.js`, `<name>.wasm` and `<name>.css`
/// in `pkg_dir`, removes hashed copies of earlier builds, and writes
/// `hash_file` in the format Leptos reads (`js: <hash>` per line).
pub fn hash_bundle(pkg_dir: &Path, name: &str, hash_file: &Path) -> Result<()> {
    let mut lines = String::new();
    let mut keep = Vec::new();
    for ext in ["js", "wasm", "css"] {
        let file = pkg_dir.join(format!("{name}.{ext}"));
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let hash = content_hash(&bytes);
        let hashed = format!("{name}.{hash}.{ext}");
        let target = pkg_dir.join(&hashed);
        if !target.exists() {
            std::fs::write(&target, &bytes)
                .with_context(|| format!("writing {}", target.display()))?;
        }
        keep.push(hashed);
        lines.push_str(&format!("{ext}: {hash}\n"));
    }
    for entry in
        std::fs::read_dir(pkg_dir).with_context(|| format!("listing {}", pkg_dir.display()))?
    {
        let file_name = entry?.file_name().to_string_lossy().into_owned();
        let base = file_name
            .trim_end_matches(".br")
            .trim_end_matches(".gz")
            .to_owned();
        if is_hashed(&base, name) && !keep.contains(&base) {
            let stale = pkg_dir.join(&file_name);
            std::fs::remove_file(&stale)
                .with_context(|| format!("removing {}", stale.display()))?;
        }
    }
    std::fs::write(hash_file, lines).with_context(|| format!("writing {}", hash_file.display()))
}

/// `<name>.<16 hex>.<js|wasm|css>`.
fn is_hashed(file_name: &str, name: &str) -> bool {
    let Some(rest) = file_name.strip_prefix(&format!("{name}.")) else {
        return false;
    };
    let Some((hash, ext)) = rest.split_once('.') else {
        return false;
    };
    hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && ["js", "wasm", "css"].contains(&ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_named_by_content_and_old_ones_go() {
        let dir = std::env::temp_dir().join(format!("xtask-hash-{}", std::process::id()));
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).expect("dir");
        for (ext, body) in [("js", "js one"), ("wasm", "wasm one"), ("css", "css one")] {
            std::fs::write(pkg.join(format!("site.{ext}")), body).expect("write");
        }
        std::fs::write(pkg.join("site.0123456789abcdef.js"), "old").expect("write");
        std::fs::write(pkg.join("site.0123456789abcdef.js.br"), "old").expect("write");
        let hash_file = dir.join("hash.txt");
        hash_bundle(&pkg, "site", &hash_file).expect("hashed");

        let js = content_hash(b"js one");
        assert_eq!(js.len(), 16);
        assert_eq!(
            std::fs::read_to_string(pkg.join(format!("site.{js}.js"))).expect("copy"),
            "js one"
        );
        let listed = std::fs::read_to_string(&hash_file).expect("hash.txt");
        assert_eq!(
            listed,
            format!(
                "js: {js}\nwasm: {}\ncss: {}\n",
                content_hash(b"wasm one"),
                content_hash(b"css one")
            )
        );
        assert!(!pkg.join("site.0123456789abcdef.js").exists());
        assert!(!pkg.join("site.0123456789abcdef.js.br").exists());
        assert!(pkg.join("site.js").exists(), "the unhashed file stays");
        assert!(!is_hashed("site.js", "site"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
