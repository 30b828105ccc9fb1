//! Firing never blocks, full queues drop their oldest event, timeouts are
//! retried, shutdown flushes within its grace and abandons the rest, and
//! bad configurations are refused at start.

use std::time::Duration;

use tandem_webhook::{Dispatcher, Error, WebhookConfig};

use crate::server::{dead_addr, event, fast, silent, until, Server};

#[tokio::test]
async fn fire_never_blocks_with_a_dead_receiver_and_a_full_queue() {
    let config = WebhookConfig {
        queue_max: 8,
        retries_max: 1_000,
        backoff_initial_ms: 1_000,
        backoff_max_ms: 1_000,
        ..fast(format!("http://{}/", dead_addr()))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    // Let the task take the first event and start retrying it.
    d.fire(event("node_down", 0));
    until("first attempt", || d.totals(), |s| s.attempts >= 1).await;

    // A test may time itself: only the crate's own code is held to the
    // injected clock.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    for at in 1..=10_000 {
        d.fire(event("node_down", at));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "10 000 fires took {took:?}");

    let s = d.totals();
    // One in flight, eight queued, the rest dropped oldest-first.
    assert_eq!(s.queued, 9, "{s:?}");
    assert_eq!(s.dropped, 10_000 - 8, "{s:?}");
    assert_eq!(s.delivered, 0);

    let end = d.shutdown(Duration::from_millis(50)).await;
    assert_eq!(end.abandoned, 9, "{end:?}");
    assert_eq!((end.queued, end.delivered), (0, 0));
}

#[tokio::test]
async fn full_queue_keeps_the_newest_events() {
    let addr = dead_addr();
    let config = WebhookConfig {
        queue_max: 3,
        retries_max: 1_000,
        backoff_initial_ms: 20,
        backoff_max_ms: 20,
        ..fast(format!("http://{addr}/"))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    d.fire(event("node_down", 0));
    until("first attempt", || d.totals(), |s| s.attempts >= 1).await;
    for at in 1..=10 {
        d.fire(event("node_down", at));
    }
    let server = Server::start_on(addr, &[], None).await;
    until("delivery", || d.totals(), |s| s.delivered == 4).await;
    let got: Vec<u64> = server.requests().iter().map(|r| r.event().at_ms).collect();
    assert_eq!(got, [0, 8, 9, 10]);
    assert_eq!(d.totals().dropped, 7);
}

#[tokio::test]
async fn silent_receiver_times_out_and_is_retried() {
    let (addr, _task) = silent().await;
    let config = WebhookConfig {
        timeout_ms: 100,
        retries_max: 1,
        ..fast(format!("http://{addr}/"))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    d.fire(event("node_down", 1));
    until("failure", || d.totals(), |s| s.failed == 1).await;
    assert_eq!(d.totals().attempts, 2);
}

#[tokio::test]
async fn shutdown_flushes_what_is_queued() {
    let server = Server::start(&[503]).await;
    let d = Dispatcher::start(vec![fast(server.url("/"))]).unwrap();
    for at in 0..5 {
        d.fire(event("node_up", at));
    }
    let end = d.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        (end.delivered, end.failed, end.abandoned, end.queued),
        (5, 0, 0, 0)
    );
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn no_webhooks_is_fine() {
    let d = Dispatcher::start(Vec::new()).unwrap();
    d.fire(event("node_up", 1));
    assert!(d.stats().is_empty());
    assert_eq!(d.shutdown(Duration::ZERO).await, Default::default());
}

#[tokio::test]
async fn bad_configuration_is_refused_at_start() {
    let bad = WebhookConfig {
        method: tandem_webhook::Method::Get,
        ..WebhookConfig::new("http://dns.example/update?ip={address}")
    };
    match Dispatcher::start(vec![WebhookConfig::new("http://ok/"), bad]) {
        Err(Error::UnknownPlaceholder { name, .. }) => assert_eq!(name, "address"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Dispatcher::start(vec![WebhookConfig::new("ftp://h/")]),
        Err(Error::UnsupportedScheme { .. })
    ));
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    assert!(matches!(
        Dispatcher::start(vec![WebhookConfig::new("http://127.0.0.1:1/")]),
        Err(Error::NoRuntime)
    ));
}
