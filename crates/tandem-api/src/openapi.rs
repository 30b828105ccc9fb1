//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of every route,
//! written by hand (serde_json) beside the route table it must match; a
//! test checks that they agree.

use axum::Json;
use serde_json::{json, Map, Value};

/// Every route the admin plane serves, as `(method, path)`.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/whoami"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/extensions"),
    ("post", "/api/v1/extensions"),
    ("get", "/api/v1/extensions/{number}"),
    ("put", "/api/v1/extensions/{number}"),
    ("delete", "/api/v1/extensions/{number}"),
    ("get", "/api/v1/registrations"),
    ("delete", "/api/v1/registrations/{id}"),
    ("get", "/api/v1/calls"),
    ("get", "/api/v1/cdrs"),
    ("get", "/api/v1/cluster"),
    ("get", "/api/v1/cluster/events"),
    ("post", "/api/v1/cluster/nodes/{node}/drain"),
    ("post", "/api/v1/cluster/nodes/{node}/resume"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/metrics"),
];

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description})
}

fn paging() -> Vec<Value> {
    vec![
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
            "page size",
        ),
        query(
            "offset",
            json!({"type": "integer", "minimum": 0, "maximum": 4_294_967_295u64, "default": 0}),
            "items to skip",
        ),
    ]
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"}
        }
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// One operation, with the error responses every authenticated route has.
fn op(
    summary: &str,
    params: Vec<Value>,
    body: Option<Value>,
    mut responses: Map<String, Value>,
) -> Value {
    responses.insert("400".into(), problem("bad input: the `field` names it"));
    responses.insert("401".into(), problem("no or wrong credentials"));
    responses.insert("403".into(), problem("the read_only role may only read"));
    responses.insert(
        "429".into(),
        problem("too many failed logins from this address"),
    );
    responses.insert("503".into(), problem("the store is unavailable"));
    let mut o = json!({"summary": summary, "parameters": params, "responses": responses});
    if let Some(schema) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    o
}

