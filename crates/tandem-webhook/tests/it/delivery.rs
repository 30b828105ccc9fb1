//! What arrives at the receiver, and how failures are retried: signed
//! POSTs, filled GET templates, 5xx retried, 4xx not, a receiver that
//! comes up late, order kept, event filters.

use std::time::Duration;

use tandem_webhook::{verify, Dispatcher, Method, WebhookConfig};

use crate::server::{dead_addr, event, fast, until, Server};

#[tokio::test]
async fn post_carries_the_event_signed() {
    let server = Server::start(&[]).await;
    let config = WebhookConfig {
        secret: Some("topsecret".into()),
        headers: vec![("X-Api-Key".into(), "k1".into())],
        ..fast(server.url("/hooks/tandem"))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    let sent = event("became_leader", 1_700_000_000_000);
    d.fire(sent.clone());
    until("delivery", || d.totals(), |s| s.delivered == 1).await;

    let got = server.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.uri, "/hooks/tandem");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("x-tandem-event"), "became_leader");
    assert_eq!(
        r.header("x-tandem-delivery"),
        "became_leader-pbx-a-1700000000000-1"
    );
    assert_eq!(r.header("x-api-key"), "k1");
    assert_eq!(r.event(), sent);
    let signature = r.header("x-tandem-signature");
    assert!(
        signature.starts_with("sha256=") && signature.len() == 7 + 64,
        "{signature}"
    );
    assert!(verify(b"topsecret", &r.body, signature));
    assert!(!verify(b"wrong", &r.body, signature));
    assert_eq!(d.totals().attempts, 1);
}

#[tokio::test]
async fn post_without_secret_is_unsigned() {
    let server = Server::start(&[]).await;
    let d = Dispatcher::start(vec![fast(server.url("/"))]).unwrap();
    d.fire(event("node_up", 5));
    until("delivery", || d.totals(), |s| s.delivered == 1).await;
    assert!(server.requests()[0]
        .headers
        .get("x-tandem-signature")
        .is_none());
}

