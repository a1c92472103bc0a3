//! What `kubelab up` needs from the host, installed when missing.
//!
//! | tool | Debian package | for |
//! |---|---|---|
//! | `busybox` | `busybox-static` | the built-in images (chapter 02) |
//! | `ip` | `iproute2` | node network namespaces (chapter 02/03) |
//! | `nft` | `nftables` | the service proxy's rules (chapter 03) |
//!
//! As root on a machine with `apt-get`, missing packages are installed
//! (the README's "one command" promise); otherwise kubelab says what to
//! install and stops.

use std::path::Path;
use std::process::Command;

use kubelab_runtime::RuntimeKind;

fn has(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

/// The packages `runtime` (with chapter-03 services or not) still lacks.
pub fn missing_packages(runtime: RuntimeKind, services: bool) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if runtime != RuntimeKind::Fake && !has("busybox") {
        missing.push("busybox-static");
    }
    if runtime == RuntimeKind::Linux {
        if !has("ip") {
            missing.push("iproute2");
        }
        if services && !has("nft") {
            missing.push("nftables");
        }
    }
    missing
}

/// Installs what is missing (root + apt-get), or explains what to do.
pub fn ensure(runtime: RuntimeKind, services: bool) -> anyhow::Result<()> {
    let missing = missing_packages(runtime, services);
    if missing.is_empty() {
        return Ok(());
    }
    let root = kubelab_runtime::RuntimeKind::detect() == RuntimeKind::Linux;
    anyhow::ensure!(
        root && has("apt-get"),
        "kubelab needs these packages: {} (on Debian: sudo apt-get install {})",
        missing.join(", "),
        missing.join(" ")
    );
    eprintln!("kubelab: installing {} (apt-get)", missing.join(" "));
    let ok = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    anyhow::ensure!(
        ok(&install) || (ok(&["update", "-qq"]) && ok(&install)),
        "apt-get install {} failed",
        missing.join(" ")
    );
    Ok(())
}
