//! Local clusters: finding the node binary, launching and stopping node processes, and
//! picking free ports for tests.

pub mod binary;
pub mod launcher;
pub mod ports;
pub mod state;
