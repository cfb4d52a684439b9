//! From the compiled library to `/pkg/<name>.js` + `/pkg/<name>.wasm`:
//! wasm-bindgen (as a library, the same version as the `wasm-bindgen`
//! dependency) and, for release, `wasm-opt` from the npm `binaryen` package.

use crate::Profile;
use crate::compress::write_atomic;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Generates the JS glue and the final wasm in `pkg_dir`, unless they were
/// already made from this very input (a stamp records its size and time).
/// Returns whether anything was written.
pub fn bindgen(
    input: &Path,
    pkg_dir: &Path,
    name: &str,
    profile: Profile,
    root: &Path,
) -> Result<bool> {
    let stamp_path = pkg_dir.join(format!(".{name}.stamp"));
    let stamp = stamp_of(input, profile)?;
    let js = pkg_dir.join(format!("{name}.js"));
    let wasm = pkg_dir.join(format!("{name}.wasm"));
    if js.exists()
        && wasm.exists()
        && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp)
    {
        return Ok(false);
    }

    let staging = pkg_dir.join(format!(".{name}.bindgen"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(input)
        .out_name(name)
        .web(true)
        .map_err(|e| anyhow!("wasm-bindgen: {e:#}"))?
        .typescript(false)
        .generate(&staging)
        .map_err(|e| anyhow!("wasm-bindgen on {}: {e:#}", input.display()))?;

    let glue = staging.join(format!("{name}.js"));
    let bg = staging.join(format!("{name}_bg.wasm"));
    if profile == Profile::Release {
        wasm_opt(&bg, &wasm, root)?;
    } else {
        std::fs::rename(&bg, &wasm).with_context(|| format!("writing {}", wasm.display()))?;
    }
    std::fs::rename(&glue, &js).with_context(|| format!("writing {}", js.display()))?;
    // Snippets (`#[wasm_bindgen(module = …)]`) land beside the glue.
    let snippets = staging.join("snippets");
    if snippets.exists() {
        let target = pkg_dir.join("snippets");
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&snippets, &target)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    write_atomic(&stamp_path, stamp.as_bytes())?;
    Ok(true)
}

fn stamp_of(input: &Path, profile: Profile) -> Result<String> {
    let meta = std::fs::metadata(input)
        .with_context(|| format!("reading {} (did the wasm build run?)", input.display()))?;
    let modified = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(format!(
        "{profile:?} {} {}",
        meta.len(),
        modified.as_nanos()
    ))
}

/// `wasm-opt -Oz`, with the wasm features rustc emits by default enabled so
/// binaryen keeps them (an older binaryen without them breaks hydration).
fn wasm_opt(input: &Path, output: &Path, root: &Path) -> Result<()> {
    let exe = find_wasm_opt(root)?;
    let status = Command::new(&exe)
        .arg("-Oz")
        .args(["--enable-bulk-memory", "--enable-nontrapping-float-to-int"])
        .args(["--enable-sign-ext", "--enable-mutable-globals"])
        .args(["--enable-reference-types", "--enable-multivalue"])
        .arg(input)
        .arg("-o")
        .arg(output)
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", exe.display());
    }
    Ok(())
}

/// The `wasm-opt` of the npm `binaryen` package in `end2end/`, else one on PATH.
fn find_wasm_opt(root: &Path) -> Result<PathBuf> {
    let local = root.join("end2end/node_modules/.bin/wasm-opt");
    if local.exists() {
        return Ok(local);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("wasm-opt"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "wasm-opt not found: run `npm ci` in end2end/ (npm package binaryen), \
                 or put a wasm-opt of binaryen 116 or newer on PATH"
            )
        })
}
