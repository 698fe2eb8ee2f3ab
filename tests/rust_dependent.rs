//! A Rust crate that depends on floodgate with default features (tests/dependent)
//! pays nothing for the C ABI: cargo compiles no cbindgen for it, floodgate's
//! build script generates no header, and no `fg_*` symbol is in floodgate's
//! rlib or in the dependent's binary (two floodgate versions in one binary
//! cannot collide on them).
//!
//! The dependent is its own workspace with its own target directory (below
//! this test's `CARGO_TARGET_TMPDIR`), built offline with the versions of the
//! root Cargo.lock, so it needs nothing the root build did not fetch.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What cargo reported while building the dependent (JSON messages, one a line).
fn build_dependent() -> Vec<serde_json::Value> {
    let dependent = crate_dir().join("tests/dependent");
    // The root's versions, so the offline build finds every crate it needs.
    std::fs::copy(crate_dir().join("Cargo.lock"), dependent.join("Cargo.lock"))
        .expect("copy Cargo.lock to tests/dependent");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dependent");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new("timeout")
        .arg("900")
        .arg(cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(dependent.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--offline", "--quiet", "--message-format=json"])
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "building tests/dependent failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The package name in a cargo package id (`path+file:///…#name@1.0` or
/// `registry+https://…#name@1.0`).
fn package_name(message: &serde_json::Value) -> String {
    let id = message["package_id"].as_str().unwrap_or_default();
    let spec = id.rsplit('#').next().unwrap_or(id);
    spec.split('@').next().unwrap_or(spec).to_string()
}

/// The names of the `fg_*` symbols `nm` lists in `file`, after checking that
/// `nm` did list symbols (so an empty answer means none, not a failed read).
fn fg_symbols(file: &Path) -> Vec<String> {
    let output = Command::new("nm")
        .arg(file)
        .output()
        .unwrap_or_else(|error| panic!("cannot run nm: {error}"));
    // nm exits non-zero on an rlib's metadata member, but lists the objects.
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.lines().count() > 100,
        "nm listed no symbols in {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .filter(|symbol| symbol.starts_with("fg_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_rust_dependent_compiles_no_c_abi() {
    let messages = build_dependent();
    let compiled: Vec<String> = messages
        .iter()
        .filter(|message| message["reason"] == "compiler-artifact")
        .map(package_name)
        .collect();
    assert!(
        compiled.iter().any(|name| name == "floodgate-gcra"),
        "floodgate was not built: {compiled:?}"
    );
    assert!(
        !compiled.iter().any(|name| name == "cbindgen"),
        "a dependent compiled cbindgen: {compiled:?}"
    );

    let floodgate_out_dirs: Vec<PathBuf> = messages
        .iter()
        .filter(|message| {
            message["reason"] == "build-script-executed"
                && package_name(message) == "floodgate-gcra"
        })
        .filter_map(|message| message["out_dir"].as_str().map(PathBuf::from))
        .collect();
    for out_dir in &floodgate_out_dirs {
        assert!(
            !out_dir.join("floodgate.h").exists(),
            "floodgate's build script generated {}",
            out_dir.join("floodgate.h").display()
        );
    }

    let floodgate_files: Vec<PathBuf> = messages
        .iter()
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "floodgate"
        })
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(PathBuf::from))
        .collect();
    assert!(
        floodgate_files.iter().all(|file| file
            .extension()
            .is_some_and(|ext| ext == "rlib" || ext == "rmeta")),
        "a dependent built more than floodgate's rlib: {floodgate_files:?}"
    );
    let rlib = floodgate_files
        .iter()
        .find(|file| file.extension().is_some_and(|ext| ext == "rlib"))
        .unwrap_or_else(|| panic!("no floodgate rlib among {floodgate_files:?}"));
    let in_rlib = fg_symbols(rlib);
    assert!(
        in_rlib.is_empty(),
        "floodgate's rlib defines {} C ABI symbols, e.g. {:?}",
        in_rlib.len(),
        &in_rlib[..in_rlib.len().min(5)]
    );

    let binary = messages
        .iter()
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("the dependent's binary");
    let in_binary = fg_symbols(&binary);
    assert!(
        in_binary.is_empty(),
        "the dependent's binary has C ABI symbols: {in_binary:?}"
    );
    let ran = Command::new(&binary).output().expect("run the dependent");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "true\n");
}
