//! Local clusters: the config a run starts, finding the node binary, launching and stopping
//! node processes, and picking free ports.

pub mod binary;
pub mod config;
pub mod launcher;
pub mod ports;
pub mod state;
