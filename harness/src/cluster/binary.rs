//! Finding (and, under cargo, building) the `overlay-node` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The `overlay-node` binary beside the running executable. When the harness runs under
/// `cargo run` (cargo sets `CARGO`), the node is built first with the same profile, so
/// `cargo run --release --bin harness -- run ...` on a fresh clone needs nothing else.
/// With `build_under_cargo`, a harness started by `cargo run` first builds the node with the same
/// profile (tests pass false: cargo already built every binary before running them).
pub fn node_binary(build_under_cargo: bool) -> anyhow::Result<PathBuf> {
    if let Ok(explicit) = std::env::var("OVERLAY_NODE_BIN") {
        return Ok(PathBuf::from(explicit));
    }
    let exe = std::env::current_exe().context("cannot locate the harness executable")?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test executables live in target/<profile>/deps; binaries one level up.
    let profile_dir = if dir.ends_with("deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    };
    let candidate = profile_dir.join(format!("overlay-node{}", std::env::consts::EXE_SUFFIX));
    if let (true, Ok(cargo)) = (build_under_cargo, std::env::var("CARGO")) {
        build_with_cargo(&cargo, &profile_dir)?;
    }
    if !candidate.is_file() {
        bail!(
            "node binary {} not found; build it with `cargo build --release -p overlay-node` (or set OVERLAY_NODE_BIN)",
            candidate.display()
        );
    }
    Ok(candidate)
}

fn build_with_cargo(cargo: &str, profile_dir: &Path) -> anyhow::Result<()> {
    let release = profile_dir
        .file_name()
        .is_some_and(|name| name == "release");
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        "overlay-node",
        "--bin",
        "overlay-node",
    ]);
    if release {
        command.arg("--release");
    }
    let status = command
        .status()
        .context("cannot run cargo to build overlay-node")?;
    if !status.success() {
        bail!("building overlay-node failed ({status})");
    }
    Ok(())
}
