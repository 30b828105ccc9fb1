//! Resolving an outbound SIP target (RFC 3263 §4) through DNS: the
//! lookups [`crate::select`] calls for, made with hickory's caching
//! resolver (answers are kept for their TTL, RFC 1035 §3.2.1, negative
//! ones for the SOA MINIMUM, RFC 2308 §5).
//!
//! A name with no record of the type asked (NXDOMAIN or NODATA) is an
//! ordinary answer: the selection falls back as RFC 3263 says. A lookup
//! that fails (timeout, SERVFAIL, REFUSED, no server reachable) is an
//! error unless other lookups still gave targets: a failed NAPTR lookup
//! ends the resolution, and no A/AAAA fallback is made when an SRV lookup
//! failed and none found records, since the SRV records may well exist.
//! SRV lookups run concurrently, and so do address lookups.

use crate::name::fqdn;
use crate::select::{self, Found, Plan, Target, TargetUri};
use crate::wire::{naptr_from, srv_from};
use crate::{Error, Transport};
use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_proto::ProtoErrorKind;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How the resolver reaches DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Name servers to ask, each over UDP and TCP; empty: the system's
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// How long one query waits for an answer.
    pub timeout_ms: u64,
    /// How many times a query is sent before it times out.
    pub attempts: usize,
    /// How many answers the cache keeps.
    pub cache_size: usize,
    /// Answers are cached no longer than this, whatever their TTL
    /// (`Some(0)`: not cached); `None`: for their TTL.
    pub max_ttl_secs: Option<u32>,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            nameservers: Vec::new(),
            timeout_ms: 2_000,
            attempts: 2,
            cache_size: 1_024,
            max_ttl_secs: None,
        }
    }
}

/// Resolves SIP URIs to targets; shareable across tasks.
pub struct SipResolver {
    resolver: TokioResolver,
    /// Orders SRV records of equal priority (RFC 2782); seeded by the
    /// caller, which owns the entropy.
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for SipResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipResolver")
            .field("name_servers", &self.resolver.config().name_servers())
            .finish_non_exhaustive()
    }
}

impl SipResolver {
    /// A resolver as `config` says; `seed` seeds the weighted SRV choice.
    /// Must be called within a tokio runtime.
    pub fn new(config: &ResolverConfig, seed: u64) -> Result<SipResolver, Error> {
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|source| Error::SystemConfig { source })?
        } else {
            let mut servers = hickory_resolver::config::ResolverConfig::new();
            for &addr in &config.nameservers {
                servers.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                servers.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
            }
            TokioResolver::builder_with_config(servers, TokioConnectionProvider::default())
        };
        let options = builder.options_mut();
        options.timeout = Duration::from_millis(config.timeout_ms);
        options.attempts = config.attempts;
        options.cache_size = config.cache_size;
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        if let Some(max) = config.max_ttl_secs {
            let max = Duration::from_secs(u64::from(max));
            options.positive_max_ttl = Some(max);
            options.negative_max_ttl = Some(max);
        }
        Ok(SipResolver {
            resolver: builder.build(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// The targets for `uri`, most preferred first, reachable with the
    /// `supported` transports (listed in this node's order of preference).
    pub async fn resolve(
        &self,
        uri: &TargetUri,
        supported: &[Transport],
    ) -> Result<Vec<Target>, Error> {
        let plan = select::plan(uri, supported);
        let host = fqdn(&uri.host);
        let mut found = Found::default();
        let mut failure = None;
        match plan {
            Plan::Literal => {}
            Plan::Unusable => return Err(Error::NoTargets { host }),
            Plan::Address => {
                self.addresses(vec![host.clone()], &mut found, &mut failure)
                    .await
            }
            Plan::Srv | Plan::Naptr => {
                if plan == Plan::Naptr {
                    found.naptr = self
                        .lookup(&host, RecordType::NAPTR)
                        .await?
                        .into_iter()
                        .filter_map(|r| match r {
                            RData::NAPTR(n) => Some(naptr_from(&n)),
                            _ => None,
                        })
                        .collect();
                }
                let queries = select::srv_queries(uri, supported, &found.naptr);
                let answers = join_all(
                    queries
                        .iter()
                        .map(|q| self.lookup(&q.name, RecordType::SRV)),
                )
                .await;
                for (query, answer) in queries.iter().zip(answers) {
                    match answer {
                        Ok(records) => {
                            let srv = records
                                .into_iter()
                                .filter_map(|r| match r {
                                    RData::SRV(s) => Some(srv_from(&s)),
                                    _ => None,
                                })
                                .collect();
                            found.srv.insert(query.name.clone(), srv);
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                }
                let any_srv = found.srv.values().any(|records| !records.is_empty());
                if let (false, Some(e)) = (any_srv, failure.take()) {
                    return Err(e);
                }
                let names = select::address_names(uri, &queries, &found);
                self.addresses(names, &mut found, &mut failure).await;
            }
        }
        let targets = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            select::select(uri, supported, &found, &mut *rng)
        };
        if targets.is_empty() {
            return Err(failure.unwrap_or(Error::NoTargets { host }));
        }
        Ok(targets)
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        self.resolver.clear_cache();
    }

    /// Looks up the A and AAAA records of `names` into `found`.
    async fn addresses(&self, names: Vec<String>, found: &mut Found, failure: &mut Option<Error>) {
        let answers = join_all(names.iter().map(|name| self.lookup_ip(name))).await;
        for (name, answer) in names.into_iter().zip(answers) {
            match answer {
                Ok(addrs) => {
                    found.addrs.insert(name, addrs);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
    }

    /// The records of `record_type` at `name`; none for NXDOMAIN or NODATA.
    async fn lookup(&self, name: &str, record_type: RecordType) -> Result<Vec<RData>, Error> {
        match self.resolver.lookup(name, record_type).await {
            Ok(lookup) => Ok(lookup.iter().cloned().collect()),
            Err(e) => negative(e, name, record_type).map(|()| Vec::new()),
        }
    }

    /// The A and AAAA addresses of `name`; none for NXDOMAIN or NODATA.
    async fn lookup_ip(&self, name: &str) -> Result<Vec<IpAddr>, Error> {
        match self.resolver.lookup_ip(name).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) => negative(e, name, RecordType::A).map(|()| Vec::new()),
        }
    }
}

/// `Ok` when `error` says the name has no such records (NXDOMAIN or
/// NODATA), else the error to report.
fn negative(error: ResolveError, name: &str, record_type: RecordType) -> Result<(), Error> {
    match error.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound {
            response_code: ResponseCode::NXDomain | ResponseCode::NoError,
            ..
        }) => Ok(()),
        Some(ProtoErrorKind::Timeout) => Err(Error::Timeout {
            name: name.to_owned(),
            record_type,
        }),
        _ => Err(Error::Lookup {
            name: name.to_owned(),
            record_type,
            source: error,
        }),
    }
}
