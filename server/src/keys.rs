//! The root secret: `LATCHKEY_SECRET_KEY`, or one generated once into the
//! data directory (with a warning, since losing it loses the encrypted data).

use anyhow::{Context, Result};
use base64::Engine;
use std::path::Path;

const KEY_FILE: &str = "secret.key";

pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>> {
    if let Some(key) = configured {
        return Ok(key.as_bytes().to_vec());
    }
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the secret key from {}", path.display()))?;
        let key = key.trim().as_bytes().to_vec();
        anyhow::ensure!(
            key.len() >= app::ssr::crypto::MIN_SECRET_LEN,
            "{} holds a key shorter than {} bytes; delete it or set LATCHKEY_SECRET_KEY",
            path.display(),
            app::ssr::crypto::MIN_SECRET_LEN
        );
        return Ok(key);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let key = base64::engine::general_purpose::STANDARD.encode(app::ssr::random::bytes::<48>());
    write_private(&path, &key)
        .with_context(|| format!("writing a new secret key to {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "LATCHKEY_SECRET_KEY is not set: generated a key into the data directory. \
         Back it up, or set LATCHKEY_SECRET_KEY; without it, encrypted settings cannot be read."
    );
    Ok(key.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-keys-{}",
            app::ssr::random::lower_alnum(12)
        ));
        let first = load_or_create(None, &dir).expect("generated");
        assert!(first.len() >= 32);
        let second = load_or_create(None, &dir).expect("reused");
        assert_eq!(first, second);
        let configured = load_or_create(Some("x".repeat(40).as_str()), &dir).expect("configured");
        assert_eq!(configured, "x".repeat(40).into_bytes());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
