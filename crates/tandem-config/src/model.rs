//! The shape of the configuration file, with defaults and checks. Keys are
//! documented in docs/configuration.md.

use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tandem_transaction::TransportKind;
use tandem_transport::ListenAddr;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[node]`
    pub node: NodeSection,
    /// `[sip]`
    pub sip: SipSection,
    /// `[tls]`
    pub tls: Option<TlsSection>,
    /// `[transactions]`
    pub transactions: TransactionsSection,
    /// The file this came from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[node]`: this node's identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// The node's name (default: the host name).
    pub name: Option<String>,
    /// Domains and host names this node answers for, besides its listen
    /// addresses (e.g. `["pbx.example.com"]`).
    pub domains: Vec<String>,
    /// Transaction shards (default: one per core).
    pub shards: Option<usize>,
    /// How long a stopping node waits for live transactions, in seconds.
    pub shutdown_grace_secs: Option<u64>,
}

/// `[sip]`: listeners and limits on what comes from the wire.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// Listen addresses: `udp:127.0.0.1:5060`, `tcp:...`, `tls:[::1]:5061`, `ws:...`, `wss:...`.
    pub listen: Vec<String>,
    /// Largest message accepted, bytes.
    pub message_size_max: usize,
    /// Most header fields in a message.
    pub header_count_max: usize,
    /// Longest header line, bytes.
    pub header_line_len_max: usize,
    /// Most Via values in a message.
    pub via_count_max: usize,
    /// Most Route and Record-Route values in a message.
    pub route_count_max: usize,
    /// Most TCP/TLS/WebSocket connections from one IP address.
    pub connections_per_ip_max: usize,
    /// Most connections in all.
    pub connections_max: usize,
    /// Seconds without traffic after which a connection is closed.
    pub idle_timeout_secs: u64,
    /// UDP receive buffer asked of the kernel, bytes.
    pub udp_recv_buffer_bytes: usize,
    /// Answer UDP requests at their source address and port even when the
    /// top Via has no `rport` (phones behind NAT; RFC 3581 behaviour for all).
    pub force_rport: bool,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: Vec::new(),
            message_size_max: 65_536,
            header_count_max: 256,
            header_line_len_max: 16_384,
            via_count_max: 64,
            route_count_max: 64,
            connections_per_ip_max: 256,
            connections_max: 20_000,
            idle_timeout_secs: 300,
            udp_recv_buffer_bytes: 8 << 20,
            force_rport: true,
        }
    }
}

/// `[tls]`: certificate and key for TLS and WSS listeners.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain (relative to the config file's folder).
    pub certificate: PathBuf,
    /// PEM private key.
    pub private_key: PathBuf,
}

/// `[transactions]`: RFC 3261 timer bases and the transaction cap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransactionsSection {
    /// T1, milliseconds.
    pub t1_ms: u64,
    /// T2, milliseconds.
    pub t2_ms: u64,
    /// T4, milliseconds.
    pub t4_ms: u64,
    /// Delay before a server INVITE transaction sends 100 Trying itself,
    /// milliseconds (0: at once, as a proxy does).
    pub trying_delay_ms: u64,
    /// Most live transactions per node; past it, new requests get 503.
    pub max: usize,
}

impl Default for TransactionsSection {
    fn default() -> Self {
        TransactionsSection {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            trying_delay_ms: 0,
            max: 200_000,
        }
    }
}

impl Config {
    /// The listen addresses, parsed.
    pub fn listen_addrs(&self) -> Vec<ListenAddr> {
        self.sip
            .listen
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    pub(crate) fn check(&self, path: &Path) -> Result<(), Error> {
        let invalid = |key: String, problem: String| Error::Invalid {
            path: path.to_owned(),
            key,
            problem,
        };
        for (i, l) in self.sip.listen.iter().enumerate() {
            if let Err(e) = l.parse::<ListenAddr>() {
                return Err(invalid(format!("sip.listen[{i}]"), e.to_string()));
            }
        }
        let addrs = self.listen_addrs();
        for (i, a) in addrs.iter().enumerate() {
            if addrs[..i].contains(a) {
                return Err(invalid(
                    format!("sip.listen[{i}]"),
                    format!("{a} is listed twice"),
                ));
            }
        }
        let needs_tls = addrs
            .iter()
            .any(|a| matches!(a.transport, TransportKind::Tls | TransportKind::Wss));
        if needs_tls && self.tls.is_none() {
            return Err(invalid(
                "tls".into(),
                "tls: and wss: listeners need a [tls] section with certificate and private_key"
                    .into(),
            ));
        }
        if let Some(tls) = &self.tls {
            for (key, p) in [
                ("tls.certificate", &tls.certificate),
                ("tls.private_key", &tls.private_key),
            ] {
                if !p.is_file() {
                    return Err(invalid(
                        key.into(),
                        format!("{} does not exist or is not a file", p.display()),
                    ));
                }
            }
        }
        let ranges: [(&str, u64, u64, u64); 7] = [
            (
                "sip.message_size_max",
                self.sip.message_size_max as u64,
                1024,
                1 << 20,
            ),
            (
                "sip.header_count_max",
                self.sip.header_count_max as u64,
                16,
                4096,
            ),
            (
                "sip.header_line_len_max",
                self.sip.header_line_len_max as u64,
                256,
                1 << 20,
            ),
            ("transactions.t1_ms", self.transactions.t1_ms, 10, 10_000),
            (
                "transactions.t2_ms",
                self.transactions.t2_ms,
                self.transactions.t1_ms,
                60_000,
            ),
            ("transactions.t4_ms", self.transactions.t4_ms, 0, 60_000),
            (
                "transactions.max",
                self.transactions.max as u64,
                16,
                10_000_000,
            ),
        ];
        for (key, v, lo, hi) in ranges {
            if v < lo || v > hi {
                return Err(invalid(
                    key.into(),
                    format!("{v} is out of range {lo}..={hi}"),
                ));
            }
        }
        if self.node.shards == Some(0) {
            return Err(invalid("node.shards".into(), "must be at least 1".into()));
        }
        Ok(())
    }
}
