//! The C ABI, proven from C and C++.
//!
//! - The committed `include/floodgate.h` must equal the header build.rs just
//!   generated (`FLOODGATE_BLESS_HEADER=1 cargo test --test c_abi` rewrites it).
//! - Each program in tests/c is compiled with warnings as errors, linked once
//!   against the static and once against the shared library, run, and run again
//!   under valgrind memcheck, which must report no error and no leak of any kind.
//!
//! The libraries are the `libfloodgate.a` and `libfloodgate.so` that this very
//! `cargo test` built: cargo compiles the library once with all three crate
//! types (the rlib this test links, the staticlib, the cdylib) into the test
//! binary's own `deps` directory, so they are always as fresh as the test.
//! valgrind is required; `FLOODGATE_SKIP_VALGRIND=1` skips it explicitly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/floodgate.h"));

/// How rustc says a Rust staticlib must be linked on Linux (`--print native-static-libs`).
const STATIC_LINK_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_header_matches_the_generated_one() {
    let committed_path = crate_dir().join("include/floodgate.h");
    if std::env::var_os("FLOODGATE_BLESS_HEADER").is_some() {
        std::fs::write(&committed_path, GENERATED_HEADER).expect("write include/floodgate.h");
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == GENERATED_HEADER,
        "include/floodgate.h differs from the header generated from src/ffi; \
         review and run `FLOODGATE_BLESS_HEADER=1 cargo test --test c_abi` to update it"
    );
}

#[derive(Clone, Copy, Debug)]
enum Language {
    C,
    Cpp,
}

#[derive(Clone, Copy, Debug)]
enum Linkage {
    Static,
    Shared,
}

/// The directory cargo put this test binary and the library's artifacts in.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .expect("test binary has a directory")
        .to_path_buf()
}

fn library(linkage: Linkage) -> PathBuf {
    let name = match linkage {
        Linkage::Static => "libfloodgate.a",
        Linkage::Shared => "libfloodgate.so",
    };
    let path = deps_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: cargo did not build the {linkage:?} library",
        path.display()
    );
    path
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Compiles `source` (in tests/c) against the committed header and links it.
fn build(source: &str, language: Language, linkage: Linkage) -> PathBuf {
    let (compiler, standard_flags): (String, &[&str]) = match language {
        Language::C => (
            std::env::var("CC").unwrap_or_else(|_| "cc".into()),
            &["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"],
        ),
        Language::Cpp => (
            std::env::var("CXX").unwrap_or_else(|_| "c++".into()),
            &["-std=c++17", "-Wall", "-Wextra", "-pedantic", "-Werror"],
        ),
    };
    let out_dir = deps_dir().join("c_abi");
    std::fs::create_dir_all(&out_dir).expect("create the C build directory");
    let binary = out_dir.join(format!("{}-{linkage:?}", source.replace('.', "_")));
    let library = library(linkage);
    let mut command = Command::new(compiler);
    command
        .args(standard_flags)
        .args(["-O1", "-g", "-pthread"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .arg(crate_dir().join("tests/c").join(source))
        .arg("-o")
        .arg(&binary);
    match linkage {
        Linkage::Static => {
            command.arg(&library).args(STATIC_LINK_LIBS);
        }
        Linkage::Shared => {
            let dir = library.parent().expect("library directory");
            command
                .arg("-L")
                .arg(dir)
                .arg("-lfloodgate")
                .arg(format!("-Wl,-rpath,{}", dir.display()));
        }
    }
    run(&mut command);
    binary
}

fn valgrind_wanted() -> bool {
    if std::env::var_os("FLOODGATE_SKIP_VALGRIND").is_some() {
        eprintln!("FLOODGATE_SKIP_VALGRIND is set: not running valgrind");
        return false;
    }
    true
}

/// Builds `source`, runs it at `scale`, then under memcheck at `valgrind_scale`.
fn prove(source: &str, language: Language, linkage: Linkage, scale: &str, valgrind_scale: &str) {
    let binary = build(source, language, linkage);
    let output = run(Command::new(&binary).arg(scale));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok"));
    if valgrind_wanted() {
        run(Command::new("valgrind")
            .args([
                "--quiet",
                "--error-exitcode=1",
                "--leak-check=full",
                "--show-leak-kinds=all",
                "--errors-for-leak-kinds=all",
            ])
            .arg(&binary)
            .arg(valgrind_scale));
    }
}

#[test]
fn c_api_static() {
    prove("api_test.c", Language::C, Linkage::Static, "1", "1");
}

#[test]
fn c_api_shared() {
    prove("api_test.c", Language::C, Linkage::Shared, "1", "1");
}

#[test]
fn c_stress_static() {
    prove("stress_test.c", Language::C, Linkage::Static, "100", "10");
}

#[test]
fn c_stress_shared() {
    prove("stress_test.c", Language::C, Linkage::Shared, "100", "10");
}

#[test]
fn cpp_api_static() {
    prove("api_test.cpp", Language::Cpp, Linkage::Static, "20", "2");
}

#[test]
fn cpp_api_shared() {
    prove("api_test.cpp", Language::Cpp, Linkage::Shared, "20", "2");
}
