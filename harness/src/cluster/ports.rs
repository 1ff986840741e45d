//! Free loopback ports, outside the kernels' ephemeral ranges.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::bail;

/// Where free ports are looked for: below the kernels' ephemeral ranges (Linux 32768+, BSD and
/// macOS 49152+), so an outgoing connection of some other process cannot take a port between
/// the moment it is chosen here and the moment a node binds it.
const PORT_RANGE: std::ops::Range<u32> = 20_000..32_000;

/// Candidates handed out so far by this process; concurrent callers never get the same one.
static HANDED_OUT: AtomicU32 = AtomicU32::new(0);

/// `count` distinct free ports on 127.0.0.1, outside the ephemeral range.
pub fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let span = PORT_RANGE.end - PORT_RANGE.start;
    // Different processes (test binaries, parallel harness runs) start at different places.
    let offset = std::process::id().wrapping_mul(7919) % span;
    let mut ports = Vec::with_capacity(count);
    for _ in 0..span {
        if ports.len() == count {
            break;
        }
        let n = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        let port = (PORT_RANGE.start + (offset + n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    if ports.len() < count {
        bail!(
            "cannot find {count} free ports on 127.0.0.1 between {} and {}",
            PORT_RANGE.start,
            PORT_RANGE.end
        );
    }
    Ok(ports)
}
