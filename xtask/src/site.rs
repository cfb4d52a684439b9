//! The static half of the site: the stylesheet as `/pkg/<name>.css` and the
//! assets directory copied into the site root.

use crate::compress::files_under;
use anyhow::{Context, Result};
use std::path::Path;

/// Copies `from` to `to` when `to` is missing or differs. Returns whether it
/// wrote, so unchanged files keep their times (and their `.br`/`.gz`).
pub fn copy_if_changed(from: &Path, to: &Path) -> Result<bool> {
    let data = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    if std::fs::read(to).ok().as_deref() == Some(data.as_slice()) {
        return Ok(false);
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::compress::write_atomic(to, &data)?;
    Ok(true)
}

/// Copies every file under `assets` into `site_root`, keeping relative paths.
pub fn copy_assets(assets: &Path, site_root: &Path) -> Result<usize> {
    if !assets.exists() {
        return Ok(0);
    }
    let mut copied = 0;
    for file in files_under(assets)? {
        let relative = file
            .strip_prefix(assets)
            .context("asset outside its directory")?;
        if copy_if_changed(&file, &site_root.join(relative))? {
            copied += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_copied_once_and_again_when_they_change() {
        let base = std::env::temp_dir().join(format!("xtask-site-{}", std::process::id()));
        let assets = base.join("public");
        let site = base.join("site");
        std::fs::create_dir_all(assets.join("img")).expect("dirs");
        std::fs::write(assets.join("favicon.svg"), "<svg/>").expect("write");
        std::fs::write(assets.join("img/a.txt"), "a").expect("write");

        assert_eq!(copy_assets(&assets, &site).expect("copy"), 2);
        assert_eq!(
            std::fs::read_to_string(site.join("img/a.txt")).expect("read"),
            "a"
        );
        assert_eq!(copy_assets(&assets, &site).expect("copy again"), 0);
        std::fs::write(assets.join("img/a.txt"), "b").expect("rewrite");
        assert_eq!(copy_assets(&assets, &site).expect("copy changed"), 1);
        assert_eq!(
            std::fs::read_to_string(site.join("img/a.txt")).expect("read"),
            "b"
        );

        std::fs::remove_dir_all(&base).expect("clean up");
    }
}
