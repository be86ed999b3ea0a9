//! One run's figures, and the table of medians with the servers' ratios.

use crate::Row;
use crate::measure::{median, quantile};

/// One run of one row on one server.
#[derive(Clone)]
pub(crate) struct Sample {
    pub(crate) messages: usize,
    pub(crate) per_second: f64,
    /// Server CPU seconds per 1,000 messages.
    pub(crate) cpu_per_thousand: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

impl Sample {
    pub(crate) fn new(mut latencies: Vec<f64>, wall: std::time::Duration, cpu_seconds: f64) -> Self {
        latencies.sort_by(f64::total_cmp);
        let messages = latencies.len();
        Self {
            messages,
            per_second: messages as f64 / wall.as_secs_f64(),
            cpu_per_thousand: cpu_seconds * 1000.0 / messages.max(1) as f64,
            p50: quantile(&latencies, 0.5),
            p99: quantile(&latencies, 0.99),
        }
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} msgs, {:.0} msgs/s, {:.3} CPU s per 1,000, p50 {:.2} ms, p99 {:.2} ms",
            self.messages, self.per_second, self.cpu_per_thousand, self.p50, self.p99
        )
    }
}

/// What registering accounts and holding idle connections cost one server.
pub(crate) struct Memory {
    pub(crate) accounts: usize,
    /// Resident bytes: fresh, after the registrations, with every account connected.
    pub(crate) idle: u64,
    pub(crate) registered: u64,
    pub(crate) connected: u64,
    pub(crate) registrations_per_second: f64,
}

const MB: f64 = 1e6;

/// Medians over the repeats; `samples[row][server]`. The figure goes to `figure`.
pub(crate) fn print(
    names: &[&str],
    rows: &[Row],
    samples: &[Vec<Vec<Sample>>],
    memory: &[Memory],
    repeats: usize,
    figure: &std::path::Path,
) -> Result<(), String> {
    let medians = |cell: &[Sample], pick: fn(&Sample) -> f64| median(&cell.iter().map(pick).collect::<Vec<_>>());
    let joined = |values: Vec<String>| values.join(" / ");
    // The first server against each of the others.
    let ratio = |values: &[f64]| match values {
        [first, others @ ..] if !others.is_empty() => {
            let ratios: Vec<String> = others.iter().map(|other| format!("{:.2}x", first / other)).collect();
            format!(" ({})", ratios.join(", "))
        }
        _ => String::new(),
    };
    println!();
    println!(
        "Medians of {repeats} interleaved runs per row; ratios are {}.",
        names.join(" / ")
    );
    println!();
    let per_server = |label: &str| joined(names.iter().map(|name| format!("{name} {label}")).collect());
    println!(
        "| U / M / W | {} | server CPU s per 1,000 msgs, {} | p50 ms, {} | p99 ms, {} |",
        per_server("msgs/s"),
        names.join(" / "),
        names.join(" / "),
        names.join(" / ")
    );
    println!("|---|---|---|---|---|");
    let (mut cpu_figure, mut p99_figure) = (Vec::new(), Vec::new());
    for (row, cells) in rows.iter().zip(samples) {
        let column = |pick: fn(&Sample) -> f64| -> Vec<f64> { cells.iter().map(|cell| medians(cell, pick)).collect() };
        let throughput = column(|s| s.per_second);
        let cpu = column(|s| s.cpu_per_thousand);
        let p50 = column(|s| s.p50);
        let p99 = column(|s| s.p99);
        cpu_figure.push(cpu.clone());
        p99_figure.push(p99.clone());
        let format =
            |values: &[f64], digits: usize| joined(values.iter().map(|value| format!("{value:.digits$}")).collect());
        println!(
            "| {row} | {}{} | {}{} | {}{} | {}{} |",
            format(&throughput, 0),
            ratio(&throughput),
            format(&cpu, 3),
            ratio(&cpu),
            format(&p50, 2),
            ratio(&p50),
            format(&p99, 2),
            ratio(&p99)
        );
    }
    println!();
    println!("| server | accounts | registrations/s | RSS fresh MB | after registering MB | per idle connection kB |");
    println!("|---|---|---|---|---|---|");
    for (name, memory) in names.iter().zip(memory) {
        let per_connection = memory.connected.saturating_sub(memory.registered) as f64 / memory.accounts as f64 / 1e3;
        println!(
            "| {name} | {} | {:.0} | {:.1} | {:.1} | {per_connection:.1} |",
            memory.accounts,
            memory.registrations_per_second,
            memory.idle as f64 / MB,
            memory.registered as f64 / MB,
        );
    }
    crate::plot::write(figure, names, rows, &cpu_figure, &p99_figure)?;
    println!();
    println!("Figure: {}", figure.display());
    Ok(())
}
