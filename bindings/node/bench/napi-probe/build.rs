fn main() {
    // Node resolves the N-API symbols when it loads the addon; napi-build
    // tells the linker to leave them undefined.
    napi_build::setup();
}
