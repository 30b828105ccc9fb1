//! Free loopback ports for end-to-end tests. Ports are taken below the
//! kernel's ephemeral range (32768 and up on Linux), so that a socket bound
//! to port 0 by a concurrent test cannot be handed the same port.

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};

static NEXT: AtomicU16 = AtomicU16::new(0);

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// `count` consecutive ports free for UDP and TCP right now; the first is
/// returned. They are claimed in one step, so a concurrent test is never
/// handed one of them.
pub fn free_ports(count: u16) -> u16 {
    // Spread processes apart so that parallel test binaries rarely probe
    // the same ports.
    let base = (std::process::id() % 800) as u16 * 20;
    let free = |port: u16| {
        UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
    };
    for _ in 0..2000 {
        let offset = NEXT.fetch_add(count, Ordering::Relaxed);
        let first = 12_000 + (base.wrapping_add(offset)) % 20_000;
        if u32::from(first) + u32::from(count) > 32_000 {
            continue;
        }
        if (first..first + count).all(free) {
            return first;
        }
    }
    panic!("no {count} free loopback ports found in 12000..32000");
}
