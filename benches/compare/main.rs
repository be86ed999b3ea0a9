//! Parley against ejabberd, side by side on this machine: one command starts a fresh Parley node and a
//! fresh ejabberd (installed from Debian's packages if absent), runs the same workload against both,
//! interleaved and repeated, and prints one table with the two servers' ratio per row.
//!
//! The workload (`pairs`): U users in U/2 pairs, one connection per user; each sender sends M messages
//! of 100 ciphertext bytes with at most W in flight end to end (sent but not yet seen on the partner's
//! connection), and the partner acknowledges each one (`message:delivered` / a XEP-0184 receipt).
//! Parley sends as `POST /v1/messages` and receives on `/v1/ws`; ejabberd speaks XMPP over a plain
//! socket. Server CPU is the server process's user + system time over the run (`/proc/<pid>/stat`);
//! memory is its resident set (`VmRSS`). Before the rows each server registers the same number of
//! accounts (the registration rate and memory) and then holds one idle authenticated connection per
//! account (memory per connection).
//!
//! Run with `cargo bench --bench compare`. Settings, from the environment:
//! - `PARLEY_COMPARE_ROWS`: rows as `U/M/W`, comma-separated (default `20/200/1,20/200/8,100/50/8,20/5000/8`)
//! - `PARLEY_COMPARE_UNLOADED`: the unloaded-latency row (default `4/500/1`)
//! - `PARLEY_COMPARE_REPEATS`: how often each row runs on each server (default 3; medians are reported)
//! - `PARLEY_COMPARE_SERVERS`: which servers, in table order (default `parley,ejabberd`); `baseline` is
//!   another build of parley, named by `PARLEY_COMPARE_BASELINE`, for before/after figures from one run
//! - `PARLEY_COMPARE_ACCOUNTS`: accounts registered, and idle connections held (default 2000)
//! - `PARLEY_COMPARE_TIMEOUT_SECS`: bound on one run (default 300)
//! - `PARLEY_COMPARE_GROUP`: Parley only, a group row as `members/M/W`: one sender into a GROUP whose
//!   other members all acknowledge each message (default `200/100/8`; empty skips it), reported as
//!   server CPU per delivered copy
//! - `PARLEY_COMPARE_FEDERATION`: Parley only, a row as `U/M/W` run across two federated nodes and on
//!   one, interleaved, for what the hop adds, for each Parley build among the servers (default
//!   `4/500/1`; empty skips it) (`federation`)
//! - `PARLEY_COMPARE_HELD_SOCKETS`: Parley only, how many idle authenticated sockets to hold at once
//!   over those accounts, from several loopback addresses (default 0: skipped), for the memory of a
//!   hundred thousand sockets
//! - `PARLEY_COMPARE_CACHE_MB`: caps the page cache of every Parley node's store (default: the node's)
//! - `PARLEY_COMPARE_GROWTH`: Parley only, instead of the tables: store sizes in messages,
//!   comma-separated (e.g. `1000,10000,100000,1000000,10000000`); the store is filled to each in turn
//!   and `PARLEY_COMPARE_GROWTH_ROW` (default `20/200/8`) measured there (`growth`), on the first
//!   Parley build among `PARLEY_COMPARE_SERVERS`; with `PARLEY_COMPARE_GROWTH_FROM=<data dir>` the
//!   store of an earlier run (which it then writes to) is taken to hold the first stage already
//!
//! Besides the tables it draws CPU per message and p99 per row for each server into
//! `target/compare.svg`.

#[allow(dead_code)] // shared with benches/load, which uses all of it
#[path = "../load/api.rs"]
mod api;
mod contenders;
mod ejabberd;
mod federation;
mod group;
mod growth;
mod measure;
mod pairs;
mod parley;
mod plot;
mod report;
mod xmpp;
mod xmpp_workload;

use std::time::Duration;

use crate::contenders::{Contender, Kind};
use crate::report::{Memory, Sample};

/// A workload row: users, messages per sender, window.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) users: usize,
    pub(crate) messages: u32,
    pub(crate) window: usize,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {} / {}", self.users, self.messages, self.window)
    }
}

impl std::str::FromStr for Row {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('/').map(str::trim).collect();
        let [users, messages, window] = parts[..] else {
            return Err(format!("{text:?}: a row is U/M/W"));
        };
        let number = |part: &str| part.parse::<u64>().map_err(|err| format!("{text:?}: {part:?}: {err}"));
        let row = Row {
            users: number(users)? as usize,
            messages: u32::try_from(number(messages)?).map_err(|err| format!("{text:?}: {err}"))?,
            window: number(window)? as usize,
        };
        if row.users < 2 || !row.users.is_multiple_of(2) || row.messages == 0 || row.window == 0 {
            return Err(format!("{text:?}: U must be even and at least 2, M and W at least 1"));
        }
        Ok(row)
    }
}

