//! Link emulation in Compose: `netem.sh`, the entrypoint of every `parley` container, shapes the
//! container's egress to each other `parley` container with `tc` as `links.tsv` says, then drops root and
//! starts `parley`. As in the in-process engine, each side delays what it sends, so a link's latency is
//! one-way and applies in both directions.
//!
//! The tree on the container's interface: an `htb` root whose default class 1:1 is left alone (the
//! driver, DNS), class 1:2 with `netem loss 100%` (where partitions send traffic, see `faults.sh`), and
//! per destination a class with the link's bandwidth and a `netem` qdisc with its latency, jitter and
//! loss, chosen by a `u32` filter on the destination address.

use std::fmt::Write as _;

use super::deployment::{Deployment, Host};
use super::yaml::{millis, percent};
use crate::scenario::Link;

/// Packets a netem qdisc holds: its default of 1000 would drop packets on a long fat link (1 Gbit/s at
/// 160 ms is about 13,000 full-size packets in flight).
pub(super) const NETEM_LIMIT: u32 = 100_000;

/// The `netem` parameters of a link, as `tc qdisc … netem` takes them.
pub(super) fn netem_args(link: &Link) -> String {
    let mut args = format!("delay {}", millis(link.latency));
    if !link.jitter.is_zero() {
        let _ = write!(args, " {}", millis(link.jitter));
    }
    if link.loss > 0.0 {
        let _ = write!(args, " loss {}%", percent(link.loss));
    }
    let _ = write!(args, " limit {NETEM_LIMIT}");
    args
}

/// A link's bandwidth, as `tc` takes a rate.
pub(super) fn rate(link: &Link) -> String {
    format!("{}bit", link.bandwidth_bytes_per_sec.saturating_mul(8))
}

/// `links.tsv`: one line per ordered pair of hosts, the shaping its sender applies.
pub(super) fn links_tsv(deployment: &Deployment) -> String {
    let mut out = format!(
        "# The links of {}, read by netem.sh in each container at start.\n\
         # One line per sender and destination: the sender's service, the tc class (hex) traffic to the\n\
         # destination goes through, the destination's address, its rate (htb), and the netem parameters.\n\
         # from\tclass\tto_ip\trate\tnetem\n",
        deployment.title()
    );
    for from in &deployment.hosts {
        for to in deployment.hosts.iter().filter(|to| to.name != from.name) {
            let link = deployment.link(from, to);
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}",
                from.name,
                to.class,
                to.ip,
                rate(&link),
                netem_args(&link)
            );
        }
    }
    out
}

/// The shell commands that set traffic to `to` from the container they run in to `link`.
pub(super) fn set_link(to: &Host, link: &Link) -> String {
    format!(
        "tc qdisc replace dev \"$dev\" parent 1:{class} handle {class}: netem {}",
        netem_args(link),
        class = to.class
    )
}

/// `netem.sh`, the same for every container: it finds its own lines in `links.tsv` by service name.
pub(super) fn netem_sh() -> String {
    r#"#!/bin/sh
# netem.sh SERVICE PARLEY-ARGUMENTS...
# The entrypoint of every parley container of this export: shapes this container's traffic to each other
# parley container as links.tsv says (SERVICE picks the lines), then starts `parley PARLEY-ARGUMENTS...`
# as the unprivileged user `parley`. It runs as root with the NET_ADMIN capability, for tc; both are
# gone once parley starts.
set -eu
self=$1
shift
dev=${PARLEY_NETEM_DEV:-eth0}
links=${PARLEY_LINKS:-/netem/links.tsv}

# A restarted container starts from a clean slate.
tc qdisc del dev "$dev" root 2>/dev/null || true
# Unclassified traffic (the driver, DNS) takes class 1:1, unshaped.
tc qdisc add dev "$dev" root handle 1: htb default 1
tc class add dev "$dev" parent 1: classid 1:1 htb rate 100gbit
# Class 1:2 drops everything: faults.sh sends traffic there to cut a partition.
tc class add dev "$dev" parent 1: classid 1:2 htb rate 100gbit
tc qdisc add dev "$dev" parent 1:2 handle 2: netem loss 100%
# One class per destination: the link's rate, then its delay, jitter and loss.
grep -v '^#' "$links" | while IFS="$(printf '\t')" read -r from class ip rate netem; do
    [ "$from" = "$self" ] || continue
    tc class add dev "$dev" parent 1: classid "1:$class" htb rate "$rate"
    # $netem holds several words (delay 20ms 5ms loss 0.1% ...), so it is left unquoted.
    # shellcheck disable=SC2086
    tc qdisc add dev "$dev" parent "1:$class" handle "$class:" netem $netem
    tc filter add dev "$dev" parent 1: protocol ip prio 2 u32 match ip dst "$ip/32" flowid "1:$class"
done
echo "netem.sh: $self's links are shaped on $dev"

# A bootstrap node's key arrives as a root-only file; parley needs its own copy.
if [ -n "${PARLEY_KEY_SOURCE:-}" ]; then
    install -o parley -g parley -m 0600 "$PARLEY_KEY_SOURCE" /data/bootstrap.key
fi

# Dropping root to uid 10001 clears every capability, NET_ADMIN included.
export HOME=/data
exec setpriv --reuid=10001 --regid=10001 --clear-groups --no-new-privs -- parley "$@"
"#
    .to_owned()
}
