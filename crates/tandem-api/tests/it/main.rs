//! The admin plane end to end: a real node (embedded store, loopback
//! ports) with its admin plane, driven over real HTTP, with SIPp as
//! phones: credentials and roles, the login limiter, the audit log,
//! extension CRUD that SIP sees at once, registrations, calls and CDRs,
//! metrics, the OpenAPI document and the event stream.

// Tests wait on real time.
#![allow(clippy::disallowed_methods)]

mod harness;

use harness::{basic, Harness};
use std::time::Duration;
use tandem_test_support::{etcd, ports, sipp};

/// Polls `f` every 100 ms for up to `secs` seconds.
fn poll(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 10 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn credentials_roles_audit_and_login_limit() {
    let h = Harness::start("auth");
    // No credentials: 401 with a Basic challenge and a problem document.
    let r = h.request("GET", "/api/v1/extensions", None, None);
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Basic")));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(r.json()["status"], 401);
    // The dashboard's files need none; its API calls do.
    assert_eq!(h.request("GET", "/", None, None).status, 200);
    // Wrong password.
    let wrong = basic(&h.admin_user, "not-the-password");
    assert_eq!(
        h.request("GET", "/api/v1/whoami", Some(&wrong), None)
            .status,
        401
    );
    // The generated admin, a read-only user from the config, an API token.
    let r = h.request("GET", "/api/v1/whoami", Some(&h.admin()), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["role"], "admin");
    let ro = basic("viewer", "viewer-password");
    let r = h.request("GET", "/api/v1/whoami", Some(&ro), None);
    assert_eq!(
        (r.status, r.json()["role"].clone()),
        (200, "read_only".into())
    );
    let token = "Bearer test-token-0123456789";
    let r = h.request("GET", "/api/v1/whoami", Some(token), None);
    assert_eq!((r.status, r.json()["name"].clone()), (200, "ci".into()));
    // Read-only may not change anything.
    let body = serde_json::json!({"number": "3000", "password": "pw-3000x"});
    let r = h.request("POST", "/api/v1/extensions", Some(&ro), Some(&body));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["status"], 403);
    let r = h.request("POST", "/api/v1/extensions", None, Some(&body));
    assert_eq!(r.status, 401);
    // Every change attempt is in the audit log, with who, where and the outcome.
    let audit = std::fs::read_to_string(h.dir.join("admin-audit.jsonl")).expect("audit log");
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert_eq!(lines[0]["user"], "viewer");
    assert_eq!(lines[0]["status"], 403);
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/api/v1/extensions");
    assert_eq!(lines[0]["source_ip"], "127.0.0.1");
    assert!(lines[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(lines[1]["user"], "-");
    assert_eq!(lines[1]["status"], 401);
    // Failed logins are limited per address: after 5 in a row, 429 even
    // with the right password, until the block ends.
    for _ in 0..5 {
        assert_eq!(
            h.request("GET", "/api/v1/whoami", Some(&wrong), None)
                .status,
            401
        );
    }
    let r = h.request("GET", "/api/v1/whoami", Some(&h.admin()), None);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        h.request("GET", "/api/v1/whoami", Some(&h.admin()), None)
            .status,
        200
    );
}

#[test]
fn serves_https_and_public_metrics_when_configured() {
    let h = Harness::start_with("tls", |dir| {
        let cert = tandem_test_support::certs::write_self_signed(dir);
        format!(
            "metrics_public = true\n[admin.tls]\ncertificate = \"{}\"\nprivate_key = \"{}\"\n",
            cert.certificate.display(),
            cert.private_key.display()
        )
    });
    assert!(h.base().starts_with("https://"), "{}", h.base());
    let cert = std::fs::read_to_string(h.dir.join("cert.pem")).expect("cert");
    let answer = h.get_tls(&cert, "/api/v1/whoami", Some(&h.admin()));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"role\":\"admin\""), "{answer}");
    let answer = h.get_tls(&cert, "/api/v1/whoami", None);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // metrics_public: no credentials needed for /metrics alone.
    let answer = h.get_tls(&cert, "/metrics", None);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("tandem_registrations 0"), "{answer}");
}

