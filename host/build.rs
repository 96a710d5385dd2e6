//! Embeds the built-in plugins (built beforehand by `make plugins` into
//! `<target>/wasm32-wasip2/plugin/`) and their sha256 digests, so start-up does no hashing.

use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::{env, fs};

/// (plugin name, crate artifact name).
const BUILTINS: &[(&str, &str)] = &[
    ("bookkeeper", "ecs_plugin_bookkeeper"),
    ("controller", "ecs_plugin_controller"),
    ("node", "ecs_plugin_node"),
    ("tier2-nfs", "ecs_plugin_tier2_nfs"),
    ("tier2-filestore", "ecs_plugin_tier2_filestore"),
    ("tier2-hdfs", "ecs_plugin_tier2_hdfs"),
    ("tier2-ecs", "ecs_plugin_tier2_ecs"),
];

fn main() {
    pack_relative_relocations();
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { manifest.join("..").join(p) })
        .unwrap_or_else(|| manifest.join("../target"));
    let wasm_dir =
        env::var_os("ECS_PLUGIN_WASM_DIR").map(PathBuf::from).unwrap_or_else(|| target.join("wasm32-wasip2/plugin"));
    println!("cargo:rerun-if-env-changed=ECS_PLUGIN_WASM_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo:rustc-env=ECS_PLUGIN_WASM_DIR={}", wasm_dir.display());

    // The components' bytes go in one block of their own, aligned to and padded to 64 KiB (the
    // kernel's fault-around window, in which one touched page maps its neighbours too): next to
    // data read at every start (their digests were), their first 64-128 KiB each were resident for
    // nothing (744 KiB of the seven, measured). They are read only to compile one, on a cold start.
    let mut fields = String::new();
    let mut values = String::new();
    let mut table = String::new();
    let mut missing = Vec::new();
    for (name, artifact) in BUILTINS {
        let path = wasm_dir.join(format!("{artifact}.wasm"));
        println!("cargo:rerun-if-changed={}", path.display());
        match fs::read(&path) {
            Ok(bytes) => {
                let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                fields.push_str(&format!("    {artifact}: [u8; {}],\n", bytes.len()));
                values.push_str(&format!("    {artifact}: *include_bytes!({:?}),\n", path.display().to_string()));
                table.push_str(&format!("    ({name:?}, {digest:?}, &COMPONENTS.{artifact}),\n"));
            }
            Err(_) => missing.push(path.display().to_string()),
        }
    }
    let code = format!(
        "#[repr(C, align(65536))]\nstruct Components {{\n{fields}}}\n\n\
         static COMPONENTS: Components = Components {{\n{values}}};\n\n\
         /// Built-in plugins: (file name, sha256, wasm).\n\
         pub static BUILTIN_PLUGINS: &[(&str, &str, &[u8])] = &[\n{table}];\n"
    );
    // Without them the binary still builds (so `cargo check` works on a fresh clone), but refuses to
    // start until they are embedded: `make build` builds the plugins first.
    for path in &missing {
        println!("cargo:warning=built-in plugin not embedded (run `make plugins` first): {path}");
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("builtin_plugins.rs");
    fs::write(out, code).unwrap();
}

/// The operator binary is position-independent, and its ~40,000 relative relocations took ~1 MiB of
/// its resident set as `.rela.dyn` (24 bytes each); packed as DT_RELR (glibc 2.36+, GNU ld 2.38+ or
/// lld) they take a few KiB. Only the binaries: tests and dependencies link as before.
fn pack_relative_relocations() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && target_env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
