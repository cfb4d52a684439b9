//! `cargo xtask build [--release]` and `cargo xtask serve [--release] [ARGS]`:
//! build the Leptos site (server binary, wasm bundle and its JS glue,
//! stylesheet, assets, precompressed copies) with nothing but the workspace's
//! own dependencies — no cargo-leptos and no wasm-bindgen CLI to install.
//! The settings are those of `[[workspace.metadata.leptos]]`, so
//! `cargo leptos watch` keeps working for developers who have it.

mod cargo_build;
mod compress;
mod hashing;
mod metadata;
mod site;
mod wasm;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

const USAGE: &str = "\
usage: cargo xtask build [--release] [--timings]
       cargo xtask serve [--release] [LATCHKEY SERVE ARGS...]

build      builds target/<debug|release>/latchkey and the site in target/site
serve      builds, then runs `latchkey serve` with LEPTOS_SITE_ROOT set
--timings  cargo's build timings: target/cargo-timings/ (server) and
           target/front/cargo-timings/ (wasm)";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let (command, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("", &[]));
    let release = rest.iter().any(|a| a == "--release");
    let profile = if release {
        Profile::Release
    } else {
        Profile::Debug
    };
    let timings = rest.iter().any(|a| a == "--timings");
    let root = workspace_root();
    match command {
        "build" => {
            if let Some(other) = rest.iter().find(|a| *a != "--release" && *a != "--timings") {
                bail!("unknown argument {other}\n{USAGE}");
            }
            build(&root, profile, timings).map(|_| ())
        }
        "serve" => {
            let server = build(&root, profile, false)?;
            let passed: Vec<&String> = rest.iter().filter(|a| *a != "--release").collect();
            serve(&root, &server, profile, &passed)
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds everything and returns the server executable's path.
fn build(root: &Path, profile: Profile, timings: bool) -> Result<PathBuf> {
    let started = Instant::now();
    let site = metadata::load(&root.join("Cargo.toml"))?;
    cargo_build::build(root, &site, profile, timings)?;

    let site_root = root.join(&site.site_root);
    let pkg_dir = site_root.join(&site.site_pkg_dir);
    std::fs::create_dir_all(&pkg_dir).with_context(|| format!("creating {}", pkg_dir.display()))?;

    let input = cargo_build::wasm_artifact(root, &site, profile);
    let step = Instant::now();
    if wasm::bindgen(&input, &pkg_dir, &site.name, profile, root)? {
        eprintln!(
            "xtask: wasm-bindgen{} in {:.1} s",
            if profile == Profile::Release {
                " + wasm-opt"
            } else {
                ""
            },
            step.elapsed().as_secs_f64()
        );
    }
    site::copy_if_changed(
        &root.join(&site.style_file),
        &pkg_dir.join(format!("{}.css", site.name)),
    )?;
    site::copy_assets(&root.join(&site.assets_dir), &site_root)?;

    // Release pages name content-hashed copies (cached for a year); debug
    // pages keep the plain names, so a stale hash file must not survive.
    let server = cargo_build::server_artifact(root, &site, profile);
    let hash_file = server.with_file_name("hash.txt");
    if profile == Profile::Release {
        hashing::hash_bundle(&pkg_dir, &site.name, &hash_file)?;
    } else if hash_file.exists() {
        std::fs::remove_file(&hash_file)
            .with_context(|| format!("removing {}", hash_file.display()))?;
    }

    // Stale compressed copies would be served in place of a newer file.
    compress::remove_stale(&site_root)?;
    if profile == Profile::Release {
        let step = Instant::now();
        let n = compress::precompress_dir(&site_root)?;
        if n > 0 {
            eprintln!(
                "xtask: precompressed {n} files in {:.1} s",
                step.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "xtask: site ready in {} ({:.1} s)",
        site_root.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(server)
}

fn serve(root: &Path, server: &Path, profile: Profile, args: &[&String]) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let site = metadata::load(&root.join("Cargo.toml"))?;
    let mut cmd = std::process::Command::new(server);
    cmd.current_dir(root)
        .arg("serve")
        .args(args)
        .env("LEPTOS_SITE_ROOT", &site.site_root)
        .env("LEPTOS_SITE_PKG_DIR", &site.site_pkg_dir)
        .env("LEPTOS_OUTPUT_NAME", &site.name)
        .env(
            "LEPTOS_ENV",
            if profile == Profile::Release {
                "PROD"
            } else {
                "DEV"
            },
        );
    // Only returns when the server could not be started.
    let err = cmd.exec();
    Err(err).with_context(|| format!("starting {}", server.display()))
}
