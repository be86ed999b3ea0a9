//! The links between nodes: one flat link everywhere, or regions whose pairs have their own latency.

use std::collections::BTreeMap;
use std::time::Duration;

use super::nodes::{Nodes, check_name};
use super::{raw, units};
use crate::error::{Error, invalid};

/// What a message crossing from one node to another meets, as an engine's link model needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay.
    pub latency: Duration,
    /// Largest random deviation added to or taken from `latency`, for each packet.
    pub jitter: Duration,
    /// Capacity of the link in bytes per second.
    pub bandwidth_bytes_per_sec: u64,
    /// Probability, 0..=1, that a packet is lost.
    pub loss: f64,
}

/// A group of nodes close to each other (a data centre, a continent), so latency is set per pair of
/// regions rather than per pair of nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The region's name, as the latency matrix uses it.
    pub name: String,
    /// Names of the nodes in it, user-hosting and bootstrap.
    pub nodes: Vec<String>,
}

/// The network between nodes, resolved so an engine asks for any pair's [`Link`] without knowing
/// whether the scenario is flat or regional.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    base: Link,
    regions: Vec<Region>,
    region_of: BTreeMap<String, usize>,
    /// Latency between regions `i` and `j`, filled both ways.
    between_regions: Vec<Vec<Duration>>,
}

impl Network {
    pub(crate) fn validate(raw: raw::Network, nodes: &Nodes) -> Result<Self, Error> {
        let latency = units::optional_duration("network.latency", raw.latency.as_deref())?;
        let jitter = units::optional_duration("network.jitter", raw.jitter.as_deref())?;
        let bandwidth = raw
            .bandwidth
            .as_deref()
            .map(|text| units::bandwidth("network.bandwidth", text))
            .transpose()?;
        let loss = raw.loss.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&loss) {
            return Err(invalid("network.loss", format!("must be 0..=1, got {loss}")));
        }
        let base = Link {
            latency: latency.unwrap_or(Duration::from_millis(10)),
            jitter: jitter.unwrap_or_default(),
            bandwidth_bytes_per_sec: bandwidth.unwrap_or(100_000_000 / 8),
            loss,
        };
        let Some(raw_regions) = raw.regions else {
            if raw.region_latency.is_some() {
                return Err(invalid("network.region_latency", "needs [[network.regions]]"));
            }
            return Ok(Self {
                base,
                regions: Vec::new(),
                region_of: BTreeMap::new(),
                between_regions: Vec::new(),
            });
        };
        let (regions, region_of) = regions(raw_regions, nodes)?;
        let between_regions = matrix(raw.region_latency.unwrap_or_default(), &regions, base.latency)?;
        Ok(Self {
            base,
            regions,
            region_of,
            between_regions,
        })
    }

    /// The link from `a` to `b`, by node name. Within a region (or in a flat network) it is the flat
    /// `network` link; between regions, the same with the matrix's latency. A name in no region (not
    /// a node of the scenario) gets the flat link.
    pub fn link(&self, a: &str, b: &str) -> Link {
        match (self.region_of.get(a), self.region_of.get(b)) {
            (Some(&i), Some(&j)) => Link {
                latency: self.between_regions[i][j],
                ..self.base
            },
            _ => self.base,
        }
    }

    /// The regions, empty for a flat network; engines that place nodes by region read them.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
}

fn regions(raw: Vec<raw::Region>, nodes: &Nodes) -> Result<(Vec<Region>, BTreeMap<String, usize>), Error> {
    if raw.is_empty() {
        return Err(invalid("network.regions", "must list at least one region when given"));
    }
    let mut region_of = BTreeMap::new();
    let mut names = BTreeMap::new();
    for (r, region) in raw.iter().enumerate() {
        let field = format!("network.regions[{r}].name");
        check_name(&field, &region.name)?;
        if names.insert(region.name.as_str(), r).is_some() {
            return Err(invalid(field, format!("{:?} is named twice", region.name)));
        }
        if region.nodes.is_empty() {
            return Err(invalid(
                format!("network.regions[{r}].nodes"),
                "must list at least one node",
            ));
        }
        for (n, node) in region.nodes.iter().enumerate() {
            let field = format!("network.regions[{r}].nodes[{n}]");
            nodes.resolve(&field, node)?;
            if let Some(other) = region_of.insert(node.clone(), r) {
                return Err(invalid(
                    field,
                    format!("{node:?} is already in region {:?}", raw[other].name),
                ));
            }
        }
    }
    if region_of.len() < nodes.total() {
        let missing = nodes
            .names()
            .iter()
            .chain(nodes.bootstrap())
            .find(|name| !region_of.contains_key(name.as_str()))
            .map_or_else(String::new, |name| format!(": {name:?} is in none"));
        return Err(invalid(
            "network.regions",
            format!("every node, bootstrap nodes too, must be in a region{missing}"),
        ));
    }
    let regions = raw
        .into_iter()
        .map(|region| Region {
            name: region.name,
            nodes: region.nodes,
        })
        .collect();
    Ok((regions, region_of))
}

/// Reads `[network.region_latency]`, where `a.b = "80ms"` sets both directions between regions `a`
/// and `b`; each pair of distinct regions is given exactly once.
fn matrix(
    raw: BTreeMap<String, BTreeMap<String, String>>,
    regions: &[Region],
    intra: Duration,
) -> Result<Vec<Vec<Duration>>, Error> {
    let index = |field: &str, name: &str| {
        regions
            .iter()
            .position(|region| region.name == name)
            .ok_or_else(|| invalid(field, format!("no region named {name:?}")))
    };
    let mut given: Vec<Vec<Option<Duration>>> = vec![vec![None; regions.len()]; regions.len()];
    for (a, row) in &raw {
        let i = index(&format!("network.region_latency.{a}"), a)?;
        for (b, text) in row {
            let field = format!("network.region_latency.{a}.{b}");
            let j = index(&field, b)?;
            if i == j {
                return Err(invalid(field, "latency within a region is network.latency"));
            }
            if given[i][j].is_some() {
                return Err(invalid(
                    field,
                    format!("the pair is also given as network.region_latency.{b}.{a}"),
                ));
            }
            let latency = units::duration(&field, text)?;
            given[i][j] = Some(latency);
            given[j][i] = Some(latency);
        }
    }
    let mut matrix = vec![vec![intra; regions.len()]; regions.len()];
    for i in 0..regions.len() {
        for j in (i + 1)..regions.len() {
            let (a, b) = (&regions[i].name, &regions[j].name);
            let latency = given[i][j].ok_or_else(|| {
                invalid(
                    format!("network.region_latency.{a}.{b}"),
                    "missing: every pair of regions needs a latency",
                )
            })?;
            matrix[i][j] = latency;
            matrix[j][i] = latency;
        }
    }
    Ok(matrix)
}
