//! A node with its admin plane in this process, and an HTTP client.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tandem_api::AdminPlane;
use tandem_node::Node;
use tandem_test_support::{ports, sipp};

/// `Authorization` for HTTP Basic.
pub(crate) fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

/// One answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

pub(crate) struct Harness {
    rt: tokio::runtime::Runtime,
    node: Option<Node>,
    api: Option<AdminPlane>,
    pub(crate) dir: PathBuf,
    sip_port: u16,
    base: String,
    pub(crate) admin_user: String,
    admin_password: String,
}

impl Harness {
    /// Extensions 1000..1019 (pw-<n>), a read-only user `viewer`, an
    /// admin token for `ci`, and the generated `admin`.
    pub(crate) fn start(tag: &str) -> Harness {
        Harness::start_with(tag, |_| String::new())
    }

    /// A cluster node: `storage` replaces the embedded `[storage]` section.
    pub(crate) fn start_clustered(tag: &str, storage: &str) -> Harness {
        Harness::start_full(tag, storage, |_| String::new())
    }

    /// As [`Harness::start`], with more `[admin]` keys (and subtables)
    /// made by `extra` in the test's folder.
    pub(crate) fn start_with(tag: &str, extra: impl FnOnce(&std::path::Path) -> String) -> Harness {
        Harness::start_full(tag, "[storage]\npath = \"state.db\"\n", extra)
    }

    fn start_full(
        tag: &str,
        storage: &str,
        extra: impl FnOnce(&std::path::Path) -> String,
    ) -> Harness {
        let dir = std::env::temp_dir().join(format!("tandem-api-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let extra = extra(&dir);
        let sip_port = ports::free_port();
        let viewer_hash = tandem_api::hash_password("viewer-password");
        let token_sha = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(b"test-token-0123456789");
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let mut toml = format!(
            "[node]\nname = \"{tag}\"\nshutdown_grace_secs = 1\n\n[sip]\nlisten = [\"udp:127.0.0.1:{sip_port}\"]\n\n\
             [pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n{storage}\n\
             [admin]\nlisten = \"127.0.0.1:0\"\nlogin_failures_max = 5\nlogin_block_secs = 2\n{extra}\n\
             [[admin.users]]\nname = \"viewer\"\nrole = \"read_only\"\npassword_hash = \"{viewer_hash}\"\n\n\
             [[admin.tokens]]\nname = \"ci\"\nrole = \"admin\"\ntoken_sha256 = \"{token_sha}\"\n\n"
        );
        for n in 1000..1020 {
            toml.push_str(&format!(
                "[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\n\n"
            ));
        }
        let path = dir.join("tandem.toml");
        std::fs::write(&path, toml).expect("config written");
        let config = tandem_config::Config::load(&path).expect("valid config");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (node, api) = rt.block_on(async {
            let node = Node::start(&config, &[]).await.expect("node started");
            let api = AdminPlane::start(&node, &config)
                .await
                .expect("admin plane started");
            (node, api)
        });
        let (admin_user, admin_password) = api
            .initial_credentials()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .expect("an admin user created on first start");
        assert_eq!(admin_user, "admin");
        assert!(admin_password.len() >= 20);
        let base = api.url();
        Harness {
            rt,
            node: Some(node),
            api: Some(api),
            dir,
            sip_port,
            base,
            admin_user,
            admin_password,
        }
    }

    pub(crate) fn admin(&self) -> String {
        basic(&self.admin_user, &self.admin_password)
    }

    pub(crate) fn sip_target(&self) -> String {
        format!("127.0.0.1:{}", self.sip_port)
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let uri = format!("{}{}", self.base, path);
        self.rt.block_on(async {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let mut req = hyper::Request::builder().method(method).uri(uri);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let payload = match body {
                Some(b) => {
                    req = req.header("content-type", "application/json");
                    Bytes::from(b.to_string())
                }
                None => Bytes::new(),
            };
            let req = req.body(Full::new(payload)).expect("a request");
            let res = tokio::time::timeout(Duration::from_secs(20), client.request(req))
                .await
                .expect("answered in time")
                .expect("an HTTP answer");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res.into_body().collect().await.expect("a body").to_bytes();
            Reply {
                status,
                headers,
                body,
            }
        })
    }

    /// The base URL (`http://...` or `https://...`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// GET over HTTPS, trusting `cert_pem` only; the whole answer as text.
    pub(crate) fn get_tls(&self, cert_pem: &str, path: &str, auth: Option<&str>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls::pki_types::ServerName;
        use tokio_rustls::rustls::{ClientConfig, RootCertStore};
        let addr = self.base.trim_start_matches("https://").to_owned();
        let mut roots = RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut cert_pem.as_bytes()) {
            roots.add(c.expect("a PEM certificate")).expect("a root");
        }
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some(a) = auth {
            request.push_str(&format!("Authorization: {a}\r\n"));
        }
        request.push_str("\r\n");
        self.rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connected");
            let name = ServerName::try_from("localhost").expect("a name");
            let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
            tls.write_all(request.as_bytes()).await.expect("sent");
            let mut answer = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await;
            String::from_utf8_lossy(&answer).into_owned()
        })
    }

    /// The first chunk of an event stream.
    pub(crate) fn first_event(&self, path: &str, auth: &str) -> String {
        let uri = format!("{}{}", self.base, path);
        self.rt.block_on(async {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let req = hyper::Request::builder()
                .uri(uri)
                .header("authorization", auth)
                .body(Full::new(Bytes::new()))
                .expect("a request");
            let res = client.request(req).await.expect("an HTTP answer");
            assert_eq!(res.status(), 200);
            assert!(res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream")));
            let mut body = res.into_body();
            let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .expect("an event in time")
                .expect("a frame")
                .expect("data");
            String::from_utf8_lossy(frame.data_ref().map_or(&[][..], |b| &b[..])).into_owned()
        })
    }

    /// `/metrics` as `series -> value`, checking that every line parses.
    pub(crate) fn metrics(&self) -> HashMap<String, f64> {
        let r = self.request("GET", "/metrics", Some(&self.admin()), None);
        assert_eq!(r.status, 200);
        let mut out = HashMap::new();
        for line in r.text().lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            out.insert(series.to_owned(), value);
        }
        assert!(r.text().ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
        out
    }

    /// Registers `user` from a SIPp on `port` (it can then serve calls there).
    pub(crate) fn register(&self, user: &str, password: &str, port: u16) -> Result<(), String> {
        let r = sipp::run(
            &sipp::scenario("uas_register.xml"),
            &self.sip_target(),
            &[
                "-p",
                &port.to_string(),
                "-s",
                user,
                "-ap",
                password,
                "-key",
                "expires",
                "3600",
                "-m",
                "1",
                "-recv_timeout",
                "3000",
            ],
            Duration::from_secs(15),
        );
        if (r.successful, r.failed) == (1, 0) {
            Ok(())
        } else {
            Err(r.output)
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let (api, node) = (self.api.take(), self.node.take());
        self.rt.block_on(async {
            if let Some(a) = api {
                a.shutdown().await;
            }
            if let Some(n) = node {
                n.shutdown().await;
            }
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
