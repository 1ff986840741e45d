//! Compiles `proto/overlay.proto` into Rust with protox (a protobuf compiler written in Rust),
//! so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/overlay.proto");
    let descriptors = protox::compile(["proto/overlay.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // `bytes` fields as `Bytes`: encoded record batches pass through relays and into
        // chunk answers by reference count, not by copy.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
