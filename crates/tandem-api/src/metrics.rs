//! `/metrics`: Prometheus text exposition (prometheus-client). Values are
//! read when scraped: the node's counters (messages by method and status
//! class, transactions, calls, store commits and their latency, malformed
//! input), gauges from the replica (registrations, dialogs, extensions,
//! replication lag), the cluster's nodes and the failovers found in its
//! timeline with their durations, and the admin plane's own responses.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tandem_node::cluster::records::EventRecord;
use tandem_node::cluster::report::ClusterReport;
use tandem_node::metrics::HistogramSnapshot;
use tandem_store::DialogState;

/// Upper bounds of the failover duration buckets, seconds.
const FAILOVER_BUCKETS_SECS: [f64; 9] = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0];

type Labels = Vec<(&'static str, String)>;

/// A metric family: name, help and its series.
type Family<V> = (&'static str, &'static str, Vec<(Labels, V)>);

/// Everything one scrape exports, read up front.
#[derive(Debug, Default)]
struct Scrape {
    counters: Vec<Family<u64>>,
    gauges: Vec<Family<i64>>,
    histograms: Vec<(&'static str, &'static str, HistogramSnapshot)>,
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, help, series) in &self.counters {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            match series.as_slice() {
                [(labels, v)] if labels.is_empty() => ConstCounter::new(*v).encode(m)?,
                _ => {
                    for (labels, v) in series {
                        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
                    }
                }
            }
        }
        for (name, help, series) in &self.gauges {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            match series.as_slice() {
                [(labels, v)] if labels.is_empty() => ConstGauge::new(*v).encode(m)?,
                _ => {
                    for (labels, v) in series {
                        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
                    }
                }
            }
        }
        for (name, help, h) in &self.histograms {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            // The encoder sums bucket counts itself: hand it each bucket's own.
            let mut previous = 0;
            let mut buckets: Vec<(f64, u64)> = h
                .buckets
                .iter()
                .map(|(le, cumulative)| {
                    let own = cumulative - previous;
                    previous = *cumulative;
                    (*le, own)
                })
                .collect();
            buckets.push((f64::MAX, h.count.saturating_sub(previous)));
            m.encode_histogram::<Vec<(&str, String)>>(h.sum_secs, h.count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The failovers in a timeline: from the moment the cluster lost its
/// leader (stepped down, lease lost, leader gone) to the next
/// `became_leader`, seconds.
pub(crate) fn failover_durations(events: &[EventRecord]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut gap_since: Option<u64> = None;
    let mut leader: Option<String> = None;
    for e in events {
        match e.event.as_str() {
            "stepped_down" | "lease_lost" => {
                gap_since.get_or_insert(e.at_ms);
            }
            "leader_changed" if e.detail.get("leader").is_none_or(|l| l.is_null()) => {
                gap_since.get_or_insert(e.at_ms);
            }
            "node_down" => {
                let gone = e.detail.get("node").and_then(|n| n.as_str());
                if gone.is_some() && gone == leader.as_deref() {
                    gap_since.get_or_insert(e.at_ms);
                }
            }
            "became_leader" => {
                leader = Some(e.node.clone());
                if let Some(since) = gap_since.take() {
                    out.push(e.at_ms.saturating_sub(since) as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    out
}

fn histogram(values: &[f64], bounds: &[f64]) -> HistogramSnapshot {
    HistogramSnapshot {
        buckets: bounds
            .iter()
            .map(|b| (*b, values.iter().filter(|v| **v <= *b).count() as u64))
            .collect(),
        sum_secs: values.iter().sum(),
        count: values.len() as u64,
    }
}

fn scrape(app: &AppState, cluster: &ClusterReport) -> Scrape {
    let mut s = Scrape::default();
    let m = &app.stats.metrics;
    let t = app.transports.stats();
    let one = |v: u64| vec![(Labels::new(), v)];
    s.counters.push((
        "tandem_sip_requests_received",
        "SIP requests received well-formed, by method",
        m.requests()
            .into_iter()
            .map(|(method, v)| (vec![("method", method.to_owned())], v))
            .collect(),
    ));
    s.counters.push((
        "tandem_sip_responses_received",
        "SIP responses received, by CSeq method and status class",
        m.responses()
            .into_iter()
            .map(|(method, class, v)| {
                (
                    vec![("method", method.to_owned()), ("status", class.to_owned())],
                    v,
                )
            })
            .collect(),
    ));
    s.counters.push((
        "tandem_sip_transactions_started",
        "Requests other than ACK received (each starts a server transaction or is answered statelessly)",
        one(m.transactions_started.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_calls_started",
        "Initial INVITEs received: rate() of it is calls per second",
        one(m.calls_started.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_sip_malformed",
        "Malformed messages, answered with an error status or dropped",
        vec![
            (
                vec![("outcome", "answered".into())],
                app.stats.malformed_answered.load(Relaxed),
            ),
            (
                vec![("outcome", "dropped".into())],
                app.stats.malformed_dropped.load(Relaxed),
            ),
        ],
    ));
    s.counters.push((
        "tandem_sip_options_answered",
        "OPTIONS answered statelessly",
        one(app.stats.options_answered.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_shard_overload",
        "Messages refused because their shard's queue was full",
        one(app.stats.shard_overload.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_transport_messages",
        "SIP messages read from and written to the wire",
        vec![
            (
                vec![("direction", "received".into())],
                t.received.load(Relaxed),
            ),
            (vec![("direction", "sent".into())], t.sent.load(Relaxed)),
        ],
    ));
    s.counters.push((
        "tandem_transport_send_errors",
        "Messages that could not be sent",
        one(t.send_errors.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_transport_connections",
        "Connections accepted or refused (limits)",
        vec![
            (
                vec![("outcome", "accepted".into())],
                t.connections_accepted.load(Relaxed),
            ),
            (
                vec![("outcome", "refused".into())],
                t.connections_refused.load(Relaxed),
            ),
        ],
    ));
    s.counters.push((
        "tandem_transport_framing_errors",
        "Stream framing errors (connection closed)",
        one(t.framing_errors.load(Relaxed)),
    ));
    s.counters.push((
        "tandem_store_commits",
        "Store commits, by outcome",
        vec![
            (
                vec![("outcome", "ok".into())],
                m.store.commits.load(Relaxed),
            ),
            (
                vec![("outcome", "conflict".into())],
                m.store.conflicts.load(Relaxed),
            ),
            (
                vec![("outcome", "error".into())],
                m.store.errors.load(Relaxed),
            ),
        ],
    ));
    s.histograms.push((
        "tandem_store_commit_duration_seconds",
        "Time from commit to durable, successful commits",
        m.store.commit_latency(),
    ));
    let now = tandem_node::clock::unix_ms();
    {
        let r = app.replica.read().unwrap_or_else(|p| p.into_inner());
        let (mut early, mut confirmed) = (0, 0);
        for d in r.dialogs() {
            match d.state {
                DialogState::Early => early += 1,
                DialogState::Confirmed => confirmed += 1,
                DialogState::Terminated => {}
            }
        }
        s.gauges.push((
            "tandem_registrations",
            "Live registrations (bindings) in the replica",
            vec![(Labels::new(), r.binding_count(now) as i64)],
        ));
        s.gauges.push((
            "tandem_dialogs",
            "Calls in progress, by state",
            vec![
                (vec![("state", "early".into())], early),
                (vec![("state", "confirmed".into())], confirmed),
            ],
        ));
        s.gauges.push((
            "tandem_extensions",
            "Extensions in the replica",
            vec![(Labels::new(), r.extensions().len() as i64)],
        ));
        s.gauges.push((
            "tandem_replica_revision",
            "The store revision this node's replica has applied",
            vec![(Labels::new(), r.rev() as i64)],
        ));
        s.gauges.push((
            "tandem_replication_lag_revisions",
            "Revisions this node's replica is behind the store's head",
            vec![(
                Labels::new(),
                cluster.revision.saturating_sub(r.rev()) as i64,
            )],
        ));
    }
    s.gauges.push((
        "tandem_cluster_node_replication_lag_revisions",
        "Revisions each node's replica was behind at its last report (watch lag)",
        cluster
            .nodes
            .iter()
            .map(|n| {
                (
                    vec![("node", n.presence.node.clone())],
                    n.replication_lag_revs as i64,
                )
            })
            .collect(),
    ));
    s.gauges.push((
        "tandem_cluster_node_healthy",
        "1 if the node's health checks pass",
        cluster
            .nodes
            .iter()
            .map(|n| {
                (
                    vec![("node", n.presence.node.clone())],
                    i64::from(n.presence.healthy),
                )
            })
            .collect(),
    ));
    s.gauges.push((
        "tandem_cluster_floating_ip_held",
        "1 for the node that holds the floating IP",
        cluster
            .nodes
            .iter()
            .map(|n| {
                (
                    vec![("node", n.presence.node.clone())],
                    i64::from(n.presence.holds_floating_ip),
                )
            })
            .collect(),
    ));
    s.gauges.push((
        "tandem_cluster_leader_epoch",
        "The leader's fencing epoch (0: no leader)",
        vec![(
            Labels::new(),
            cluster.leader.as_ref().map_or(0, |l| l.epoch as i64),
        )],
    ));
    let failovers = failover_durations(&cluster.events);
    s.counters.push((
        "tandem_failovers",
        "Failovers in the cluster's timeline (kept 7 days)",
        one(failovers.len() as u64),
    ));
    s.histograms.push((
        "tandem_failover_duration_seconds",
        "From the leader's loss to the next became_leader",
        histogram(&failovers, &FAILOVER_BUCKETS_SECS),
    ));
    let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    s.counters.push((
        "tandem_admin_http_responses",
        "Responses of the admin plane, by status class",
        classes
            .iter()
            .zip(&app.http_responses)
            .map(|(c, v)| (vec![("status", (*c).to_owned())], v.load(Relaxed)))
            .collect(),
    ));
    s
}

/// Renders the exposition text.
pub(crate) async fn text(app: &AppState) -> Result<String, Problem> {
    let cluster = crate::cluster::read(app, usize::MAX).await?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape(app, &cluster)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .map_err(|_| Problem::internal("cannot encode the metrics"))?;
    Ok(out)
}

pub(crate) async fn get(State(app): State<Arc<AppState>>) -> Result<Response, Problem> {
    let body = text(&app).await?;
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at_ms: u64, node: &str, event: &str, detail: serde_json::Value) -> EventRecord {
        EventRecord {
            at_ms,
            node: node.into(),
            event: event.into(),
            detail,
        }
    }

    #[test]
    fn finds_failovers_in_the_timeline() {
        let events = vec![
            ev(1_000, "a", "became_leader", serde_json::json!({"epoch": 1})),
            ev(5_000, "b", "node_down", serde_json::json!({"node": "c"})),
            ev(9_000, "b", "node_down", serde_json::json!({"node": "a"})),
            ev(
                9_200,
                "c",
                "leader_changed",
                serde_json::json!({"leader": null}),
            ),
            ev(
                10_500,
                "b",
                "became_leader",
                serde_json::json!({"epoch": 9}),
            ),
            ev(
                20_000,
                "b",
                "stepped_down",
                serde_json::json!({"reason": "drain"}),
            ),
            ev(
                20_300,
                "c",
                "became_leader",
                serde_json::json!({"epoch": 12}),
            ),
        ];
        assert_eq!(failover_durations(&events), vec![1.5, 0.3]);
        let h = histogram(&[1.5, 0.3], &FAILOVER_BUCKETS_SECS);
        assert_eq!(h.count, 2);
        assert_eq!(h.buckets[1], (0.5, 1));
        assert_eq!(h.buckets[3], (1.5, 2));
    }
}