#[test]
fn extension_crud_is_seen_by_sip_and_registrations_can_be_removed() {
    let h = Harness::start("crud");
    let admin = h.admin();
    let body = serde_json::json!({"number": "2000", "password": "s3cret-2000", "display_name": "Ops desk"});
    let r = h.request("POST", "/api/v1/extensions", Some(&admin), Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("location").as_deref(),
        Some("/api/v1/extensions/2000")
    );
    let rev = r.json()["revision"].as_u64().expect("a revision");
    assert_eq!(
        h.request("POST", "/api/v1/extensions", Some(&admin), Some(&body))
            .status,
        409
    );
    let r = h.request("GET", "/api/v1/extensions/2000", Some(&admin), None);
    assert_eq!(
        (r.status, r.json()["display_name"].clone()),
        (200, "Ops desk".into())
    );
    assert!(r.text().find("ha1").is_none(), "hashes are never shown");
    // Bad input: the problem names the field.
    for (bad, field) in [
        (
            serde_json::json!({"number": "20 00", "password": "s3cret"}),
            "number",
        ),
        (
            serde_json::json!({"number": "2001", "password": "abc"}),
            "password",
        ),
        (
            serde_json::json!({"number": "2001", "password": "s3cret", "colour": "red"}),
            "colour",
        ),
        (
            serde_json::json!({"number": 2001, "password": "s3cret"}),
            "number",
        ),
    ] {
        let r = h.request("POST", "/api/v1/extensions", Some(&admin), Some(&bad));
        assert_eq!(
            (r.status, r.json()["field"].clone()),
            (400, field.into()),
            "{bad}: {}",
            r.text()
        );
    }
    let r = h.request(
        "PUT",
        "/api/v1/extensions/2000",
        Some(&admin),
        Some(&serde_json::json!([null, null])),
    );
    assert_eq!(r.status, 400, "an array is not an object: {}", r.text());
    let r = h.request("PATCH", "/api/v1/extensions/2000", Some(&admin), None);
    assert_eq!((r.status, r.json()["status"].clone()), (405, 405.into()));
    let r = h.request("GET", "/api/v1/extensions?limit=100000", Some(&admin), None);
    assert_eq!((r.status, r.json()["field"].clone()), (400, "limit".into()));
    let r = h.request("GET", "/api/v1/extensions?limit=ten", Some(&admin), None);
    assert_eq!((r.status, r.json()["field"].clone()), (400, "limit".into()));
    let r = h.request("GET", "/api/v1/extensions?colour=red", Some(&admin), None);
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, "colour".into())
    );
    assert_eq!(
        h.request("GET", "/api/v1/extensions/9999", Some(&admin), None)
            .status,
        404
    );
    assert_eq!(
        h.request("GET", "/api/v1/nowhere", Some(&admin), None)
            .status,
        404
    );
    // Paging and filtering.
    let r = h.request(
        "GET",
        "/api/v1/extensions?prefix=101&limit=2&offset=1",
        Some(&admin),
        None,
    );
    let page = r.json();
    assert_eq!(
        (
            page["total"].clone(),
            page["items"].as_array().map(Vec::len)
        ),
        (10.into(), Some(2))
    );
    assert_eq!(page["items"][0]["number"], "1011");
    // A change against a stale revision is refused.
    let change = serde_json::json!({"display_name": "Ops", "revision": rev + 1000});
    let r = h.request(
        "PUT",
        "/api/v1/extensions/2000",
        Some(&admin),
        Some(&change),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let change = serde_json::json!({"display_name": "Ops", "revision": rev});
    let r = h.request(
        "PUT",
        "/api/v1/extensions/2000",
        Some(&admin),
        Some(&change),
    );
    assert_eq!(
        (r.status, r.json()["display_name"].clone()),
        (200, "Ops".into())
    );

    // A phone registers with the new extension's password at once.
    let phone = ports::free_port();
    h.register("2000", "s3cret-2000", phone)
        .expect("registered with the new extension");
    let r = h.request(
        "GET",
        "/api/v1/registrations?extension=2000",
        Some(&admin),
        None,
    );
    assert_eq!(r.json()["total"], 1, "{}", r.text());
    let reg = r.json()["items"][0].clone();
    assert_eq!(reg["extension"], "2000");
    assert!(reg["contact"]
        .as_str()
        .is_some_and(|c| c.contains(&phone.to_string())));
    assert_eq!(r.json()["items"][0]["transport"], "udp");
    let r = h.request("GET", "/api/v1/extensions/2000", Some(&admin), None);
    assert_eq!(r.json()["registrations"], 1);
    // Removing the registration.
    let id = reg["id"].as_str().expect("an id").replace('/', "%2F");
    let r = h.request(
        "DELETE",
        &format!("/api/v1/registrations/{id}"),
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = h.request(
        "GET",
        "/api/v1/registrations?extension=2000",
        Some(&admin),
        None,
    );
    assert_eq!(r.json()["total"], 0);
    let r = h.request(
        "DELETE",
        &format!("/api/v1/registrations/{id}"),
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 404);
    // Removing the extension: SIP refuses it at once.
    let r = h.request("DELETE", "/api/v1/extensions/2000", Some(&admin), None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        h.request("GET", "/api/v1/extensions/2000", Some(&admin), None)
            .status,
        404
    );
    assert_eq!(
        h.request("DELETE", "/api/v1/extensions/2000", Some(&admin), None)
            .status,
        404
    );
    assert!(
        h.register("2000", "s3cret-2000", phone).is_err(),
        "a removed extension cannot register"
    );
}

#[test]
fn calls_cdrs_and_metrics_after_a_sipp_call() {
    let h = Harness::start("calls");
    let admin = h.admin();
    let before = h.metrics();
    let (uas_port, uac_port) = (ports::free_port(), ports::free_port());
    h.register("1001", "pw-1001", uas_port)
        .expect("callee registered");
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &[
            "-p",
            &uas_port.to_string(),
            "-m",
            "2",
            "-recv_timeout",
            "10000",
        ],
        Duration::from_secs(30),
    );
    let target = h.sip_target();
    let auth_uri = format!("1001@{target}");
    let uac_p = uac_port.to_string();
    let r = sipp::call(
        "uac_auth.xml",
        &target,
        &sipp::Caller {
            port: &uac_p,
            caller: "1000",
            callee: "1001",
            auth_uri: &auth_uri,
        },
        &["-recv_timeout", "5000", "-d", "100", "-m", "2", "-r", "10"],
        Duration::from_secs(30),
    );
    assert_eq!((r.successful, r.failed), (2, 0), "{}", r.output);
    assert_eq!(uas.wait().failed, 0);
    // The CDRs land (written by the call's owner once the BYE is through).
    let mut cdrs = serde_json::Value::Null;
    for _ in 0..50 {
        cdrs = h
            .request("GET", "/api/v1/cdrs?extension=1000", Some(&admin), None)
            .json();
        if cdrs["total"] == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cdrs["total"], 2, "{cdrs}");
    assert_eq!(cdrs["items"][0]["end_cause"], "answered");
    assert_eq!(cdrs["items"][0]["callee"], "1001");
    let first_end = cdrs["items"][1]["end_ms"].as_u64().expect("end_ms");
    // A time range that leaves the older one out; other extensions see none.
    let r = h.request(
        "GET",
        &format!("/api/v1/cdrs?from_ms={}", first_end + 1),
        Some(&admin),
        None,
    );
    assert!(
        r.json()["total"].as_u64().is_some_and(|n| n <= 1),
        "{}",
        r.text()
    );
    let r = h.request("GET", "/api/v1/cdrs?extension=1005", Some(&admin), None);
    assert_eq!(r.json()["total"], 0);
    let r = h.request("GET", "/api/v1/cdrs?from_ms=10&to_ms=5", Some(&admin), None);
    assert_eq!((r.status, r.json()["total"].clone()), (200, 0.into()));
    let r = h.request("GET", "/api/v1/cdrs?from_ms=-1", Some(&admin), None);
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, "from_ms".into())
    );
    // CSV export.
    let r = h.request(
        "GET",
        "/api/v1/cdrs?format=csv&order=asc",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/csv")));
    let csv = r.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,call_id,caller,callee,"));
    assert!(lines[1].contains(",1000,1001,") && lines[1].contains(",answered,200,"));
    // No call is left in progress.
    let r = h.request("GET", "/api/v1/calls", Some(&admin), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 0, "{}", r.text());
    // The counters moved as SIPp's own counts say.
    let after = h.metrics();
    let delta = |name: &str| {
        after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
    };
    assert_eq!(delta("tandem_calls_started_total"), 2.0, "{after:?}");
    // Each call: INVITE without and with credentials, from the caller.
    assert_eq!(
        delta("tandem_sip_requests_received_total{method=\"INVITE\"}"),
        4.0
    );
    assert_eq!(
        delta("tandem_sip_requests_received_total{method=\"BYE\"}"),
        2.0
    );
    assert!(delta("tandem_sip_responses_received_total{method=\"INVITE\",status=\"2xx\"}") >= 2.0);
    assert!(delta("tandem_store_commits_total{outcome=\"ok\"}") >= 3.0);
    assert!(after
        .get("tandem_store_commit_duration_seconds_count")
        .is_some_and(|n| *n >= 3.0));
    assert_eq!(after.get("tandem_registrations"), Some(&1.0));
    assert_eq!(after.get("tandem_extensions"), Some(&20.0));
    assert!(after.contains_key("tandem_dialogs{state=\"confirmed\"}"));
    assert!(after.contains_key("tandem_failover_duration_seconds_count"));
}

