//! TLS server configuration (rustls) from PEM files: a certificate chain and
//! its private key (RFC 3261 §26.2: SIPS and TLS hops).

use crate::error::Error;
use crate::transports::TlsFiles;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Loads the files and builds an acceptor (SIP over TLS, and the admin
/// plane's HTTPS).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Error> {
    let cert_err = |why: String| Error::TlsFile {
        path: files.certificate.clone(),
        why,
    };
    let key_err = |why: String| Error::TlsFile {
        path: files.private_key.clone(),
        why,
    };
    let cert_pem = std::fs::read(&files.certificate).map_err(|e| cert_err(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(cert_err(
            "no certificate found (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let key_pem = std::fs::read(&files.private_key).map_err(|e| key_err(e.to_string()))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| key_err(format!("not a PEM private key: {e}")))?
        .ok_or_else(|| {
            key_err("no private key found (expected -----BEGIN PRIVATE KEY-----)".into())
        })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            key_err(format!(
                "certificate and key do not match or are unusable: {e}"
            ))
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
