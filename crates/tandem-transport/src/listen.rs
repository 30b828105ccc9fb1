//! Listen addresses as written in configuration and on the command line:
//! `udp:127.0.0.1:5060`, `tcp:0.0.0.0:5060`, `tls:[::1]:5061`,
//! `ws:127.0.0.1:8088`, `wss:[::]:8089`.

use crate::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use tandem_transaction::TransportKind;

/// One address to listen on, with its transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    /// The transport.
    pub transport: TransportKind,
    /// The socket address.
    pub addr: SocketAddr,
}

impl FromStr for ListenAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<ListenAddr, Error> {
        let bad = |why: &'static str| Error::ListenAddr {
            given: s.to_owned(),
            why,
        };
        let (proto, rest) = s.split_once(':').ok_or(bad(
            "expected TRANSPORT:ADDRESS:PORT, e.g. udp:127.0.0.1:5060",
        ))?;
        let transport = TransportKind::from_token(proto)
            .ok_or(bad("transport must be one of udp, tcp, tls, ws, wss"))?;
        let addr: SocketAddr = rest.parse().map_err(|_| {
            bad("address must be IPv4:PORT or [IPv6]:PORT, e.g. 127.0.0.1:5060 or [::1]:5061")
        })?;
        Ok(ListenAddr { transport, addr })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let a: ListenAddr = "udp:127.0.0.1:5060".parse().unwrap();
        assert_eq!(a.transport, TransportKind::Udp);
        assert_eq!(a.addr, "127.0.0.1:5060".parse().unwrap());
        let a: ListenAddr = "TLS:[::1]:5061".parse().unwrap();
        assert_eq!(a.transport, TransportKind::Tls);
        assert_eq!(a.to_string(), "tls:[::1]:5061");
        assert!("ws:127.0.0.1:8088".parse::<ListenAddr>().is_ok());
        assert!("sctp:127.0.0.1:5060".parse::<ListenAddr>().is_err());
        assert!("udp:127.0.0.1".parse::<ListenAddr>().is_err());
        assert!("127.0.0.1:5060".parse::<ListenAddr>().is_err());
    }
}
