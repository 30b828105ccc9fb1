//! Free loopback ports for end-to-end tests. Ports are taken below the
//! kernel's ephemeral range (32768 and up on Linux), so that a socket bound
//! to port 0 by a concurrent test cannot be handed the same port.

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};

static NEXT: AtomicU16 = AtomicU16::new(0);

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    // Spread processes apart so that parallel test binaries rarely probe
    // the same ports.
    let base = 12_000 + (std::process::id() % 800) as u16 * 20;
    for _ in 0..2000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 12_000 + (base - 12_000 + offset) % 20_000;
        let udp = UdpSocket::bind(("127.0.0.1", port));
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
    panic!("no free loopback port found in 12000..32000");
}