#[tokio::test]
async fn get_fills_the_template() {
    let server = Server::start(&[]).await;
    let template = format!(
        "http://{}/update?host=sip&ip={{ip}}&e={{event}}&n={{node}}&ep={{epoch}}&t={{at_ms}}&c={{cluster}}&l={{leader}}",
        server.addr
    );
    let config = WebhookConfig {
        method: Method::Get,
        ..fast(template)
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    let mut e = event("failover_finished", 42);
    e.node = "pbx b/2".into();
    e.detail = serde_json::json!({"leader": "pbx b/2", "address": "2001:db8::7"});
    d.fire(e);
    until("delivery", || d.totals(), |s| s.delivered == 1).await;

    let r = &server.requests()[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.uri,
        "/update?host=sip&ip=2001%3Adb8%3A%3A7&e=failover_finished&n=pbx%20b%2F2&ep=12&t=42&c=east&l=pbx%20b%2F2"
    );
    assert!(r.body.is_empty());
    assert_eq!(r.header("x-tandem-event"), "failover_finished");
}

#[tokio::test]
async fn busy_receiver_twice_then_ok_is_delivered_once_after_three_attempts() {
    let server = Server::start(&[503, 503]).await;
    let d = Dispatcher::start(vec![fast(server.url("/"))]).unwrap();
    d.fire(event("node_down", 7));
    until("delivery", || d.totals(), |s| s.delivered == 1).await;

    let got = server.requests();
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    // Every attempt is the same delivery, byte for byte.
    let id = got[0].header("x-tandem-delivery");
    assert!(got.iter().all(|r| r.header("x-tandem-delivery") == id));
    assert!(got.iter().all(|r| r.body == got[0].body));
    let s = d.totals();
    assert_eq!((s.delivered, s.failed, s.attempts, s.queued), (1, 0, 3, 0));
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let server = Server::start(&[429]).await;
    let d = Dispatcher::start(vec![fast(server.url("/"))]).unwrap();
    d.fire(event("node_down", 7));
    until("delivery", || d.totals(), |s| s.delivered == 1).await;
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn not_found_fails_without_retry() {
    let server = Server::start(&[404, 404, 404]).await;
    let d = Dispatcher::start(vec![fast(server.url("/missing"))]).unwrap();
    d.fire(event("node_down", 7));
    until("failure", || d.totals(), |s| s.failed == 1).await;
    // Longer than every backoff of the schedule: a retry would show.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.requests().len(), 1);
    let s = d.totals();
    assert_eq!((s.delivered, s.failed, s.attempts, s.queued), (0, 1, 1, 0));
}

#[tokio::test]
async fn retries_exhausted_fail_the_delivery_and_the_next_event_goes() {
    let server = Server::start(&[500, 500, 500]).await;
    let config = WebhookConfig {
        retries_max: 2,
        ..fast(server.url("/"))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    d.fire(event("node_down", 1));
    d.fire(event("node_up", 2));
    until(
        "both settled",
        || d.totals(),
        |s| s.failed + s.delivered == 2,
    )
    .await;
    let s = d.totals();
    assert_eq!((s.delivered, s.failed, s.attempts), (1, 1, 4));
    let events: Vec<String> = server.requests().iter().map(|r| r.event().event).collect();
    assert_eq!(events, ["node_down", "node_down", "node_down", "node_up"]);
}

#[tokio::test]
async fn receiver_down_then_up_gets_the_event() {
    let addr = dead_addr();
    let config = WebhookConfig {
        retries_max: 50,
        ..fast(format!("http://{addr}/late"))
    };
    let d = Dispatcher::start(vec![config]).unwrap();
    d.fire(event("failover_started", 3));
    until("refused attempts", || d.totals(), |s| s.attempts >= 2).await;
    assert_eq!(d.totals().delivered, 0);

    let server = Server::start_on(addr, &[], None).await;
    until("delivery", || d.totals(), |s| s.delivered == 1).await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].uri, "/late");
    assert_eq!(d.totals().failed, 0);
}

#[tokio::test]
async fn order_is_kept_across_retries() {
    // Every third request is refused with 503 and retried.
    let script: Vec<u16> = (0..60)
        .map(|i| if i % 3 == 0 { 503 } else { 200 })
        .collect();
    let server = Server::start(&script).await;
    let d = Dispatcher::start(vec![fast(server.url("/"))]).unwrap();
    for at in 0..30 {
        d.fire(event("leader_changed", at));
    }
    until("all delivered", || d.totals(), |s| s.delivered == 30).await;

    let got = server.requests();
    let accepted: Vec<u64> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.event().at_ms)
        .collect();
    assert_eq!(accepted, (0..30).collect::<Vec<_>>());
    let sent: Vec<u64> = got.iter().map(|r| r.event().at_ms).collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    assert!(got.len() > 30, "some attempts were refused and retried");
}

#[tokio::test]
async fn events_filter_and_several_webhooks() {
    let all = Server::start(&[]).await;
    let leaders = Server::start(&[]).await;
    let d = Dispatcher::start(vec![
        fast(all.url("/all")),
        WebhookConfig {
            events: vec!["became_leader".into()],
            ..fast(leaders.url("/leader"))
        },
    ])
    .unwrap();
    d.fire(event("node_up", 1));
    d.fire(event("became_leader", 2));
    until("deliveries", || d.totals(), |s| s.delivered == 3).await;
    assert_eq!(all.requests().len(), 2);
    let only = leaders.requests();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].event().event, "became_leader");

    let per_hook = d.stats();
    assert_eq!(per_hook.len(), 2);
    assert_eq!(per_hook[0].url, all.url("/all"));
    assert_eq!(per_hook[0].stats.delivered, 2);
    assert_eq!(per_hook[1].stats.delivered, 1);
}
