//! The process's own figures, read from `/proc/self`: CPU seconds, resident memory, open file
//! descriptors (the standard `process_*` metrics).

/// CPU time, resident memory and open descriptors of this process; `None` where `/proc` does
/// not tell (another operating system).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ProcessFigures {
    /// User and system CPU seconds since the process started.
    pub(super) cpu_seconds: Option<f64>,
    /// Resident set size in bytes.
    pub(super) resident_bytes: Option<u64>,
    /// Open file descriptors.
    pub(super) open_fds: Option<u64>,
}

/// Reads the figures now.
pub(super) fn read() -> ProcessFigures {
    ProcessFigures {
        cpu_seconds: std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| cpu_seconds(&stat, ticks_per_second())),
        resident_bytes: std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|pages| pages * page_size()),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as u64),
    }
}

/// utime + stime (fields 14 and 15 of `/proc/self/stat`, counted after the command name,
/// which may hold spaces) in seconds.
fn cpu_seconds(stat: &str, ticks: f64) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat = "42 (overlay node) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0";
        assert_eq!(cpu_seconds(stat, 100.0), Some(4.0));
        assert_eq!(cpu_seconds("garbage", 100.0), None);
    }

    #[test]
    fn this_process_has_cpu_memory_and_descriptors() {
        let figures = read();
        assert!(figures.resident_bytes.is_some_and(|b| b > 0));
        assert!(figures.open_fds.is_some_and(|n| n >= 3));
        assert!(figures.cpu_seconds.is_some());
    }
}
