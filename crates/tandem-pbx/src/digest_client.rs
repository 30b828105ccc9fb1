//! The client side of HTTP Digest for SIP (RFC 3261 §22.2–§22.3, RFC 2617
//! §3.2.2, RFC 7616 §3.4 computations, RFC 8760 SHA-256): reads a 401
//! `WWW-Authenticate` or 407 `Proxy-Authenticate` challenge and computes
//! the `Authorization` / `Proxy-Authorization` value that answers it, as
//! tandem does towards carriers (trunk registration, calls out on a trunk).

use crate::digest::Algorithm;
use tandem_sip::headers::AuthHeader;
use tandem_sip::{HeaderName, Message};

/// A digest challenge, owned (it outlives the response it came in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// From a 407 (answer with Proxy-Authorization) or a 401.
    pub(crate) proxy: bool,
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) opaque: Option<String>,
    /// Whether `qop="auth"` was offered (then nc and cnonce are used).
    pub(crate) qop_auth: bool,
    pub(crate) algorithm: Algorithm,
    /// The server says the nonce expired, not the password (RFC 2617
    /// §3.2.1): answering again with the new nonce is right.
    pub(crate) stale: bool,
}

impl Challenge {
    /// The challenge to answer in a 401/407: the strongest one whose
    /// algorithm we speak (RFC 8760 §2.4: a server may offer several).
    pub(crate) fn from_response(response: &Message) -> Option<Challenge> {
        let (proxy, name) = match response.status()? {
            401 => (false, HeaderName::WwwAuthenticate),
            407 => (true, HeaderName::ProxyAuthenticate),
            _ => return None,
        };
        let mut best: Option<Challenge> = None;
        for h in response.auth_headers(name).flatten() {
            let Some(c) = Challenge::from_header(&h, proxy) else {
                continue;
            };
            let stronger = best
                .as_ref()
                .is_none_or(|b| b.algorithm == Algorithm::Md5 && c.algorithm == Algorithm::Sha256);
            if stronger {
                best = Some(c);
            }
        }
        best
    }

    fn from_header(h: &AuthHeader<'_>, proxy: bool) -> Option<Challenge> {
        if !h.is_digest() {
            return None;
        }
        let algorithm = Algorithm::from_token(h.param("algorithm").as_deref())?;
        let qop_auth = h
            .param("qop")
            .is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
        // A qop offered without "auth" (only auth-int) is one we cannot
        // answer: we never hash bodies.
        if h.param("qop").is_some() && !qop_auth {
            return None;
        }
        Some(Challenge {
            proxy,
            realm: h.param("realm")?.into_owned(),
            nonce: h.param("nonce")?.into_owned(),
            opaque: h.param("opaque").map(|o| o.into_owned()),
            qop_auth,
            algorithm,
            stale: h
                .param("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The header that carries the answer.
    pub(crate) fn header_name(&self) -> HeaderName {
        if self.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        }
    }
}

/// Credentials to answer a challenge with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
}

/// The digest `response` value (RFC 2617 §3.2.2.1): with qop=auth
/// `H(HA1:nonce:nc:cnonce:auth:HA2)`, without `H(HA1:nonce:HA2)`, where
/// `HA2 = H(method:uri)`.
pub(crate) fn response_value(
    c: &Challenge,
    creds: &Credentials<'_>,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let alg = c.algorithm;
    let ha1 = alg.ha1(creds.username, &c.realm, creds.password);
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    if c.qop_auth {
        alg.hash(&format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.nonce))
    } else {
        alg.hash(&format!("{ha1}:{}:{ha2}", c.nonce))
    }
}

/// The whole Authorization / Proxy-Authorization value.
pub(crate) fn authorization(
    c: &Challenge,
    creds: &Credentials<'_>,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let response = response_value(c, creds, method, uri, nc, cnonce);
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={}",
        creds.username,
        c.realm,
        c.nonce,
        c.algorithm.token()
    );
    if let Some(o) = &c.opaque {
        v.push_str(&format!(", opaque=\"{o}\""));
    }
    if c.qop_auth {
        v.push_str(&format!(", qop=auth, nc={nc:08x}, cnonce=\"{cnonce}\""));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sip::ParseOptions;

    fn rfc_challenge(algorithm: Algorithm, realm: &str, nonce: &str) -> Challenge {
        Challenge {
            proxy: false,
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            qop_auth: true,
            algorithm,
            stale: false,
        }
    }

    #[test]
    fn rfc_2617_example_md5() {
        // RFC 2617 §3.5.
        let c = rfc_challenge(
            Algorithm::Md5,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        );
        let creds = Credentials {
            username: "Mufasa",
            password: "Circle Of Life",
        };
        assert_eq!(
            response_value(&c, &creds, "GET", "/dir/index.html", 1, "0a4f113b"),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn rfc_7616_example_sha256() {
        // RFC 7616 §3.9.1 (the password there is "Circle of Life").
        let c = rfc_challenge(
            Algorithm::Sha256,
            "http-auth@example.org",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        );
        let creds = Credentials {
            username: "Mufasa",
            password: "Circle of Life",
        };
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        assert_eq!(
            response_value(&c, &creds, "GET", "/dir/index.html", 1, cnonce),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = Challenge {
            algorithm: Algorithm::Md5,
            ..c
        };
        assert_eq!(
            response_value(&md5, &creds, "GET", "/dir/index.html", 1, cnonce),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn our_answers_pass_our_own_server_check() {
        // The server side (digest.rs) accepts what the client side makes.
        let keeper = crate::digest::NonceKeeper::new([3; 32], 60_000);
        let nonce = keeper.issue(1_000, 42);
        let text = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:t@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n{}\r\nWWW-Authenticate: {}\r\nContent-Length: 0\r\n\r\n",
            "WWW-Authenticate: Basic realm=\"x\"",
            crate::digest::challenge("carrier", &nonce, "op", Algorithm::Md5, false)
        );
        let msg = Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap();
        let c = Challenge::from_response(&msg).unwrap();
        assert_eq!(
            (c.realm.as_str(), c.opaque.as_deref()),
            ("carrier", Some("op"))
        );
        let creds = Credentials {
            username: "trunk1",
            password: "secret",
        };
        let value = authorization(&c, &creds, "REGISTER", "sip:carrier.test", 1, "abcd");
        let req = format!(
            "REGISTER sip:carrier.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\nFrom: <sip:trunk1@carrier.test>;tag=1\r\nTo: <sip:trunk1@carrier.test>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\nAuthorization: {value}\r\nContent-Length: 0\r\n\r\n"
        );
        let req = Message::parse(bytes::Bytes::from(req), &ParseOptions::default()).unwrap();
        let creds_h = req
            .auth_headers(HeaderName::Authorization)
            .flatten()
            .next()
            .unwrap();
        let ha1 = Algorithm::Md5.ha1("trunk1", "carrier", "secret");
        let ok = keeper.verify(
            &creds_h,
            "REGISTER",
            "carrier",
            2_000,
            &[Algorithm::Md5],
            |u, _| (u == "trunk1").then(|| ha1.clone()),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let wrong = Algorithm::Md5.ha1("trunk1", "carrier", "other");
        let bad = keeper.verify(
            &creds_h,
            "REGISTER",
            "carrier",
            2_000,
            &[Algorithm::Md5],
            |_, _| Some(wrong.clone()),
        );
        assert!(bad.is_err());
    }
}
