//! TLS (rustls client with a test certificate) and WebSocket (RFC 7118,
//! `sip` subprotocol) end to end: OPTIONS answered 200 over each.

use crate::node::{self, TempDir};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tandem_sip::{Message, ParseOptions};
use tandem_test_support::{certs, ports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn options(transport: &str, port: u16, n: u32) -> String {
    format!(
        "OPTIONS sip:127.0.0.1:{port};transport={} SIP/2.0\r\nVia: SIP/2.0/{transport} client.invalid;branch=z9hG4bKtw{n}\r\nMax-Forwards: 70\r\nFrom: <sip:t@client.invalid>;tag=t{n}\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: tw-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        transport.to_lowercase()
    )
}

fn start_with_tls(
    dir: &TempDir,
    listen: &[String],
) -> (tandem_test_support::process::Proc, certs::TestCert) {
    let cert = certs::write_self_signed(&dir.0);
    let config = dir.0.join("tandem.toml");
    let listen: Vec<String> = listen.iter().map(|l| format!("\"{l}\"")).collect();
    std::fs::write(
        &config,
        format!("[sip]\nlisten = [{}]\n\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n", listen.join(", ")),
    )
    .unwrap();
    (node::start(&["--config", config.to_str().unwrap()]), cert)
}

fn tls_connector(cert_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn options_over_tls() {
    let dir = TempDir::new("tls");
    let port = ports::free_port();
    let (_tandem, cert) = start_with_tls(&dir, &[format!("tls:127.0.0.1:{port}")]);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut tls = tls_connector(&cert.certificate_pem)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with tandem's certificate");
    for n in 0..3 {
        tls.write_all(options("TLS", port, n).as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let got = tokio::time::timeout(Duration::from_secs(3), tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let m = Message::parse(buf[..got].to_vec(), &ParseOptions::default()).unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.branch(), Some(format!("z9hG4bKtw{n}").as_str()));
    }
}

#[tokio::test]
async fn options_over_websocket_and_secure_websocket() {
    let dir = TempDir::new("ws");
    let ws_port = ports::free_port();
    let wss_port = ports::free_port();
    let (_tandem, cert) = start_with_tls(
        &dir,
        &[
            format!("ws:127.0.0.1:{ws_port}"),
            format!("wss:127.0.0.1:{wss_port}"),
        ],
    );

    // Plain WebSocket with the sip subprotocol.
    let mut req = format!("ws://127.0.0.1:{ws_port}/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws handshake");
    assert_eq!(resp.headers().get("Sec-WebSocket-Protocol").unwrap(), "sip");
    ws.send(WsMessage::text(options("WS", ws_port, 10)))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let m = Message::parse(reply.into_data(), &ParseOptions::default()).unwrap();
    assert_eq!(m.status(), Some(200));

    // Without the subprotocol the upgrade is refused (RFC 7118 §4.1).
    let bare = format!("ws://127.0.0.1:{ws_port}/")
        .into_client_request()
        .unwrap();
    assert!(tokio_tungstenite::connect_async(bare).await.is_err());

    // Secure WebSocket.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", wss_port))
        .await
        .unwrap();
    let tls = tls_connector(&cert.certificate_pem)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut req = format!("wss://localhost:{wss_port}/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut wss, _) = tokio_tungstenite::client_async(req, tls)
        .await
        .expect("wss handshake");
    wss.send(WsMessage::text(options("WSS", wss_port, 11)))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(3), wss.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let m = Message::parse(reply.into_data(), &ParseOptions::default()).unwrap();
    assert_eq!(m.status(), Some(200));
}