struct Settings {
    rows: Vec<Row>,
    unloaded: Row,
    repeats: usize,
    kinds: Vec<Kind>,
    accounts: usize,
    timeout: Duration,
    held_sockets: usize,
    group: Option<Row>,
    federation: Option<Row>,
    store_cache_mb: Option<u64>,
    growth: Option<growth::Growth>,
}

impl Settings {
    /// The largest U of all rows, the unloaded one included.
    fn most_users(&self) -> usize {
        self.rows
            .iter()
            .chain([&self.unloaded])
            .map(|row| row.users)
            .max()
            .unwrap_or(self.unloaded.users)
    }
}

fn setting<T: std::str::FromStr>(name: &str, default: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    let text = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    text.parse().map_err(|err| format!("{name}={text:?}: {err}"))
}

/// A row named by `name`, `default` when unset, none when set empty.
fn optional_row(name: &str, default: &str) -> Result<Option<Row>, String> {
    match std::env::var(name).as_deref() {
        Ok("") => Ok(None),
        Ok(shape) => shape.parse().map(Some).map_err(|err| format!("{name}: {err}")),
        Err(_) => default.parse().map(Some),
    }
}

fn settings() -> Result<Settings, String> {
    let list = |name: &str, default: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_else(|_| default.to_owned())
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| item.trim().to_owned())
            .collect()
    };
    let rows = list("PARLEY_COMPARE_ROWS", "20/200/1,20/200/8,100/50/8,20/5000/8")
        .iter()
        .map(|row| row.parse())
        .collect::<Result<Vec<Row>, String>>()?;
    let kinds = list("PARLEY_COMPARE_SERVERS", "parley,ejabberd")
        .iter()
        .map(|kind| kind.parse())
        .collect::<Result<Vec<Kind>, String>>()?;
    let store_cache_mb = match std::env::var("PARLEY_COMPARE_CACHE_MB") {
        Ok(_) => Some(setting("PARLEY_COMPARE_CACHE_MB", "")?),
        Err(_) => None,
    };
    let repeats = setting("PARLEY_COMPARE_REPEATS", "3")?;
    let timeout = Duration::from_secs(setting("PARLEY_COMPARE_TIMEOUT_SECS", "300")?);
    let growth = match std::env::var("PARLEY_COMPARE_GROWTH") {
        Ok(stages) if !stages.trim().is_empty() => Some(growth::Growth {
            stages: list("PARLEY_COMPARE_GROWTH", "")
                .iter()
                .map(|stage| {
                    stage
                        .parse()
                        .map_err(|err| format!("PARLEY_COMPARE_GROWTH: {stage:?}: {err}"))
                })
                .collect::<Result<Vec<u64>, String>>()?,
            row: setting("PARLEY_COMPARE_GROWTH_ROW", "20/200/8")?,
            repeats,
            store_cache_mb,
            timeout,
            kind: kinds
                .iter()
                .copied()
                .find(|kind| !matches!(kind, Kind::Ejabberd))
                .unwrap_or(Kind::Parley),
            from: std::env::var_os("PARLEY_COMPARE_GROWTH_FROM").map(std::path::PathBuf::from),
        }),
        _ => None,
    };
    let settings = Settings {
        rows,
        unloaded: setting("PARLEY_COMPARE_UNLOADED", "4/500/1")?,
        repeats,
        kinds,
        accounts: setting("PARLEY_COMPARE_ACCOUNTS", "2000")?,
        timeout,
        held_sockets: setting("PARLEY_COMPARE_HELD_SOCKETS", "0")?,
        group: optional_row("PARLEY_COMPARE_GROUP", "200/100/8")?,
        federation: optional_row("PARLEY_COMPARE_FEDERATION", "4/500/1")?,
        store_cache_mb,
        growth,
    };
    let most_users = settings.most_users();
    if most_users > settings.accounts {
        return Err(format!(
            "PARLEY_COMPARE_ACCOUNTS ({}) is below the largest row's U ({most_users})",
            settings.accounts
        ));
    }
    if settings.kinds.is_empty() || settings.repeats == 0 {
        return Err("nothing to run: PARLEY_COMPARE_SERVERS is empty or PARLEY_COMPARE_REPEATS is 0".into());
    }
    Ok(settings)
}

