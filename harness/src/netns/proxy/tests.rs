use std::time::Instant as StdInstant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// An echo server on loopback; its address.
pub(super) async fn echo() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    address
}

/// A proxy relaying to `upstream` with `delay` towards 127.0.0.1.
pub(super) fn proxy_to(upstream: SocketAddr, delay: Delay) -> Proxy {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let delays = Delays::default();
    delays.set(Ipv4Addr::LOCALHOST, delay);
    Proxy::start(listener, Upstream::Fixed(upstream), delays).unwrap()
}

#[tokio::test]
async fn each_direction_is_delayed_and_bytes_arrive_in_order() {
    let upstream = echo().await;
    let proxy = proxy_to(
        upstream,
        Delay {
            latency: Duration::from_millis(100),
            jitter: Duration::from_millis(20),
        },
    );
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
        .await
        .unwrap();
    let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let started = StdInstant::now();
    let (mut r, mut w) = client.split();
    let write = async {
        for piece in sent.chunks(1000) {
            w.write_all(piece).await.unwrap();
        }
        w.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let read = r.read_to_end(&mut back);
    let ((), read) = tokio::join!(write, read);
    read.unwrap();
    // Out and back: at least two latencies less two jitters (80 ms each way).
    assert!(started.elapsed() >= Duration::from_millis(160));
    assert_eq!(back, sent, "the echo came back whole and in order");
}

#[tokio::test]
async fn a_delay_change_applies_to_an_open_connection() {
    let upstream = echo().await;
    let proxy = proxy_to(upstream, Delay::default());
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    client.write_all(b"x").await.unwrap();
    client.read_exact(&mut byte).await.unwrap();
    proxy.delays().set(
        Ipv4Addr::LOCALHOST,
        Delay {
            latency: Duration::from_millis(150),
            jitter: Duration::ZERO,
        },
    );
    let started = StdInstant::now();
    client.write_all(b"y").await.unwrap();
    client.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"y");
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[tokio::test]
async fn a_sender_faster_than_the_link_is_held_back_not_buffered_without_bound() {
    // An upstream that accepts but never reads: the proxy may hold its bounded queue and the
    // socket buffers, then the sender must block.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let kept = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(kept);
    });
    let proxy = proxy_to(upstream, Delay::default());
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
        .await
        .unwrap();
    let piece = vec![7u8; 64 * 1024];
    let mut written = 0usize;
    let limit = 256 * 1024 * 1024;
    while written < limit {
        match tokio::time::timeout(Duration::from_secs(2), client.write_all(&piece)).await {
            Ok(result) => {
                result.unwrap();
                written += piece.len();
            }
            Err(_) => break,
        }
    }
    // Queue (1 MiB) plus the kernel's socket buffers on three sockets: far below the limit.
    assert!(
        written < 64 * 1024 * 1024,
        "wrote {written} bytes unblocked"
    );
}

#[test]
fn jitter_stays_within_its_bounds_and_never_goes_negative() {
    let delay = Delay {
        latency: Duration::from_millis(1),
        jitter: Duration::from_millis(5),
    };
    for _ in 0..1000 {
        assert!(delay.draw() <= Duration::from_millis(6));
    }
}
