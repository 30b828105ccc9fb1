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
    /// `[pbx]`
    pub pbx: PbxSection,
    /// `[registrar]`
    pub registrar: RegistrarSection,
    /// `[auth]`
    pub auth: AuthSection,
    /// `[storage]`
    pub storage: StorageSection,
    /// `[cluster]` (etcd backend only).
    pub cluster: Option<crate::ClusterSection>,
    /// `[admin]`: the operations plane (API, dashboard, metrics); absent: none.
    pub admin: Option<crate::AdminSection>,
    /// `[dns]`: RFC 3263 resolution and the zone served; absent: system
    /// resolver, no zone.
    pub dns: Option<crate::DnsSection>,
    /// `[[webhooks]]`: ActionURLs called on cluster events.
    pub webhooks: Vec<tandem_webhook::WebhookConfig>,
    /// `[[extensions]]`: extensions created or updated at start.
    pub extensions: Vec<ExtensionEntry>,
    /// `[[trunks]]`: carriers (docs/trunks.md).
    pub trunks: Vec<crate::TrunkEntry>,
    /// `[[outbound_rules]]`: dialled numbers sent out on trunks.
    pub outbound_rules: Vec<crate::OutboundRuleEntry>,
    /// `[[inbound_rules]]`: where calls from carriers go.
    pub inbound_rules: Vec<crate::InboundRuleEntry>,
    /// `[[ring_groups]]`: extensions rung together or in turn.
    pub ring_groups: Vec<crate::RingGroupEntry>,
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
            // About 1.2 KB each: a cap near 1.2 GB. Over UDP a finished
            // non-INVITE transaction lives 32 s (Timer J), so 5,000
            // REGISTERs a second alone keep 160,000 alive.
            max: 1_000_000,
        }
    }
}

/// `[pbx]`: the SIP domain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PbxSection {
    /// The SIP domain users register in (`1000@domain`); also answered for.
    pub domain: Option<String>,
    /// The digest realm (default: the domain, else `tandem`).
    pub realm: Option<String>,
    /// Seconds a forked INVITE may ring before tandem cancels it (Timer C).
    pub ring_timeout_secs: Option<u64>,
    /// Longest call kept without a BYE, seconds (then its dialog is dropped).
    pub call_max_secs: Option<u64>,
    /// Whether authenticated extensions may call SIP URIs of other domains
    /// (`sip:bob@example.com`, resolved by RFC 3263); default true. Never
    /// an open relay: unauthenticated requests for other domains get 407.
    pub sip_uri_dialing: Option<bool>,
}

/// `[registrar]`: expiry ranges and contact limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSection {
    /// Expiry when the phone asks for none, seconds.
    pub expires_default_secs: u32,
    /// Shortest expiry accepted (shorter ones get 423 Interval Too Brief).
    pub expires_min_secs: u32,
    /// Longest expiry granted.
    pub expires_max_secs: u32,
    /// Most contacts per extension; the oldest make way.
    pub contacts_per_aor_max: usize,
    /// Send an OPTIONS keep-alive to every UDP contact this often, seconds
    /// (keeps NAT bindings open; 0: off). In a cluster, each contact is
    /// pinged by exactly one live node.
    pub keepalive_interval_secs: u32,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            expires_default_secs: 3600,
            expires_min_secs: 60,
            expires_max_secs: 7200,
            contacts_per_aor_max: 10,
            keepalive_interval_secs: 0,
        }
    }
}

/// `[auth]`: digest authentication and the blocking of password scanners.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Algorithms offered, in order: `MD5`, `SHA-256`.
    pub algorithms: Vec<String>,
    /// How long a nonce stays valid, seconds (then `stale=true`).
    pub nonce_lifetime_secs: u64,
    /// Failed authentications from one address within the window that get it blocked (0: never).
    pub failures_max: u32,
    /// The window, seconds.
    pub failures_window_secs: u64,
    /// How long a blocked address stays blocked, seconds.
    pub block_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            // MD5 alone by default: phones choke on a second challenge
            // (libre/baresip 1.0 gives up at the first non-MD5 one, JsSIP
            // reads only the last one). SHA-256 is one line away.
            algorithms: vec!["MD5".into()],
            nonce_lifetime_secs: 300,
            failures_max: 20,
            failures_window_secs: 60,
            block_secs: 300,
        }
    }
}

