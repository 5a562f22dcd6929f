//! Generates the app's context and one permission per app command, so the
//! capability files can allow exactly our commands and nothing else.

include!("src/command_list.rs");

/// The command names of the list, as Tauri's manifest takes them.
macro_rules! command_names {
    ($($module:ident :: $command:ident),* $(,)?) => {
        &[$(stringify!($command)),*]
    };
}

fn main() {
    // tauri-build names the files it watches, which turns off Cargo's
    // "any file changed" default: the list must be named too.
    println!("cargo:rerun-if-changed=src/command_list.rs");
    // The target folder this binary is built in (OUT_DIR is
    // <target>/<profile>/build/<pkg>-<hash>/out): a binary still inside it
    // is a development build, wherever CARGO_TARGET_DIR points.
    if let Some(target) = std::env::var_os("OUT_DIR")
        .map(std::path::PathBuf::from)
        .and_then(|out| out.ancestors().nth(4).map(std::path::Path::to_path_buf))
    {
        println!(
            "cargo:rustc-env=FERRY_BUILD_TARGET_DIR={}",
            target.display()
        );
    }
    let commands = tauri_build::AppManifest::new().commands(with_commands!(command_names));
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
