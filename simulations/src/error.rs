use std::path::PathBuf;

/// Everything that can go wrong reading or running a scenario. A scenario is hand-written, so each error
/// points at the place to fix: a TOML path for a bad value, the file for an unreadable one, the line for
/// bad TOML.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value parsed but makes no sense (out of bounds, names a node that does not exist, overlaps
    /// another fault…). `field` is its TOML path, such as `faults[2].node`.
    #[error("{field}: {reason}")]
    Scenario {
        /// The TOML path of the offending value, such as `network.regions[1].nodes[0]`.
        field: String,
        /// What is wrong with it and, where it helps, what it was.
        reason: String,
    },
    /// The scenario file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The text is not TOML, or its shape does not match the format (an unknown or misspelt field, a
    /// missing one, a wrong type). toml's message quotes the line and the key.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// The engine could not build or run the simulated deployment (a node would not open, a user
    /// could not register); the message says which and why.
    #[error("simulation: {0}")]
    Engine(String),
    /// The scenario cannot be exported to the chosen target as it is (a name the target refuses), or a
    /// bootstrap key could not be made; the message says which.
    #[error("export: {0}")]
    Export(String),
    /// The nodes a driver was pointed at do not match the scenario (a node without a URL, a URL for a
    /// node the scenario does not have, a URL that is not `http://` or `https://`).
    #[error("node {node}: {reason}")]
    Deployment {
        /// The scenario node (or the name given for one).
        node: String,
        /// What is wrong.
        reason: String,
    },
}

/// Builds the error for `field`, so validation reads as one line per rule.
pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Scenario {
        field: field.into(),
        reason: reason.into(),
    }
}
