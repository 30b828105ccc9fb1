//! Outbound resolution for the PBX core (RFC 3263 §4): the core asks, as
//! an effect, for the targets of a host; this runs the lookup on tokio
//! with the node's resolver (`[dns] nameservers`, hickory's TTL cache)
//! and hands the answer back to the shard that asked.

use std::sync::Arc;
use tandem_dns::{ResolverConfig, SipResolver, TargetUri, Transport};
use tandem_pbx::{ResolveQuery, ResolvedTarget};
use tandem_transaction::TransportKind;
use tandem_transport::ListenAddr;

/// The node's resolver and the transports it may use.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    inner: Arc<SipResolver>,
    /// Transports this node listens on, in its order of preference.
    supported: Vec<Transport>,
}

fn to_dns(kind: TransportKind) -> Transport {
    match kind {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
        TransportKind::Ws => Transport::Ws,
        TransportKind::Wss => Transport::Wss,
    }
}

fn from_dns(t: Transport) -> TransportKind {
    match t {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
        Transport::Ws => TransportKind::Ws,
        Transport::Wss => TransportKind::Wss,
    }
}

impl Resolver {
    /// The resolver `[dns]` describes (the system's name servers when
    /// none are listed).
    pub(crate) fn new(
        config: &tandem_config::Config,
        listen: &[ListenAddr],
        seed: u64,
    ) -> Result<Resolver, crate::Error> {
        let dns = config.dns.clone().unwrap_or_default();
        let rc = ResolverConfig {
            nameservers: dns.nameservers.clone(),
            timeout_ms: dns.lookup_timeout_ms,
            ..ResolverConfig::default()
        };
        let inner = SipResolver::new(&rc, seed).map_err(|source| crate::Error::Zone { source })?;
        let mut supported = Vec::new();
        // Stream transports from a proxy (WebSocket is for browsers).
        for l in listen {
            let t = to_dns(l.transport);
            if !matches!(t, Transport::Ws | Transport::Wss) && !supported.contains(&t) {
                supported.push(t);
            }
        }
        Ok(Resolver {
            inner: Arc::new(inner),
            supported,
        })
    }

    /// The targets of `query`, most preferred first.
    pub(crate) async fn resolve(&self, query: ResolveQuery) -> Result<Vec<ResolvedTarget>, String> {
        let uri = TargetUri {
            host: query.host.clone(),
            port: query.port,
            transport: query.transport.map(to_dns),
            sips: query.sips,
        };
        match self.inner.resolve(&uri, &self.supported).await {
            Ok(targets) => {
                tracing::debug!(host = %query.host, targets = targets.len(), "resolved");
                Ok(targets
                    .into_iter()
                    .map(|t| ResolvedTarget {
                        transport: from_dns(t.transport),
                        addr: t.addr,
                    })
                    .collect())
            }
            Err(e) => {
                tracing::info!(host = %query.host, "cannot resolve: {e}");
                Err(e.to_string())
            }
        }
    }
}
