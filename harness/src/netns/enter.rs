//! Sockets inside a host namespace from the harness's own process: a short-lived thread joins
//! the namespace (`setns`), opens the socket and ends; the socket stays in that namespace
//! wherever it is used afterwards. The harness's other threads never change namespace.

use std::io;
use std::os::fd::AsRawFd;

/// Where `ip netns add` keeps the namespaces it names.
const NETNS_DIR: &str = "/var/run/netns";

/// Runs `open` on a fresh thread inside namespace `namespace` and returns what it opened.
pub fn in_namespace<T, F>(namespace: &str, open: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let path = format!("{NETNS_DIR}/{namespace}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path)
            .map_err(|err| io::Error::new(err.kind(), format!("{path}: {err}")))?;
        // SAFETY: setns(2) on a namespace file descriptor just opened; it changes only this
        // thread, which ends after `open`.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        open()
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
