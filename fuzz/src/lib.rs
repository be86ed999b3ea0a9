//! What the fuzz targets and the seed corpus share: JSON parsed as the gateway parses it, the table of
//! REST bodies, the MessagePack round trip, the ratchet script format, and node keys and a session pair
//! set up identically on every run, so that a crash found with any of them reproduces.

pub mod json;
pub mod msgpack;
pub mod records;
pub mod rest;
pub mod script;
pub mod sessions;