/// `[storage]`: where state lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `embedded` (one node, a database file) or `etcd` (a cluster).
    pub backend: String,
    /// The embedded database file (relative to the config file).
    pub path: PathBuf,
    /// `[storage.etcd]`: the etcd cluster (backend `etcd`).
    pub etcd: crate::EtcdSection,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            backend: "embedded".into(),
            path: PathBuf::from("tandem.db"),
            etcd: crate::EtcdSection::default(),
        }
    }
}

/// One `[[extensions]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionEntry {
    /// The number (digits, or a token).
    pub number: String,
    /// The SIP password.
    pub password: String,
    /// Name shown to callees.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Number presented on calls out on trunks (unless the trunk fixes
    /// one), e.g. `"+4930123456"`; default: the extension's number.
    #[serde(default)]
    pub outbound_caller_id: Option<String>,
}

/// Whether `number` may name an extension: digits, letters or `- _ . +`.
pub fn is_valid_extension_number(number: &str) -> bool {
    !number.is_empty()
        && number.len() <= 64
        && number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
}

/// The published demo passwords: `pw-<number>`.
pub fn is_demo_password(number: &str, password: &str) -> bool {
    password == format!("pw-{number}")
}

impl Config {
    /// The SIP domain (default: the first configured domain, else the node name, else `tandem`).
    pub fn domain(&self) -> String {
        self.pbx
            .domain
            .clone()
            .or_else(|| self.node.domains.first().cloned())
            .unwrap_or_else(|| "tandem".into())
    }

    /// The digest realm.
    pub fn realm(&self) -> String {
        self.pbx.realm.clone().unwrap_or_else(|| self.domain())
    }

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
        let r = &self.registrar;
        if r.expires_min_secs == 0
            || r.expires_min_secs > r.expires_default_secs
            || r.expires_default_secs > r.expires_max_secs
        {
            return Err(invalid(
                "registrar".into(),
                format!(
                    "need 0 < expires_min_secs ({}) <= expires_default_secs ({}) <= expires_max_secs ({})",
                    r.expires_min_secs, r.expires_default_secs, r.expires_max_secs
                ),
            ));
        }
        if r.contacts_per_aor_max == 0 {
            return Err(invalid(
                "registrar.contacts_per_aor_max".into(),
                "must be at least 1".into(),
            ));
        }
        if self.auth.algorithms.is_empty() {
            return Err(invalid(
                "auth.algorithms".into(),
                "offer at least one of \"MD5\", \"SHA-256\"".into(),
            ));
        }
        for (i, a) in self.auth.algorithms.iter().enumerate() {
            if !(a.eq_ignore_ascii_case("MD5") || a.eq_ignore_ascii_case("SHA-256")) {
                return Err(invalid(
                    format!("auth.algorithms[{i}]"),
                    format!("{a:?} is not one of \"MD5\", \"SHA-256\""),
                ));
            }
        }
        if self.auth.nonce_lifetime_secs < 10 {
            return Err(invalid(
                "auth.nonce_lifetime_secs".into(),
                "must be at least 10".into(),
            ));
        }
        if !matches!(self.storage.backend.as_str(), "embedded" | "etcd") {
            return Err(invalid(
                "storage.backend".into(),
                format!("{:?} is not \"embedded\" or \"etcd\"", self.storage.backend),
            ));
        }
        crate::cluster::check(self, path)?;
        crate::dns::check(self, path)?;
        crate::admin::check(self, path)?;
        crate::trunks::check(self, path)?;
        crate::call_routing::check(self, path)?;
        let mut seen = std::collections::HashSet::new();
        for (i, e) in self.extensions.iter().enumerate() {
            let key = format!("extensions[{i}]");
            if !is_valid_extension_number(&e.number) {
                return Err(invalid(
                    format!("{key}.number"),
                    format!("{:?}: use digits, letters or - _ . +", e.number),
                ));
            }
            if !seen.insert(e.number.clone()) {
                return Err(invalid(
                    format!("{key}.number"),
                    format!("extension {} is listed twice", e.number),
                ));
            }
            if e.password.len() < 4 {
                return Err(invalid(
                    format!("{key}.password"),
                    "must be at least 4 characters".into(),
                ));
            }
        }
        Ok(())
    }
}
