//! Who is simulated and how they talk: users per node, the conversations among them and the traffic
//! they send.

use std::time::Duration;

use serde::Deserialize;

use super::{raw, units};
use crate::error::{Error, invalid};

const MAX_USERS_PER_NODE: i64 = 100_000;
/// Most users in all; the plan lists each, so this bounds its memory.
const MAX_USERS: usize = 10_000_000;
/// Most DMs, and most groups; the plan lists each with its members.
const MAX_CONVERSATIONS: i64 = 1_000_000;
const MAX_GROUP_SIZE: i64 = 1_000;
/// Beyond this a Zipf law gives all the weight to the first few and the rest underflow.
const MAX_ZIPF_EXPONENT: f64 = 10.0;
const MAX_RATE_PER_USER: f64 = 1_000.0;
const MAX_MESSAGE_SIZE: i64 = 65_536;
/// Most messages a plan is expected to hold (users × rate × sending time); each is listed.
const MAX_EXPECTED_MESSAGES: f64 = 50_000_000.0;

/// Users live on user-hosting nodes, the same number on each, so load per node is set by one number.
#[derive(Debug, Clone, PartialEq)]
pub struct Users {
    /// Users on each user-hosting node.
    pub per_node: usize,
}

/// Inclusive bounds, for a group's size or a message's size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// The smallest allowed.
    pub min: usize,
    /// The largest allowed, at least `min`.
    pub max: usize,
}

/// How group sizes spread between their bounds: real group sizes are skewed, many small and few large,
/// which Zipf models; uniform spreads load evenly for capacity studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupSizeDistribution {
    /// Every size between the bounds equally likely.
    Uniform,
    /// Size `min + k - 1` has weight `1 / k^zipf_exponent`: the smallest groups are the commonest.
    Zipf,
}

/// How message sizes spread between their bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeDistribution {
    /// Every size between the bounds equally likely.
    Uniform,
    /// Log-normal around `median` bytes with shape `sigma`, clamped to the bounds: mostly short texts
    /// with a long tail of large ones, as chat traffic is.
    LogNormal {
        /// The median size in bytes.
        median: usize,
        /// The standard deviation of the size's logarithm; larger means a longer tail.
        sigma: f64,
    },
}

/// The conversations a plan creates, and how it picks their members.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    /// One-to-one conversations.
    pub dms: usize,
    /// Group conversations.
    pub groups: usize,
    /// Bounds on a group's member count, creator included.
    pub group_size: SizeRange,
    /// How group sizes spread between the bounds.
    pub group_size_distribution: GroupSizeDistribution,
    /// The exponent of every Zipf law in the plan: users' popularity (who is picked as a member or
    /// creator), conversations' popularity (where a user posts), and Zipf group sizes. 0 is uniform.
    pub zipf_exponent: f64,
    /// The fraction of DMs, and of groups, whose members span nodes, which is what exercises federation.
    pub cross_node_fraction: f64,
}

/// The messages users send.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Messages per second that each user in a conversation sends, as a Poisson process.
    pub rate_per_user: f64,
    /// Bounds on a message's plaintext size in bytes.
    pub size: SizeRange,
    /// How sizes spread between the bounds.
    pub size_distribution: SizeDistribution,
    /// Whether messages are end-to-end encrypted; off measures the network and nodes alone.
    pub encryption: bool,
    /// Time before the first message, for the nodes to find each other and users to register.
    pub start_after: Duration,
}

impl Users {
    pub(crate) fn validate(raw: raw::Users, nodes: usize) -> Result<Self, Error> {
        if !(1..=MAX_USERS_PER_NODE).contains(&raw.per_node) {
            return Err(invalid(
                "users.per_node",
                format!("must be 1..={MAX_USERS_PER_NODE}, got {}", raw.per_node),
            ));
        }
        let per_node = raw.per_node as usize;
        if per_node * nodes > MAX_USERS {
            return Err(invalid(
                "users.per_node",
                format!(
                    "nodes.count × users.per_node must be <= {MAX_USERS}, got {}",
                    per_node * nodes
                ),
            ));
        }
        Ok(Self { per_node })
    }
}

impl Conversations {
    pub(crate) fn validate(raw: raw::Conversations, nodes: usize, users: &Users) -> Result<Self, Error> {
        let dms = count("conversations.dms", raw.dms)?;
        let groups = count("conversations.groups", raw.groups)?;
        let group_size = match raw.group_size {
            None => SizeRange { min: 3, max: 8 },
            Some(range) => size_range("conversations.group_size", range, 3, MAX_GROUP_SIZE)?,
        };
        let zipf_exponent = raw.zipf_exponent.unwrap_or(1.0);
        if !(0.0..=MAX_ZIPF_EXPONENT).contains(&zipf_exponent) {
            return Err(invalid(
                "conversations.zipf_exponent",
                format!("must be 0..={MAX_ZIPF_EXPONENT}, got {zipf_exponent}"),
            ));
        }
        let cross_node_fraction = match raw.cross_node_fraction {
            None if nodes > 1 => 0.5,
            None => 0.0,
            Some(f) if !(0.0..=1.0).contains(&f) => {
                return Err(invalid(
                    "conversations.cross_node_fraction",
                    format!("must be 0..=1, got {f}"),
                ));
            }
            Some(f) if nodes == 1 && f > 0.0 => {
                return Err(invalid(
                    "conversations.cross_node_fraction",
                    format!("must be 0 with a single node (nodes.count = 1), got {f}"),
                ));
            }
            Some(f) => f,
        };
        let conversations = Self {
            dms,
            groups,
            group_size,
            group_size_distribution: raw.group_size_distribution.unwrap_or(GroupSizeDistribution::Uniform),
            zipf_exponent,
            cross_node_fraction,
        };
        conversations.check_room(nodes, users)?;
        Ok(conversations)
    }

