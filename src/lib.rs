//! Overlay's shared core: what every node and the harness agree on.
//!
//! - [`proto`]: the generated wire protocol (`proto/overlay.proto`).
//! - [`config`]: the cluster config (the original JSON format), validated.
//! - [`date`]: `YYYYMMDD` day keys.
//! - [`dataset`]: the on-disk layout of a dataset (day folders, hourly CSV files).
//! - [`record`]: the record schema.
//! - [`event`]: node lifecycle events (hook kinds, events-file lines).
//! - [`span`]: the lines of a node's span file (`--trace-file`).
//! - [`fault`]: fault kinds, the `client` target and their limits (node and harness).
//! - [`batch`]: columnar record batches and their JSON rendering.
//! - [`query`]: the typed query model parsed from the original JSON params.
//! - [`aggregate`]: aggregate partials and their merge.
//! - [`partition`]: the partition map — which node holds which days.
//! - [`logging`]: the log format of the node and the harness (text or JSON, colour on a terminal only).

pub mod aggregate;
pub mod batch;
pub mod config;
pub mod dataset;
pub mod date;
pub mod event;
pub mod fault;
pub mod logging;
pub mod partition;
pub mod query;
pub mod record;
pub mod span;

/// The generated protocol: messages, the `OverlayNode` and `OverlayPeer` services.
pub mod proto {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("_");

    /// The encoded `FileDescriptorSet` of `proto/overlay.proto` (every service and message),
    /// for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/overlay_descriptor.bin"));
}
