//! Each toxic on real sockets on 127.0.0.1: a client, the proxy, and an upstream server.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::super::tests::{echo, proxy_to};
use super::super::{Delay, Proxy};
use super::{slices, Toxic};

/// A proxy to `upstream` with `toxic` in force towards it.
fn poisoned(upstream: SocketAddr, toxic: Toxic) -> Proxy {
    let proxy = proxy_to(upstream, Delay::default());
    proxy.toxics().add(Ipv4Addr::LOCALHOST, toxic);
    proxy
}

async fn client_of(proxy: &Proxy) -> TcpStream {
    TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
        .await
        .unwrap()
}

/// An upstream that reads one connection to its end: the reads it saw, in order.
async fn sink() -> (SocketAddr, oneshot::Receiver<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tell, told) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut reads = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            reads.push(buf[..n].to_vec());
        }
        let _ = tell.send(reads);
    });
    (address, told)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn limit_data_passes_exactly_its_bytes_then_closes_the_connection() {
    let (upstream, told) = sink().await;
    let proxy = poisoned(upstream, Toxic::LimitData { bytes: 1000 });
    let mut client = client_of(&proxy).await;
    let sent = pattern(10_000);
    // The proxy may close before everything is written: a failed write is what closing means.
    let _ = client.write_all(&sent).await;
    let reads = tokio::time::timeout(Duration::from_secs(5), told)
        .await
        .expect("upstream closed")
        .unwrap();
    assert_eq!(
        reads.concat(),
        sent[..1000],
        "the first 1000 bytes, then a close"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
        .await
        .expect("the client's side is closed too");
    assert!(rest.is_empty(), "{closed:?}");
}

#[tokio::test]
async fn reset_peer_resets_an_open_connection_after_its_timeout() {
    let proxy = proxy_to(echo().await, Delay::default());
    let mut client = client_of(&proxy).await;
    let mut byte = [0u8; 1];
    client.write_all(b"a").await.unwrap();
    client.read_exact(&mut byte).await.unwrap();
    proxy
        .toxics()
        .add(Ipv4Addr::LOCALHOST, Toxic::ResetPeer { timeout_ms: 200 });
    let started = Instant::now();
    client.write_all(b"b").await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut byte))
        .await
        .expect("the connection ended");
    let err = read.expect_err("no echo: the data was dropped, then the connection reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[tokio::test]
async fn slicer_delivers_every_byte_intact_in_pieces_spaced_by_its_delay() {
    let (upstream, told) = sink().await;
    let toxic = Toxic::Slicer {
        average_size: 50,
        size_variation: 20,
        delay_us: 2_000,
    };
    let proxy = poisoned(upstream, toxic);
    let mut client = client_of(&proxy).await;
    let sent = pattern(3_000);
    let started = Instant::now();
    client.write_all(&sent).await.unwrap();
    client.shutdown().await.unwrap();
    let reads = tokio::time::timeout(Duration::from_secs(10), told)
        .await
        .expect("upstream got the close")
        .unwrap();
    // At least 3000 / 70 = 43 pieces, 2 ms apart.
    assert!(started.elapsed() >= Duration::from_millis(80));
    assert!(reads.len() >= 10, "{} reads", reads.len());
    assert_eq!(reads.concat(), sent);
}

#[test]
fn slices_cover_the_chunk_in_pieces_of_the_average_give_or_take_the_variation() {
    let toxic = Toxic::Slicer {
        average_size: 10,
        size_variation: 4,
        delay_us: 0,
    };
    for len in [1usize, 9, 10, 100, 16_384] {
        let pieces = slices(len, toxic);
        assert_eq!(pieces.first().map(|p| p.start), Some(0));
        assert_eq!(pieces.last().map(|p| p.end), Some(len));
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "contiguous");
        }
        let (last, whole) = pieces.split_last().unwrap();
        assert!(whole.iter().all(|p| (6..=14).contains(&p.len())));
        assert!((1..=14).contains(&last.len()));
    }
}

#[tokio::test]
async fn timeout_stops_the_data_then_closes_the_connection() {
    let proxy = poisoned(echo().await, Toxic::Timeout { timeout_ms: 400 });
    let mut client = client_of(&proxy).await;
    let started = Instant::now();
    client.write_all(b"x").await.unwrap();
    let mut back = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut back))
        .await
        .expect("closed within 5 s");
    assert!(back.is_empty(), "nothing got through: {back:?} {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(390));
}

#[tokio::test]
async fn timeout_zero_holds_the_connection_until_removed_then_closes_it() {
    let proxy = proxy_to(echo().await, Delay::default());
    let id = proxy
        .toxics()
        .add(Ipv4Addr::LOCALHOST, Toxic::Timeout { timeout_ms: 0 });
    let mut client = client_of(&proxy).await;
    client.write_all(b"x").await.unwrap();
    let mut byte = [0u8; 1];
    let held = tokio::time::timeout(Duration::from_millis(500), client.read(&mut byte)).await;
    assert!(held.is_err(), "neither data nor a close: {held:?}");
    proxy.toxics().remove(Ipv4Addr::LOCALHOST, id);
    assert_eq!(proxy.toxics().current(Ipv4Addr::LOCALHOST), None);
    let mut back = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut back))
        .await
        .expect("closed once the toxic went");
    assert!(back.is_empty(), "{read:?}");
}

#[tokio::test]
async fn slow_close_holds_the_close_for_its_delay() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"bye").await.unwrap();
    });
    let proxy = poisoned(upstream, Toxic::SlowClose { delay_ms: 400 });
    let mut client = client_of(&proxy).await;
    let started = Instant::now();
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut back))
        .await
        .expect("closed within 5 s")
        .unwrap();
    assert_eq!(back, b"bye");
    assert!(started.elapsed() >= Duration::from_millis(390));
}

#[tokio::test]
async fn a_removed_toxic_leaves_new_connections_as_before() {
    let proxy = proxy_to(echo().await, Delay::default());
    let id = proxy
        .toxics()
        .add(Ipv4Addr::LOCALHOST, Toxic::ResetPeer { timeout_ms: 0 });
    proxy.toxics().remove(Ipv4Addr::LOCALHOST, id);
    let mut client = client_of(&proxy).await;
    let mut byte = [0u8; 1];
    client.write_all(b"z").await.unwrap();
    client.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"z");
}
