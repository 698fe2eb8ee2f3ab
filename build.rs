//! With the `capi` feature, generates the C header from src/ffi with cbindgen
//! into `$OUT_DIR/floodgate.h`; without it (what a Rust dependent builds), it
//! does nothing, and cbindgen is not even compiled (an optional build
//! dependency of that feature).
//!
//! The committed `include/floodgate.h` is what C programs include; the test
//! `tests/c_abi.rs` fails when it differs from this freshly generated one (and
//! rewrites it when run with `FLOODGATE_BLESS_HEADER=1`). Writing only to
//! OUT_DIR keeps builds from touching the source tree.

fn main() {
    // Without this line cargo would rerun the script on any change in the package.
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    header::generate();
}

#[cfg(feature = "capi")]
mod header {
    use std::path::PathBuf;

    pub fn generate() {
        let crate_dir =
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
        let ffi_root = crate_dir.join("src/ffi/mod.rs");
        let config_path = crate_dir.join("cbindgen.toml");
        println!("cargo:rerun-if-changed=src/ffi");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        let header = out_dir.join("floodgate.h");
        // A header that fails to generate must not break the library build;
        // the header test reports it instead, with cbindgen's reason.
        let generated = cbindgen::Config::from_file(&config_path)
            .map_err(|error| error.to_string())
            .and_then(|config| {
                cbindgen::Builder::new()
                    .with_config(config)
                    .with_src(&ffi_root)
                    .generate()
                    .map_err(|error| error.to_string())
            });
        match generated {
            Ok(bindings) => {
                bindings.write_to_file(&header);
            }
            Err(reason) => {
                println!("cargo:warning=cbindgen could not generate floodgate.h: {reason}");
                std::fs::write(&header, format!("#error \"cbindgen failed: {reason}\"\n"))
                    .expect("OUT_DIR is writable");
            }
        }
    }
}