fn main() {
    crate::contenders::raise_file_limit();
    let outcome = settings().and_then(|settings| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| format!("runtime: {err}"))?
            .block_on(compare(settings))
    });
    if let Err(err) = outcome {
        eprintln!("compare: {err}");
        std::process::exit(1);
    }
}

async fn compare(mut settings: Settings) -> Result<(), String> {
    if let Some(growth) = settings.growth.take() {
        return growth::run(growth).await;
    }
    let dir = tempfile::tempdir().map_err(|err| format!("temp dir: {err}"))?;
    let mut contenders = Vec::new();
    let mut memory = Vec::new();
    for &kind in &settings.kinds {
        let mut contender = Contender::start(kind, &dir.path().join(kind.name()), settings.store_cache_mb)?;
        memory.push(measure_memory(&mut contender, settings.accounts).await?);
        if settings.held_sockets > 0
            && let Some((grown, took)) = contender.hold_many(settings.held_sockets).await?
        {
            println!(
                "{}: {} idle authenticated sockets opened in {:.1} s added {:.0} MB resident ({:.1} kB each)",
                contender.name(),
                settings.held_sockets,
                took.as_secs_f64(),
                grown as f64 / 1e6,
                grown as f64 / settings.held_sockets as f64 / 1e3
            );
        }
        contenders.push(contender);
    }
    let most_users = settings.most_users();
    for contender in &mut contenders {
        contender.prepare(most_users).await?;
    }

    let rows: Vec<Row> = settings.rows.iter().copied().chain([settings.unloaded]).collect();
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); contenders.len()]; rows.len()];
    let mut run_id = 0u32;
    for repeat in 0..settings.repeats {
        for (r, row) in rows.iter().enumerate() {
            // Alternate who goes first, so neither always runs on a machine the other just warmed.
            for turn in 0..contenders.len() {
                let c = (turn + repeat) % contenders.len();
                run_id += 1;
                let contender = &contenders[c];
                eprintln!(
                    "[{}/{}] {row} on {} ...",
                    repeat + 1,
                    settings.repeats,
                    contender.name()
                );
                let sample = contender.run(*row, run_id, settings.timeout).await?;
                eprintln!("    {sample}");
                samples[r][c].push(sample);
            }
        }
    }
    if let Some(shape) = settings.group {
        for contender in &contenders {
            if let Some(sample) = contender.group(shape, settings.timeout).await? {
                println!(
                    "{}: group of {} members, {} messages, W = {}: {:.0} msgs/s, {:.3} ms server CPU per delivered copy, \
                     p99 until the last member {:.1} ms",
                    contender.name(),
                    sample.members,
                    sample.messages,
                    shape.window,
                    sample.per_second,
                    sample.cpu_ms_per_copy,
                    sample.p99_ms
                );
            }
        }
    }
    let names: Vec<&str> = contenders.iter().map(Contender::name).collect();
    let figure = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare.svg");
    report::print(&names, &rows, &samples, &memory, settings.repeats, &figure)?;
    let builds: Vec<_> = settings.kinds.iter().filter_map(|kind| kind.parley_binary()).collect();
    match settings.federation {
        Some(row) if !builds.is_empty() => {
            let federation = federation::Federation {
                row,
                repeats: settings.repeats,
                timeout: settings.timeout,
            };
            federation::run(federation, &builds).await
        }
        _ => Ok(()),
    }
}

/// Registration rate and memory, then memory per idle authenticated connection.
async fn measure_memory(contender: &mut Contender, accounts: usize) -> Result<Memory, String> {
    let settle = Duration::from_secs(2);
    tokio::time::sleep(settle).await;
    let pid = contender.pid();
    let idle = measure::resident_bytes(pid)?;
    eprintln!("[{}] registering {accounts} accounts ...", contender.name());
    let started = std::time::Instant::now();
    contender.register(accounts).await?;
    let registration_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(settle).await;
    let registered = measure::resident_bytes(pid)?;
    eprintln!(
        "[{}] {accounts} registrations in {registration_seconds:.1} s; connecting one idle session per account ...",
        contender.name()
    );
    let held = contender.hold_idle(accounts).await?;
    tokio::time::sleep(settle).await;
    let connected = measure::resident_bytes(pid)?;
    drop(held);
    tokio::time::sleep(settle).await;
    Ok(Memory {
        accounts,
        idle,
        registered,
        connected,
        registrations_per_second: accounts as f64 / registration_seconds,
    })
}
