//! The zone served authoritatively over UDP and TCP (RFC 1035 §4.2,
//! RFC 7766), on hickory-server's listeners.
//!
//! Every query reads the zone's current version from a
//! [`tokio::sync::watch`] channel, so an update (a node failing its health
//! check) is in the very next answer; nothing is restarted. Answers carry
//! the AA bit; negative ones carry the SOA in the authority section
//! (RFC 2308 §3). Names outside the domain, classes other than IN and zone
//! transfers are REFUSED; opcodes other than QUERY get NOTIMP. Recursion
//! is never offered. A query with EDNS (RFC 6891) gets an OPT record
//! offering 1232-byte UDP payloads; answers over UDP that would not fit
//! are truncated (TC) for the client to retry over TCP. hickory sizes UDP
//! answers to clients without EDNS by its receive buffer, not by 512
//! bytes (RFC 1035 §4.2.1), so those get no additional section: the
//! answer alone stays small for a cluster of a few nodes.

use crate::wire::to_record;
use crate::{Answer, Error, Zone};
use hickory_proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_proto::ProtoError;
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::ServerFuture;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

/// A TCP connection that sends no query for this long is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// UDP payload offered to EDNS clients (the DNS flag day 2020 value).
const EDNS_PAYLOAD_BYTES: u16 = 1232;
/// Tries at finding a port free for both UDP and TCP when asked for port 0.
const FREE_PORT_ATTEMPTS: usize = 16;

/// The running DNS server of the zone.
pub struct ZoneServer {
    local_addr: SocketAddr,
    server: ServerFuture<ZoneHandler>,
}

impl std::fmt::Debug for ZoneServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ZoneServer {
    /// Binds UDP and TCP on `addr` (port 0: one port free for both) and
    /// starts answering from `zone`. Must be called within a tokio runtime.
    pub async fn start(addr: SocketAddr, zone: watch::Receiver<Zone>) -> Result<ZoneServer, Error> {
        let (udp, tcp) = bind(addr).await?;
        let local_addr = udp.local_addr().map_err(|source| Error::Bind {
            protocol: "udp",
            addr,
            source,
        })?;
        let mut server = ServerFuture::new(ZoneHandler { zone });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT);
        tracing::info!(%local_addr, "DNS zone server listening on UDP and TCP");
        Ok(ZoneServer { local_addr, server })
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops listening and waits for the queries in progress (an idle TCP
    /// connection may hold this up to its 10 s timeout).
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.server
            .shutdown_gracefully()
            .await
            .map_err(|source| Error::Shutdown { source })
    }
}

/// Binds UDP, then TCP on the same address and port.
async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    let attempts = if addr.port() == 0 {
        FREE_PORT_ATTEMPTS
    } else {
        1
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = UdpSocket::bind(addr).await.map_err(|source| Error::Bind {
            protocol: "udp",
            addr,
            source,
        })?;
        let bound = udp.local_addr().map_err(|source| Error::Bind {
            protocol: "udp",
            addr,
            source,
        })?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) if attempt >= attempts => {
                return Err(Error::Bind {
                    protocol: "tcp",
                    addr: bound,
                    source,
                })
            }
            // The UDP port's TCP twin is taken: drop both and draw again.
            Err(_) => continue,
        }
    }
}

/// Answers queries from the zone's current version.
struct ZoneHandler {
    zone: watch::Receiver<Zone>,
}

/// A response, built before anything is awaited.
struct Reply {
    header: Header,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additionals: Vec<Record>,
}

#[async_trait::async_trait]
impl RequestHandler for ZoneHandler {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut reply = {
            let zone = self.zone.borrow();
            reply(&zone, request)
        };
        if request.edns().is_none() && request.protocol() == Protocol::Udp {
            reply.additionals.clear();
        }
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if request.edns().is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD_BYTES);
            builder.edns(edns);
        }
        let response = builder.build(
            reply.header,
            reply.answers.iter(),
            reply.authority.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, src = %request.src(), "cannot send DNS response");
                let mut header = Header::response_from_request(request.header());
                header.set_response_code(ResponseCode::ServFail);
                header.into()
            }
        }
    }
}

/// The response to `request` from `zone`.
fn reply(zone: &Zone, request: &Request) -> Reply {
    let mut header = Header::response_from_request(request.header());
    header.set_recursion_available(false);
    let mut reply = |code: ResponseCode, authoritative: bool| {
        header.set_response_code(code);
        header.set_authoritative(authoritative);
        Reply {
            header,
            answers: Vec::new(),
            authority: Vec::new(),
            additionals: Vec::new(),
        }
    };
    if request.message_type() != MessageType::Query {
        return reply(ResponseCode::FormErr, false);
    }
    if request.op_code() != OpCode::Query {
        return reply(ResponseCode::NotImp, false);
    }
    let Ok(info) = request.request_info() else {
        // Not exactly one question.
        return reply(ResponseCode::FormErr, false);
    };
    let query = info.query;
    let record_type = query.query_type();
    if query.query_class() != DNSClass::IN
        || matches!(record_type, RecordType::AXFR | RecordType::IXFR)
    {
        return reply(ResponseCode::Refused, false);
    }
    let name = query.name().to_string();
    let converted = match zone.answer(&name, record_type) {
        Answer::Refused => return reply(ResponseCode::Refused, false),
        Answer::NxDomain { soa } => convert(ResponseCode::NXDomain, &[], &[soa], &[]),
        Answer::NoData { soa } => convert(ResponseCode::NoError, &[], &[soa], &[]),
        Answer::Records {
            answers,
            additionals,
        } => convert(ResponseCode::NoError, &answers, &[], &additionals),
    };
    match converted {
        Ok((code, answers, authority, additionals)) => {
            let mut r = reply(code, true);
            r.answers = answers;
            r.authority = authority;
            r.additionals = additionals;
            r
        }
        Err(error) => {
            tracing::error!(%error, %name, "zone record cannot be encoded");
            reply(ResponseCode::ServFail, false)
        }
    }
}

type Sections = (ResponseCode, Vec<Record>, Vec<Record>, Vec<Record>);

fn convert(
    code: ResponseCode,
    answers: &[crate::ZoneRecord],
    authority: &[crate::ZoneRecord],
    additionals: &[crate::ZoneRecord],
) -> Result<Sections, ProtoError> {
    let all = |records: &[crate::ZoneRecord]| {
        records.iter().map(to_record).collect::<Result<Vec<_>, _>>()
    };
    Ok((code, all(answers)?, all(authority)?, all(additionals)?))
}
