//! The C ABI, proven from C and C++.
//!
//! - The committed `include/floodgate.h` must equal the header build.rs just
//!   generated (`FLOODGATE_BLESS_HEADER=1 cargo test --features capi --test c_abi` rewrites it).
//! - Each program in tests/c is compiled with warnings as errors, linked once
//!   against the static and once against the shared library, run, and run again
//!   under valgrind memcheck, which must report no error and no leak of any kind.
//!
//! The libraries are the `libfloodgate.a` and `libfloodgate.so` that the C
//! build command (README.md, "The C library") makes: the test runs it first,
//! in this test's target directory and dev profile, so they are always as
//! fresh as the test (cargo keeps them apart from the rlib this test links,
//! and rebuilds neither when nothing changed).
//! valgrind is required; `FLOODGATE_SKIP_VALGRIND=1` skips it explicitly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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
         review and run `FLOODGATE_BLESS_HEADER=1 cargo test --features capi --test c_abi` to update it"
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

/// The directory cargo put this test binary in (the C programs go below it).
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .expect("test binary has a directory")
        .to_path_buf()
}

/// The static and the shared library, built once per test run by the C
/// build command, as cargo reports them.
fn libraries() -> &'static [PathBuf] {
    static LIBRARIES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    LIBRARIES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = run(Command::new(cargo)
            .arg("rustc")
            .arg("--manifest-path")
            .arg(crate_dir().join("Cargo.toml"))
            .args([
                "--lib",
                "--features",
                "capi",
                "--crate-type",
                "cdylib,staticlib",
            ])
            .args(["--quiet", "--message-format=json"]));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact" && message["target"]["name"] == "floodgate"
            })
            .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|name| name.as_str().map(PathBuf::from))
            .collect()
    })
}

fn library(linkage: Linkage) -> PathBuf {
    let name = match linkage {
        Linkage::Static => "libfloodgate.a",
        Linkage::Shared => "libfloodgate.so",
    };
    let path = libraries()
        .iter()
        .find(|path| path.file_name().is_some_and(|file| file == name))
        .unwrap_or_else(|| panic!("the C build made no {name}: {:?}", libraries()))
        .clone();
    assert!(path.is_file(), "{} is missing", path.display());
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
    build_from(&crate_dir().join("tests/c").join(source), language, linkage)
}

fn build_from(source_path: &Path, language: Language, linkage: Linkage) -> PathBuf {
    let source = source_path.file_name().expect("a file").to_string_lossy();
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
        .arg(source_path)
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
                // DT_RPATH, not RUNPATH: it outranks the LD_LIBRARY_PATH cargo
                // gives tests, which also lists target/debug, where a
                // `cargo build` may have left an older libfloodgate.so.
                .arg("-Wl,--disable-new-dtags")
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
    memcheck(Command::new(&binary).arg(valgrind_scale));
}

/// Runs `program` under valgrind memcheck: any error or leak fails.
fn memcheck(program: &Command) {
    if !valgrind_wanted() {
        return;
    }
    run(Command::new("valgrind")
        .args([
            "--quiet",
            "--error-exitcode=1",
            "--leak-check=full",
            "--show-leak-kinds=all",
            "--errors-for-leak-kinds=all",
        ])
        .arg(program.get_program())
        .args(program.get_args()));
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

/// Shared mode as a pre-forked C server uses it: workers that each open one
/// segment stay within one limit together (tests/c/shared_test.c).
#[test]
fn c_shared_static() {
    prove("shared_test.c", Language::C, Linkage::Static, "500", "300");
}

#[test]
fn c_shared_shared() {
    prove("shared_test.c", Language::C, Linkage::Shared, "500", "300");
}

#[test]
fn cpp_api_static() {
    prove("api_test.cpp", Language::Cpp, Linkage::Static, "20", "2");
}

#[test]
fn cpp_api_shared() {
    prove("api_test.cpp", Language::Cpp, Linkage::Shared, "20", "2");
}

/// examples/c builds with the flags its Makefile uses and enforces each layer
/// of its policies (keyed limiters per IP, per token, per token on critical
/// endpoints), reporting the refusing layer's scope.
#[test]
fn license_api_example() {
    let source = crate_dir().join("examples/c/license_api.c");
    let binary = build_from(&source, Language::C, Linkage::Static);
    let stdout = String::from_utf8(run(&mut Command::new(&binary)).stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 44, "{stdout}");
    let status_of = |at: &str| {
        let line = lines
            .iter()
            .find(|line| line.trim_start().starts_with(&format!("{at} ms ")))
            .unwrap_or_else(|| panic!("no request at {at} ms in\n{stdout}"));
        line.split_whitespace()
            .nth(5)
            .expect("status column")
            .to_string()
    };
    // Three validations fit the critical burst; the fourth is refused by it.
    assert_eq!(status_of("200"), "200");
    assert!(stdout.contains("300 ms  203.0.113.7     tok_alice /v1/licenses/validate        429  limit=token:critical retry-after=10s"));
    // Ordinary endpoints stay open to the same token until its own limit.
    assert_eq!(status_of("900"), "200");
    assert!(stdout.contains("950 ms  203.0.113.7     tok_alice /v1/products                 429  limit=token retry-after=1s"));
    // One address rotating tokens hits the per-IP limit (burst 20).
    assert_eq!(status_of("1390"), "200");
    assert!(stdout
        .contains("1400 ms  198.51.100.23   tok_b3    /v1/licenses                 429  limit=ip"));
    // Ten seconds refill one critical unit (6 per minute), not two.
    assert_eq!(status_of("10500"), "200");
    assert_eq!(status_of("10600"), "429");
    // The last refusal's 429, rendered by fg_headers_render from the verdict.
    assert!(stdout.contains(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 10\r\nX-RateLimit-Limit: 3\r\n\
         X-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: 2026-04-20T12:34:29Z\r\n\
         X-RateLimit-Scope: token:critical\r\n\r\n"
    ));
    memcheck(&Command::new(&binary));
}
