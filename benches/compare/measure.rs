//! What is read from the servers' processes (CPU time and resident memory from `/proc`) and how
//! samples are summarised.

use std::time::Duration;

/// Linux `CLK_TCK` (`getconf CLK_TCK`); 100 on every mainstream Linux configuration.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// After a run, time for the last acknowledgements to be processed before the CPU is read.
pub(crate) const SETTLE: Duration = Duration::from_millis(200);

/// CPU seconds (user + system, all threads) a process has used so far.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|err| format!("/proc/{pid}/stat: {err}"))?;
    // After the `(comm)`, which may hold spaces: field 3 (state) is index 0, so utime (14) is index
    // 11 and stime (15) index 12.
    let after_comm = stat
        .rfind(')')
        .map(|close| &stat[close + 1..])
        .ok_or_else(|| format!("/proc/{pid}/stat: no command name"))?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: field {} unreadable", index + 3))
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / CLOCK_TICKS_PER_SEC)
}

/// Resident memory of a process, bytes.
pub(crate) fn resident_bytes(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|err| format!("/proc/{pid}/status: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

/// The value at quantile `q` (nearest rank) of sorted samples.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted samples.
pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}
