//! Compiles `proto/overlay.proto` into Rust with protox (a protobuf compiler written in Rust),
//! so building needs no system `protoc`, and writes the encoded descriptor set that the node's
//! gRPC server reflection serves.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/overlay.proto");
    let descriptors = protox::compile(["proto/overlay.proto"], ["proto"])?;
    // The encoded descriptor set, served by the node's gRPC reflection service.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("overlay_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // `bytes` fields as `Bytes`: encoded record batches pass through relays and into
        // chunk answers by reference count, not by copy.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
