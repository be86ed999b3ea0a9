//! The scenario file exactly as written, before any value is checked. serde refuses unknown fields
//! and wrong types here (toml names the line); everything else is checked while turning these into
//! the validated types, which know each field's TOML path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::GroupSizeDistribution;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    pub(crate) name: Option<String>,
    pub(crate) seed: u64,
    pub(crate) duration: String,
    pub(crate) nodes: Nodes,
    pub(crate) users: Users,
    pub(crate) conversations: Conversations,
    pub(crate) traffic: Traffic,
    #[serde(default)]
    pub(crate) network: Network,
    /// Kept as TOML values and decoded one by one into [`Fault`], so an error inside a fault names its
    /// index (`faults[2]`), which serde's tagged-enum errors cannot.
    #[serde(default)]
    pub(crate) faults: Vec<toml::Value>,
}

// Counts are read as i64 so that a negative or huge value reaches validation, whose message names the
// field, instead of failing inside serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nodes {
    pub(crate) count: i64,
    pub(crate) names: Option<Vec<String>>,
    pub(crate) bootstrap: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Users {
    pub(crate) per_node: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Range {
    pub(crate) min: i64,
    pub(crate) max: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Conversations {
    pub(crate) dms: i64,
    pub(crate) groups: i64,
    pub(crate) group_size: Option<Range>,
    pub(crate) group_size_distribution: Option<GroupSizeDistribution>,
    pub(crate) zipf_exponent: Option<f64>,
    pub(crate) cross_node_fraction: Option<f64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SizeDistribution {
    Uniform,
    Lognormal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Traffic {
    pub(crate) rate_per_user: f64,
    pub(crate) size: Option<Range>,
    pub(crate) size_distribution: Option<SizeDistribution>,
    pub(crate) size_median: Option<i64>,
    pub(crate) size_sigma: Option<f64>,
    pub(crate) encryption: Option<bool>,
    pub(crate) start_after: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Network {
    pub(crate) latency: Option<String>,
    pub(crate) jitter: Option<String>,
    pub(crate) bandwidth: Option<String>,
    pub(crate) loss: Option<f64>,
    pub(crate) regions: Option<Vec<Region>>,
    pub(crate) region_latency: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Region {
    pub(crate) name: String,
    pub(crate) nodes: Vec<String>,
}

/// One `[[faults]]` entry. `between` (two names or `"*"`) and `bootstrap` (an index or a name) take two
/// shapes; they stay TOML values so that a wrong shape is reported with the field's path.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Fault {
    Crash {
        at: String,
        node: String,
        restart_after: Option<String>,
    },
    Partition {
        at: String,
        sides: Vec<Vec<String>>,
        heal_after: Option<String>,
    },
    Link {
        at: String,
        between: toml::Value,
        latency: Option<String>,
        jitter: Option<String>,
        loss: Option<f64>,
        restore_after: Option<String>,
    },
    BootstrapDown {
        at: String,
        bootstrap: toml::Value,
        restore_after: Option<String>,
    },
    Flood {
        at: String,
        node: String,
        target: String,
        rate: f64,
        #[serde(rename = "for")]
        lasting: String,
    },
    Forge {
        at: String,
        node: String,
        target: String,
        count: i64,
    },
}
