//! Delivery over TLS to a receiver whose certificate the dispatcher is
//! told to trust, and refusal of one it does not trust.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tandem_webhook::{verify, Dispatcher, WebhookConfig};
use tokio_rustls::TlsAcceptor;

use crate::server::{event, fast, until, Server};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS receiver for 127.0.0.1 with a fresh self-signed certificate.
async fn tls_server() -> (Server, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let server = Server::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), &[], Some(acceptor)).await;
    (server, cert)
}

fn client_trusting(cert: Option<CertificateDer<'static>>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(cert) = cert {
        roots.add(cert).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn https_post_to_a_trusted_receiver() {
    let (server, cert) = tls_server().await;
    let config = WebhookConfig {
        secret: Some("s".into()),
        ..fast(format!("https://{}/secure", server.addr))
    };
    let d = Dispatcher::start_with_tls(vec![config], client_trusting(Some(cert))).unwrap();
    d.fire(event("became_leader", 9));
    until("delivery", || d.totals(), |s| s.delivered == 1).await;
    let r = &server.requests()[0];
    assert_eq!(r.uri, "/secure");
    assert!(verify(b"s", &r.body, r.header("x-tandem-signature")));
}

#[tokio::test]
async fn https_to_an_untrusted_receiver_fails() {
    let (server, _cert) = tls_server().await;
    let config = WebhookConfig {
        retries_max: 1,
        ..fast(format!("https://{}/secure", server.addr))
    };
    let d = Dispatcher::start_with_tls(vec![config], client_trusting(None)).unwrap();
    d.fire(event("became_leader", 9));
    until("failure", || d.totals(), |s| s.failed == 1).await;
    assert!(server.requests().is_empty());
}
