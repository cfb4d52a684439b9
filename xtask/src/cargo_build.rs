//! The two `cargo build`s of the site: the server binary for the host and the
//! browser library for `wasm32-unknown-unknown`. They run side by side: each
//! ends in a long single-threaded step (linking, the wasm's LTO), and two of
//! those overlap well on two cores.

use crate::Profile;
use crate::metadata::Site;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// Compile-time environment of both builds. `LEPTOS_OUTPUT_NAME` decides the
/// asset names the server's `<HydrationScripts>` emits (`/pkg/<name>.wasm`,
/// no `_bg`); `.ci/lib.sh` exports the same value so that `cargo test` and
/// `cargo clippy` reuse these artifacts instead of rebuilding them.
pub fn compile_env(site: &Site) -> Vec<(&'static str, String)> {
    vec![("LEPTOS_OUTPUT_NAME", site.name.clone())]
}

/// Where the wasm build keeps its artifacts: apart from the host build's, so
/// both can run at once without waiting on cargo's lock of the target dir.
pub fn wasm_target_dir(root: &Path) -> PathBuf {
    root.join("target").join("front")
}

/// The `.wasm` file the library build produces.
pub fn wasm_artifact(root: &Path, site: &Site, profile: Profile) -> PathBuf {
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => site.lib_profile_release.as_str(),
    };
    wasm_target_dir(root)
        .join("wasm32-unknown-unknown")
        .join(dir)
        .join(format!("{}.wasm", site.lib_package.replace('-', "_")))
}

/// The server executable the binary build produces.
pub fn server_artifact(root: &Path, site: &Site, profile: Profile) -> PathBuf {
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => "release",
    };
    root.join("target").join(dir).join(&site.bin_target)
}

/// Builds the server and the wasm library at once; fails if either fails.
pub fn build(root: &Path, site: &Site, profile: Profile, timings: bool) -> Result<()> {
    let mut wasm = cargo(root, site);
    wasm.args(["build", "--package", &site.lib_package, "--lib"])
        .args([
            "--target",
            "wasm32-unknown-unknown",
            "--no-default-features",
        ])
        .arg("--target-dir")
        .arg(wasm_target_dir(root));
    features(&mut wasm, &site.lib_features);
    if profile == Profile::Release {
        wasm.args(["--profile", &site.lib_profile_release]);
    }

    let mut server = cargo(root, site);
    server
        .args(["build", "--package", &site.bin_package])
        .args(["--bin", &site.bin_target, "--no-default-features"]);
    features(&mut server, &site.bin_features);
    if profile == Profile::Release {
        server.arg("--release");
    }

    if timings {
        wasm.arg("--timings");
        server.arg("--timings");
    }

    let wasm_child = spawn(wasm, "the wasm build")?;
    let server_child = spawn(server, "the server build")?;
    let wasm_ok = wait(wasm_child, "the wasm build");
    let server_ok = wait(server_child, "the server build");
    match (wasm_ok, server_ok) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

fn cargo(root: &Path, site: &Site) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root).envs(compile_env(site));
    // `cargo run` gave this process the xtask package's variables; build
    // scripts (ring's, via cc) track some of them, so passing them on would
    // make every other cargo command rebuild those crates.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if is_set_by_cargo_run(&key) {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

fn is_set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

fn features(cmd: &mut Command, features: &[String]) {
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
}

fn spawn(mut cmd: Command, what: &str) -> Result<Child> {
    cmd.spawn()
        .with_context(|| format!("starting {what} (cargo)"))
}

fn wait(mut child: Child, what: &str) -> Result<()> {
    let status = child
        .wait()
        .with_context(|| format!("waiting for {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