    /// How many of `total` conversations of one kind span nodes: the fraction, rounded, so a plan hits
    /// it as closely as the counts allow.
    pub(crate) fn cross_node_count(&self, total: usize) -> usize {
        // Rounded and at most `total`, since the fraction is at most 1.
        (self.cross_node_fraction * total as f64).round() as usize
    }

    /// Refuses conversations that cannot be filled with distinct members: local ones draw from one
    /// node's users, cross-node ones from everyone.
    fn check_room(&self, nodes: usize, users: &Users) -> Result<(), Error> {
        let local_dms = self.dms - self.cross_node_count(self.dms);
        let local_groups = self.groups - self.cross_node_count(self.groups);
        if local_dms > 0 && users.per_node < 2 {
            return Err(invalid(
                "conversations.dms",
                "a local DM needs two users on one node but users.per_node is 1 (raise it or set cross_node_fraction = 1)",
            ));
        }
        if local_groups > 0 && self.group_size.max > users.per_node {
            return Err(invalid(
                "conversations.group_size.max",
                format!(
                    "a local group's members are all on one node, so it must be <= users.per_node ({}) unless cross_node_fraction = 1, got {}",
                    users.per_node, self.group_size.max
                ),
            ));
        }
        if self.groups > 0 && self.group_size.max > users.per_node * nodes {
            return Err(invalid(
                "conversations.group_size.max",
                format!(
                    "must be <= the number of users ({}), got {}",
                    users.per_node * nodes,
                    self.group_size.max
                ),
            ));
        }
        Ok(())
    }
}

impl Traffic {
    pub(crate) fn validate(raw: raw::Traffic, duration: Duration, users: usize) -> Result<Self, Error> {
        let rate = raw.rate_per_user;
        if !(rate > 0.0 && rate <= MAX_RATE_PER_USER) {
            return Err(invalid(
                "traffic.rate_per_user",
                format!("must be > 0 and <= {MAX_RATE_PER_USER}, got {rate}"),
            ));
        }
        let size = match raw.size {
            None => SizeRange { min: 32, max: 1024 },
            Some(range) => size_range("traffic.size", range, 1, MAX_MESSAGE_SIZE)?,
        };
        let size_distribution = match raw.size_distribution.unwrap_or(raw::SizeDistribution::Uniform) {
            raw::SizeDistribution::Uniform => {
                if raw.size_median.is_some() || raw.size_sigma.is_some() {
                    let field = if raw.size_median.is_some() {
                        "traffic.size_median"
                    } else {
                        "traffic.size_sigma"
                    };
                    return Err(invalid(field, "only applies to size_distribution = \"lognormal\""));
                }
                SizeDistribution::Uniform
            }
            raw::SizeDistribution::Lognormal => {
                let median = raw.size_median.ok_or_else(|| {
                    invalid(
                        "traffic.size_median",
                        "is required with size_distribution = \"lognormal\"",
                    )
                })?;
                if !(size.min as i64..=size.max as i64).contains(&median) {
                    return Err(invalid(
                        "traffic.size_median",
                        format!(
                            "must be within traffic.size ({}..={}), got {median}",
                            size.min, size.max
                        ),
                    ));
                }
                let sigma = raw.size_sigma.unwrap_or(1.0);
                if !(sigma > 0.0 && sigma <= 10.0) {
                    return Err(invalid(
                        "traffic.size_sigma",
                        format!("must be > 0 and <= 10, got {sigma}"),
                    ));
                }
                SizeDistribution::LogNormal {
                    median: median as usize,
                    sigma,
                }
            }
        };
        let start_after =
            units::optional_duration("traffic.start_after", raw.start_after.as_deref())?.unwrap_or_default();
        if start_after >= duration {
            return Err(invalid(
                "traffic.start_after",
                format!("must be before the end (duration = {duration:?}), got {start_after:?}"),
            ));
        }
        let expected = users as f64 * rate * (duration - start_after).as_secs_f64();
        if expected > MAX_EXPECTED_MESSAGES {
            return Err(invalid(
                "traffic.rate_per_user",
                format!(
                    "users × rate × sending time is about {expected:.0} messages, more than a plan holds ({MAX_EXPECTED_MESSAGES})"
                ),
            ));
        }
        Ok(Self {
            rate_per_user: rate,
            size,
            size_distribution,
            encryption: raw.encryption.unwrap_or(true),
            start_after,
        })
    }
}

fn count(field: &str, value: i64) -> Result<usize, Error> {
    if !(0..=MAX_CONVERSATIONS).contains(&value) {
        return Err(invalid(field, format!("must be 0..={MAX_CONVERSATIONS}, got {value}")));
    }
    Ok(value as usize)
}

fn size_range(field: &str, range: raw::Range, lowest: i64, highest: i64) -> Result<SizeRange, Error> {
    if !(lowest..=highest).contains(&range.min) {
        return Err(invalid(
            format!("{field}.min"),
            format!("must be {lowest}..={highest}, got {}", range.min),
        ));
    }
    if !(range.min..=highest).contains(&range.max) {
        return Err(invalid(
            format!("{field}.max"),
            format!("must be {}..={highest}, got {}", range.min, range.max),
        ));
    }
    Ok(SizeRange {
        min: range.min as usize,
        max: range.max as usize,
    })
}