#[test]
fn openapi_describes_every_route_and_the_rest_answers() {
    let h = Harness::start("openapi");
    let admin = h.admin();
    let r = h.request("GET", "/api/v1/openapi.json", Some(&admin), None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().expect("paths");
    let mut operations = 0;
    for (path, ops) in &paths {
        for (method, op) in ops.as_object().cloned().expect("operations") {
            operations += 1;
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
            // Every documented route is served (not the fallback's 404).
            if method == "get" && !path.contains('{') && path != "/api/v1/events" {
                let r = h.request("GET", path, Some(&admin), None);
                assert_eq!(r.status, 200, "GET {path}: {}", r.text());
            }
        }
    }
    assert_eq!(operations, 18);
    for route in [
        "/api/v1/extensions",
        "/api/v1/extensions/{number}",
        "/api/v1/registrations",
        "/api/v1/registrations/{id}",
        "/api/v1/calls",
        "/api/v1/cdrs",
        "/api/v1/cluster",
        "/api/v1/cluster/events",
        "/api/v1/cluster/nodes/{node}/drain",
        "/metrics",
    ] {
        assert!(paths.contains_key(route), "{route}");
    }
    // The cluster view of a single node: itself.
    let c = h
        .request("GET", "/api/v1/cluster", Some(&admin), None)
        .json();
    assert_eq!(c["nodes"][0]["node"], "openapi");
    assert_eq!(c["nodes"][0]["role"], "standalone");
    assert_eq!(c["leader"], serde_json::Value::Null);
    let r = h.request(
        "POST",
        "/api/v1/cluster/nodes/openapi/drain",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // The event stream sends a snapshot at once.
    let first = h.first_event("/api/v1/events", &admin);
    assert!(first.contains("event: snapshot"), "{first}");
    assert!(first.contains("\"registrations\":0"), "{first}");
    // Metrics need credentials unless made public.
    assert_eq!(h.request("GET", "/metrics", None, None).status, 401);
}

#[test]
fn cluster_report_and_drain_through_the_api() {
    let etcd = etcd::Cluster::start(1);
    let storage = format!(
        "[storage]\nbackend = \"etcd\"\n\n[storage.etcd]\nendpoints = [\"http://{}\"]\nprefix = \"/api-it-{}/\"\n\n[cluster]\nhealth_interval_ms = 200\n",
        etcd.endpoints()[0],
        std::process::id()
    );
    let h = Harness::start_clustered("clu", &storage);
    let admin = h.admin();
    let cluster = || {
        h.request("GET", "/api/v1/cluster", Some(&admin), None)
            .json()
    };
    assert!(
        poll(15, || {
            let c = cluster();
            // The presence record follows the leader key within a second.
            c["leader"]["node"] == "clu" && c["nodes"][0]["role"] == "leader"
        }),
        "no leader: {}",
        cluster()
    );
    let c = cluster();
    assert!(c["leader"]["epoch"].as_u64().is_some_and(|e| e > 0), "{c}");
    assert_eq!(c["nodes"][0]["node"], "clu");
    assert_eq!(c["nodes"][0]["role"], "leader");
    assert!(c["nodes"][0]["replication_lag_revs"].is_u64(), "{c}");
    let m = h.metrics();
    assert!(
        m.get("tandem_cluster_leader_epoch")
            .is_some_and(|e| *e > 0.0),
        "{m:?}"
    );
    // Drain through the API: the node steps down and says it drains.
    let ghost = h.request(
        "POST",
        "/api/v1/cluster/nodes/ghost/drain",
        Some(&admin),
        None,
    );
    assert_eq!(ghost.status, 404, "{}", ghost.text());
    let r = h.request(
        "POST",
        "/api/v1/cluster/nodes/clu/drain",
        Some(&admin),
        None,
    );
    assert_eq!(
        (r.status, r.json()["draining"].clone()),
        (200, true.into()),
        "{}",
        r.text()
    );
    assert!(
        poll(10, || cluster()["nodes"][0]["draining"] == true),
        "not draining: {}",
        cluster()
    );
    assert!(poll(10, || {
        let e = h
            .request("GET", "/api/v1/cluster/events?node=clu", Some(&admin), None)
            .json();
        let names: Vec<&str> = e["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["event"].as_str())
            .collect();
        names.contains(&"became_leader") && names.contains(&"stepped_down")
    }));
    let r = h.request(
        "POST",
        "/api/v1/cluster/nodes/clu/resume",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        poll(10, || cluster()["nodes"][0]["draining"] == false),
        "still draining: {}",
        cluster()
    );
    // Without its store the API says so: 503 with a problem document.
    let mut etcd = etcd;
    etcd.kill(0);
    let r = h.request("GET", "/api/v1/extensions", Some(&admin), None);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["status"], 503);
    assert!(r.header("retry-after").is_some());
    // The audit log beside the config file has the three actions.
    let audit = std::fs::read_to_string(h.dir.join("admin-audit.jsonl")).expect("audit log");
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("/drain") || l.contains("/resume"))
            .count(),
        3,
        "{audit}"
    );
}