fn responses(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn schemas() -> Value {
    json!({
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "field": {"type": "string", "description": "the query parameter or body field at fault"}
            }
        },
        "Whoami": {
            "type": "object", "required": ["name", "role", "node"],
            "properties": {"name": {"type": "string"}, "role": {"enum": ["admin", "read_only"]}, "node": {"type": "string"}}
        },
        "Counts": {
            "type": "object",
            "required": ["registrations", "calls_early", "calls_confirmed", "extensions", "calls_started_total", "revision"],
            "properties": {
                "registrations": {"type": "integer"}, "calls_early": {"type": "integer"},
                "calls_confirmed": {"type": "integer"}, "extensions": {"type": "integer"},
                "calls_started_total": {"type": "integer"}, "revision": {"type": "integer"}
            }
        },
        "Status": {
            "type": "object", "required": ["node", "version", "uptime_secs", "counts", "cluster"],
            "properties": {
                "node": {"type": "string"}, "version": {"type": "string"}, "uptime_secs": {"type": "integer"},
                "counts": {"$ref": "#/components/schemas/Counts"}, "cluster": {"$ref": "#/components/schemas/Cluster"}
            }
        },
        "Extension": {
            "type": "object",
            "required": ["number", "realm", "demo_password", "registrations", "revision"],
            "properties": {
                "number": {"type": "string"},
                "display_name": {"type": ["string", "null"]},
                "realm": {"type": "string"},
                "demo_password": {"type": "boolean"},
                "caller_id": {"type": ["string", "null"]},
                "group": {"type": ["string", "null"]},
                "registrations": {"type": "integer"},
                "revision": {"type": "integer", "description": "store revision of its last change"}
            }
        },
        "NewExtension": {
            "type": "object", "additionalProperties": false,
            "required": ["number", "password"],
            "properties": {
                "number": {"type": "string", "pattern": "^[A-Za-z0-9_.+-]{1,64}$"},
                "password": {"type": "string", "minLength": 4, "maxLength": 128},
                "display_name": {"type": ["string", "null"], "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$"}
            }
        },
        "ExtensionChange": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "password": {"type": ["string", "null"], "minLength": 4, "maxLength": 128},
                "display_name": {"type": ["string", "null"], "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$"},
                "revision": {"type": ["integer", "null"], "minimum": 0, "maximum": 18_446_744_073_709_551_615u64, "description": "the revision read: 409 if it changed since"}
            }
        },
        "Registration": {
            "type": "object",
            "required": ["id", "extension", "contact", "transport", "source", "node", "q", "registered_at_ms", "expires_at_ms", "expires_in_secs"],
            "properties": {
                "id": {"type": "string", "description": "store key bind/<aor>/<id>, for DELETE"},
                "extension": {"type": "string"}, "contact": {"type": "string"},
                "transport": {"type": "string"}, "source": {"type": "string"}, "node": {"type": "string"},
                "user_agent": {"type": ["string", "null"]}, "instance": {"type": ["string", "null"]},
                "q": {"type": "number"}, "registered_at_ms": {"type": "integer"},
                "expires_at_ms": {"type": "integer"}, "expires_in_secs": {"type": "integer"}
            }
        },
        "Call": {
            "type": "object",
            "required": ["call_id", "caller", "callee", "state", "started_ms", "duration_secs", "owner"],
            "properties": {
                "call_id": {"type": "string"}, "caller": {"type": "string"}, "callee": {"type": "string"},
                "state": {"enum": ["early", "confirmed"]}, "started_ms": {"type": "integer"},
                "answered_ms": {"type": ["integer", "null"]}, "duration_secs": {"type": "integer"},
                "owner": {"type": "string"}
            }
        },
        "Cdr": {
            "type": "object",
            "required": ["id", "call_id", "caller", "callee", "start_ms", "end_ms", "duration_ms", "end_cause", "status"],
            "properties": {
                "id": {"type": "string"}, "call_id": {"type": "string"},
                "caller": {"type": "string"}, "callee": {"type": "string"},
                "start_ms": {"type": "integer"}, "answer_ms": {"type": ["integer", "null"]},
                "end_ms": {"type": "integer"}, "duration_ms": {"type": "integer"},
                "end_cause": {"type": "string"}, "status": {"type": "integer"},
                "hangup_by": {"enum": ["caller", "callee", "system", null]}, "node": {"type": "string"}
            }
        },
        "Event": {
            "type": "object", "required": ["at_ms", "node", "event", "detail"],
            "properties": {"at_ms": {"type": "integer"}, "node": {"type": "string"}, "event": {"type": "string"}, "detail": {}}
        },
        "Node": {
            "type": "object",
            "required": ["node", "healthy", "draining", "replication_lag_revs"],
            "properties": {
                "node": {"type": "string"}, "healthy": {"type": "boolean"}, "draining": {"type": "boolean"},
                "role": {"type": "string"}, "epoch": {"type": ["integer", "null"]},
                "holds_floating_ip": {"type": "boolean"}, "sip": {"type": "array", "items": {"type": "string"}},
                "sip_udp": {"type": ["string", "null"]}, "applied_rev": {"type": "integer"},
                "started_ms": {"type": "integer"}, "updated_ms": {"type": "integer"},
                "version": {"type": "string"}, "health": {"type": "object"},
                "replication_lag_revs": {"type": "integer"}
            }
        },
        "Cluster": {
            "type": "object",
            "description": "what `tandem cluster status --json` prints",
            "required": ["revision", "floating_ip_holders", "nodes", "events"],
            "properties": {
                "revision": {"type": "integer"},
                "leader": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["node", "epoch"], "properties": {"node": {"type": "string"}, "epoch": {"type": "integer"}}}]},
                "floating_ip": {"type": ["string", "null"]},
                "floating_ip_holders": {"type": "array", "items": {"type": "string"}},
                "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
            }
        },
        "Control": {
            "type": "object", "required": ["node", "draining", "revision"],
            "properties": {"node": {"type": "string"}, "draining": {"type": "boolean"}, "revision": {"type": "integer"}}
        }
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let revision_q = query(
        "revision",
        json!({"type": "integer", "minimum": 0, "maximum": 18_446_744_073_709_551_615u64}),
        "the revision read: 409 if it changed since",
    );
    let number = path_param("number", "the extension number");
    let node = path_param("node", "the node's name");
    let ext_filter = query(
        "extension",
        json!({"type": "string"}),
        "only this extension's",
    );
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = operation;
    };
    add(
        "/api/v1/whoami",
        "get",
        op(
            "who the credentials belong to",
            vec![],
            None,
            responses(vec![("200", ok_json("the caller", reference("Whoami")))]),
        ),
    );
    add(
        "/api/v1/status",
        "get",
        op(
            "this node: version, uptime, live counts, the cluster",
            vec![],
            None,
            responses(vec![("200", ok_json("status", reference("Status")))]),
        ),
    );
    add(
        "/api/v1/extensions",
        "get",
        op(
            "list extensions",
            [
                paging(),
                vec![query(
                    "prefix",
                    json!({"type": "string"}),
                    "only numbers starting with this",
                )],
            ]
            .concat(),
            None,
            responses(vec![(
                "200",
                ok_json("a page of extensions", page_of("Extension")),
            )]),
        ),
    );
    add(
        "/api/v1/extensions",
        "post",
        op(
            "create an extension",
            vec![],
            Some(reference("NewExtension")),
            responses(vec![
                (
                    "201",
                    ok_json("created (Location names it)", reference("Extension")),
                ),
                ("409", problem("it exists")),
                ("415", problem("the body is not JSON")),
            ]),
        ),
    );
    add(
        "/api/v1/extensions/{number}",
        "get",
        op(
            "read an extension",
            vec![number.clone()],
            None,
            responses(vec![
                ("200", ok_json("the extension", reference("Extension"))),
                ("404", problem("no such extension")),
            ]),
        ),
    );
    add(
        "/api/v1/extensions/{number}",
        "put",
        op(
            "change an extension's password or name",
            vec![number.clone()],
            Some(reference("ExtensionChange")),
            responses(vec![
                ("200", ok_json("changed", reference("Extension"))),
                ("404", problem("no such extension")),
                ("409", problem("it changed since `revision`")),
                ("415", problem("the body is not JSON")),
            ]),
        ),
    );
    add(
        "/api/v1/extensions/{number}",
        "delete",
        op(
            "remove an extension and its registrations",
            vec![number, revision_q],
            None,
            responses(vec![
                ("204", json!({"description": "removed"})),
                ("404", problem("no such extension")),
                ("409", problem("it changed since `revision`")),
            ]),
        ),
    );
    add(
        "/api/v1/registrations",
        "get",
        op(
            "list live registrations",
            [paging(), vec![ext_filter.clone()]].concat(),
            None,
            responses(vec![(
                "200",
                ok_json("a page of registrations", page_of("Registration")),
            )]),
        ),
    );
    add(
        "/api/v1/registrations/{id}",
        "delete",
        op(
            "remove a registration",
            vec![path_param("id", "its id as listed (URL-encoded)")],
            None,
            responses(vec![
                ("204", json!({"description": "removed"})),
                ("404", problem("no such registration")),
            ]),
        ),
    );
    add(
        "/api/v1/calls",
        "get",
        op(
            "list calls in progress",
            [
                paging(),
                vec![
                    query(
                        "extension",
                        json!({"type": "string"}),
                        "only calls from or to this extension",
                    ),
                    query(
                        "state",
                        json!({"enum": ["early", "confirmed"]}),
                        "only calls in this state",
                    ),
                ],
            ]
            .concat(),
            None,
            responses(vec![("200", ok_json("a page of calls", page_of("Call")))]),
        ),
    );
    add(
        "/api/v1/cdrs",
        "get",
        op(
            "query call detail records",
            [
                paging(),
                vec![
                    query(
                        "from_ms",
                        json!({"type": "integer", "minimum": 0, "maximum": 18_446_744_073_709_551_615u64}),
                        "calls that ended at or after (Unix ms)",
                    ),
                    query(
                        "to_ms",
                        json!({"type": "integer", "minimum": 0, "maximum": 18_446_744_073_709_551_615u64}),
                        "calls that ended before (Unix ms)",
                    ),
                    query(
                        "extension",
                        json!({"type": "string"}),
                        "only calls from or to this extension",
                    ),
                    query(
                        "order",
                        json!({"enum": ["asc", "desc"], "default": "desc"}),
                        "by end time",
                    ),
                    query(
                        "format",
                        json!({"enum": ["json", "csv"], "default": "json"}),
                        "csv: an export (limit up to 1000000)",
                    ),
                ],
            ]
            .concat(),
            None,
            responses(vec![(
                "200",
                json!({"description": "a page of CDRs, or CSV", "content": {
            "application/json": {"schema": page_of("Cdr")},
            "text/csv": {"schema": {"type": "string"}}}}),
            )]),
        ),
    );
    add(
        "/api/v1/cluster",
        "get",
        op(
            "the cluster: nodes, leader, epoch, floating-IP holders, health, lag, latest events",
            vec![query(
                "events",
                json!({"type": "integer", "minimum": 0, "maximum": 1000, "default": 50}),
                "timeline events to include",
            )],
            None,
            responses(vec![("200", ok_json("the cluster", reference("Cluster")))]),
        ),
    );
    add(
        "/api/v1/cluster/events",
        "get",
        op(
            "the failover timeline, oldest first",
            vec![
                query(
                    "limit",
                    json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    "the latest this many",
                ),
                query("node", json!({"type": "string"}), "only this node's"),
            ],
            None,
            responses(vec![(
                "200",
                ok_json(
                    "events",
                    json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": reference("Event")}}}),
                ),
            )]),
        ),
    );
    add(
        "/api/v1/cluster/nodes/{node}/drain",
        "post",
        op(
            "drain a node: leadership and the floating IP move away, no new calls",
            vec![node.clone()],
            None,
            responses(vec![
                ("200", ok_json("asked", reference("Control"))),
                ("404", problem("the node is not up")),
                ("409", problem("a single node has no cluster")),
            ]),
        ),
    );
    add(
        "/api/v1/cluster/nodes/{node}/resume",
        "post",
        op(
            "undo a drain",
            vec![node],
            None,
            responses(vec![
                ("200", ok_json("asked", reference("Control"))),
                ("404", problem("the node is not up")),
                ("409", problem("a single node has no cluster")),
            ]),
        ),
    );
    add(
        "/api/v1/events",
        "get",
        op(
            "server-sent events: a `snapshot` (counts and cluster) every second",
            vec![],
            None,
            responses(vec![(
                "200",
                json!({"description": "an event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
            )]),
        ),
    );
    add(
        "/api/v1/openapi.json",
        "get",
        op(
            "this document",
            vec![],
            None,
            responses(vec![(
                "200",
                ok_json("OpenAPI 3.1", json!({"type": "object"})),
            )]),
        ),
    );
    add(
        "/metrics",
        "get",
        op(
            "Prometheus metrics (no credentials with admin.metrics_public)",
            vec![],
            None,
            responses(vec![(
                "200",
                json!({"description": "OpenMetrics text", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}),
            )]),
        ),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tandem operations API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Extensions, registrations, calls, CDRs and the cluster of a tandem PBX. Errors are RFC 9457 problem details. See docs/operations.md."
        },
        "security": [{"basic": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"}
            },
            "schemas": schemas()
        }
    })
}

pub(crate) async fn get() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_route_and_nothing_else() {
        let doc = document();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        let mut documented = Vec::new();
        for (path, ops) in &paths {
            for method in ops
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                documented.push((method, path.clone()));
            }
        }
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
        }
    }
}
