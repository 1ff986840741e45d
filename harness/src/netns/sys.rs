//! The system side of virtual hosts: the privilege and tool check done before anything starts,
//! and running `ip` (iproute2) with errors that name the command and its output.
//!
//! The standard tools are used through [`std::process::Command`] rather than a netlink crate:
//! every step is then a command a user can read in an error and run by hand, `ip netns`
//! already handles the bind-mounted namespace files that `ip netns exec` needs, and nothing new
//! is linked into the harness.

use std::process::Command;

/// The `ip` tool from iproute2.
pub const IP: &str = "ip";

/// The `tc` tool from iproute2.
pub const TC: &str = "tc";

/// The `nft` tool from nftables.
pub const NFT: &str = "nft";

/// Why virtual hosts cannot be set up here.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// Not root, or tools missing: nothing was started.
    #[error("virtual hosts (network namespaces) cannot run here: {0}")]
    Missing(String),
    /// A command failed.
    #[error("`{command}` failed: {output}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed (or why it could not run).
        output: String,
    },
}

/// Checks, before anything is created, that this process may create network namespaces
/// (effective user root) and that `ip`, `tc` (link shaping) and `nft` (loss, partitions, the
/// delay proxy's redirect) are installed; names everything missing and how to get it.
pub fn preflight() -> Result<(), SysError> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (CAP_NET_ADMIN): run the harness as root, e.g. with sudo".to_string());
    }
    for (tool, arg, package) in [
        (IP, "-V", "iproute2"),
        (TC, "-V", "iproute2"),
        (NFT, "--version", "nftables"),
    ] {
        if Command::new(tool).arg(arg).output().is_err() {
            missing.push(format!(
                "the `{tool}` command: install {package} (apt-get install {package}, dnf install {package})"
            ));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SysError::Missing(missing.join("; ")))
    }
}

/// Runs `ip ARGS`, failing with the command line and its error output.
pub fn ip(args: &[&str]) -> Result<String, SysError> {
    run(IP, args)
}

/// Runs `tool ARGS`; its standard output on success.
pub fn run(tool: &str, args: &[&str]) -> Result<String, SysError> {
    let command = format!("{tool} {}", args.join(" "));
    let output = Command::new(tool)
        .args(args)
        .output()
        .map_err(|err| SysError::Failed {
            command: command.clone(),
            output: err.to_string(),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(SysError::Failed {
            command,
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// The network namespaces whose names start with `prefix`.
pub fn namespaces_with(prefix: &str) -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// The links of the main namespace whose names start with `prefix`.
pub fn links_with(prefix: &str) -> Vec<String> {
    ip(&["-o", "link", "show"])
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .filter(|name| name.starts_with(prefix))
        .collect()
}
