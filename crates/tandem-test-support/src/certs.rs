//! Self-signed certificates for TLS tests, written to a folder.

use std::path::{Path, PathBuf};

/// A certificate for `localhost` and 127.0.0.1 with its key, as PEM files.
pub struct TestCert {
    /// The certificate file.
    pub certificate: PathBuf,
    /// The private key file.
    pub private_key: PathBuf,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// Writes `cert.pem` and `key.pem` into `dir`.
pub fn write_self_signed(dir: &Path) -> TestCert {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).expect("generate certificate");
    let certificate = dir.join("cert.pem");
    let private_key = dir.join("key.pem");
    let certificate_pem = cert.cert.pem();
    std::fs::write(&certificate, &certificate_pem).expect("write cert");
    std::fs::write(&private_key, cert.signing_key.serialize_pem()).expect("write key");
    TestCert {
        certificate,
        private_key,
        certificate_pem,
    }
}
