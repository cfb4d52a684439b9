//! The site settings in `[[workspace.metadata.leptos]]` of the root
//! `Cargo.toml`: the one place both this xtask and cargo-leptos read them.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Site {
    /// Output name: `/pkg/<name>.js`, `.wasm`, `.css`.
    pub name: String,
    pub bin_package: String,
    pub bin_target: String,
    pub lib_package: String,
    pub site_root: String,
    pub site_pkg_dir: String,
    pub style_file: String,
    pub assets_dir: String,
    #[serde(default)]
    pub bin_features: Vec<String>,
    #[serde(default)]
    pub lib_features: Vec<String>,
    #[serde(default = "default_lib_profile_release")]
    pub lib_profile_release: String,
}

fn default_lib_profile_release() -> String {
    "release".into()
}

#[derive(Deserialize)]
struct Manifest {
    workspace: Workspace,
}

#[derive(Deserialize)]
struct Workspace {
    metadata: Metadata,
}

#[derive(Deserialize)]
struct Metadata {
    leptos: Vec<Site>,
}

/// Reads the single site of the workspace manifest.
pub fn load(manifest: &Path) -> Result<Site> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    parse(&text).with_context(|| format!("[[workspace.metadata.leptos]] in {}", manifest.display()))
}

fn parse(text: &str) -> Result<Site> {
    let manifest: Manifest = toml::from_str(text)?;
    let mut sites = manifest.workspace.metadata.leptos;
    if sites.len() != 1 {
        bail!("expected exactly one site, found {}", sites.len());
    }
    Ok(sites.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workspace_site() {
        let site = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
            .expect("the workspace manifest has one site");
        assert_eq!(site.name, "latchkey");
        assert_eq!(site.lib_package, "frontend");
        assert_eq!(site.lib_features, ["hydrate"]);
        assert_eq!(site.lib_profile_release, "wasm-release");
    }

    #[test]
    fn refuses_a_manifest_without_exactly_one_site() {
        let err = parse("[workspace.metadata]\nleptos = []\n").expect_err("no site");
        assert!(err.to_string().contains("found 0"), "{err}");
    }
}
