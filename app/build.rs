//! Lists the provider guides (`src/sso/guides/*.json`) for `sso::guide`,
//! so that adding a provider is adding a file.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("src/sso/guides");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("app/src/sso/guides")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let list: Vec<String> = files
        .iter()
        .map(|p| format!("include_str!({:?})", p.display().to_string()))
        .collect();
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        Path::new(&out).join("guides.rs"),
        format!("&[{}]", list.join(",\n")),
    )
    .expect("write guides.rs");
}
