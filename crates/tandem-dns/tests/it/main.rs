//! tandem-dns end to end on loopback: the zone server answering raw DNS
//! messages, `SipResolver` resolving through it, and `dig` checking it
//! from outside.

mod dig;
mod resolve;
mod server;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tandem_dns::{
    ResolverConfig, SipResolver, Transport, Zone, ZoneNode, ZoneServer, ZoneSpec, ZoneTransport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

/// The SIP domain served in every test.
const DOMAIN: &str = "pbx.example.test.";
/// The floating IP the zone serves. Served only: nothing is sent to it.
const FLOATING: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
/// How long a test waits for one DNS answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

fn node(name: &str, addrs: &[IpAddr], priority: u16, weight: u16) -> ZoneNode {
    ZoneNode {
        name: name.into(),
        addrs: addrs.to_vec(),
        priority,
        weight,
        healthy: true,
        since_ms: 0,
    }
}

/// Three nodes: a and b share priority 10, c is the backup at 20; b is
/// dual-stack. The addresses are only served, never contacted.
fn spec() -> ZoneSpec {
    let v4 = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    ZoneSpec {
        domain: DOMAIN.into(),
        ttl_secs: 5,
        transports: vec![
            ZoneTransport {
                transport: Transport::Udp,
                port: 5060,
            },
            ZoneTransport {
                transport: Transport::Tcp,
                port: 5060,
            },
            ZoneTransport {
                transport: Transport::Tls,
                port: 5061,
            },
        ],
        nodes: vec![
            node("a", &[v4(11)], 10, 50),
            node(
                "b",
                &[
                    v4(12),
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x12)),
                ],
                10,
                50,
            ),
            node("c", &[v4(13)], 20, 10),
        ],
        floating_ip: Some(IpAddr::V4(FLOATING)),
    }
}

/// A zone server on a free loopback port, and the handle to update its zone.
struct Running {
    server: ZoneServer,
    zone: watch::Sender<Zone>,
}

const SERIAL_START: u32 = 100;

async fn start() -> Running {
    let (zone, rx) = watch::channel(Zone::new(spec(), SERIAL_START).expect("valid zone"));
    let server = ZoneServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), rx)
        .await
        .expect("zone server starts");
    Running { server, zone }
}

impl Running {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Applies `change` to the current spec; returns whether answers changed.
    fn update(&self, change: impl FnOnce(&mut ZoneSpec)) -> bool {
        let mut spec = self.zone.borrow().spec().clone();
        change(&mut spec);
        self.zone
            .send_if_modified(|zone| zone.update(spec).expect("valid spec"))
    }

    fn set_healthy(&self, name: &str, healthy: bool) -> bool {
        self.update(|spec| {
            for n in spec.nodes.iter_mut().filter(|n| n.name == name) {
                n.healthy = healthy;
                n.since_ms += 1_000;
            }
        })
    }

    /// A resolver asking only this server; `max_ttl_secs` caps its cache.
    fn resolver(&self, max_ttl_secs: Option<u32>) -> SipResolver {
        let config = ResolverConfig {
            nameservers: vec![self.addr()],
            timeout_ms: 2_000,
            attempts: 1,
            max_ttl_secs,
            ..ResolverConfig::default()
        };
        SipResolver::new(&config, 42).expect("resolver")
    }
}

fn query_message(name: &str, record_type: RecordType) -> Message {
    let mut message = Message::new();
    message
        .set_id(4242)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(Query::query(
            Name::from_ascii(name).expect("name"),
            record_type,
        ));
    message
}

/// Sends one query over UDP and returns the answer.
async fn udp_query(server: SocketAddr, name: &str, record_type: RecordType) -> Message {
    let socket = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let bytes = query_message(name, record_type).to_vec().expect("encode");
    socket.send_to(&bytes, server).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(ANSWER_TIMEOUT, socket.recv_from(&mut buf))
        .await
        .expect("an answer in time")
        .expect("recv");
    Message::from_vec(&buf[..len]).expect("decode")
}

/// Sends one query over TCP (RFC 1035 §4.2.2 framing) and returns the answer.
async fn tcp_query(server: SocketAddr, name: &str, record_type: RecordType) -> Message {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        let bytes = query_message(name, record_type).to_vec().expect("encode");
        let len = u16::try_from(bytes.len()).expect("small query");
        stream.write_all(&len.to_be_bytes()).await.expect("write");
        stream.write_all(&bytes).await.expect("write");
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.expect("read length");
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.expect("read message");
        Message::from_vec(&buf).expect("decode")
    };
    tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .expect("an answer in time")
}

/// The answer section in master-file form, as `ZoneRecord` prints it.
fn answer_lines(message: &Message) -> Vec<String> {
    message
        .answers()
        .iter()
        .map(|r| {
            r.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The SOA serial in the answer or authority section.
fn serial(message: &Message) -> u32 {
    message
        .answers()
        .iter()
        .chain(message.name_servers())
        .find_map(|r| r.data().as_soa().map(|soa| soa.serial()))
        .expect("an SOA record")
}
