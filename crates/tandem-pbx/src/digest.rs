//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617 / RFC 7616
//! computations, RFC 8760 SHA-256): challenges with nonces that carry their
//! own issue time and a MAC (so any shard, and after a restart any node
//! sharing the secret, can check them), expiry with `stale=true`, and
//! replay protection by tracking the highest nonce count seen per nonce.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use tandem_sip::headers::AuthHeader;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (RFC 2617), what most phones speak.
    Md5,
    /// SHA-256 (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token in `algorithm=`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Recognises `algorithm=` (absent means MD5, RFC 2617).
    pub fn from_token(t: Option<&str>) -> Option<Algorithm> {
        match t {
            None => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(t) if t.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// Hex digest of `data`.
    pub fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    /// HA1 = H(username:realm:password).
    pub fn ha1(self, user: &str, realm: &str, password: &str) -> String {
        self.hash(&format!("{user}:{realm}:{password}"))
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials for our realm: challenge.
    Missing,
    /// Malformed credentials.
    Malformed,
    /// The nonce is not one we issued (or was tampered with).
    UnknownNonce,
    /// The nonce is ours but expired: challenge again with `stale=true`.
    Stale,
    /// The nonce count did not increase: a replay.
    Replay,
    /// The response does not match: wrong password.
    WrongPassword,
    /// The credentials name another user than the one allowed.
    WrongUser,
    /// The algorithm is not one we offer.
    Algorithm,
}

impl Refusal {
    /// Whether this counts as a failed password attempt (for blocking scanners).
    pub fn counts_as_failure(self) -> bool {
        matches!(
            self,
            Refusal::WrongPassword | Refusal::WrongUser | Refusal::UnknownNonce | Refusal::Replay
        )
    }
}

/// Credentials accepted for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated user name.
    pub user: String,
}

/// Issues and checks nonces; tracks nonce counts. Shared by a node's shards.
#[derive(Debug)]
pub struct NonceKeeper {
    secret: [u8; 32],
    lifetime_ms: u64,
    /// Highest nc seen per nonce, pruned as nonces expire.
    counts: Mutex<NonceCounts>,
}

/// The nonce counts, with the order they were first seen in: nonces are
/// first used soon after they are issued, so the front of `order` expires
/// first and pruning pops it, at O(1) per request however many nonces are
/// live (a sweep of the whole map on every request made a node that had
/// just absorbed a registration storm slow for the nonces' lifetime).
#[derive(Debug, Default)]
struct NonceCounts {
    /// nonce -> (highest nc, expiry in Unix ms).
    by_nonce: HashMap<String, (u32, u64)>,
    /// (expiry, nonce) in the order first seen.
    order: std::collections::VecDeque<(u64, String)>,
    /// Nonces whose record was dropped to bound memory had expiries up to
    /// this: one of them coming back is refused as stale (never accepted
    /// without its count).
    evicted_until_ms: u64,
}

/// Most nonce counts remembered; past it the oldest are dropped (and
/// their nonces answered as stale).
const NONCE_COUNTS_MAX: usize = 1_000_000;

impl NonceCounts {
    fn prune(&mut self, now_ms: u64) {
        while let Some((expires, _)) = self.order.front() {
            let over = self.order.len() > NONCE_COUNTS_MAX;
            if *expires > now_ms && !over {
                break;
            }
            let Some((expires, nonce)) = self.order.pop_front() else {
                break;
            };
            if over && expires > now_ms {
                self.evicted_until_ms = self.evicted_until_ms.max(expires);
            }
            self.by_nonce.remove(&nonce);
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

impl NonceKeeper {
    /// A keeper with a secret (random per node, or shared by a cluster) and
    /// a nonce lifetime.
    pub fn new(secret: [u8; 32], lifetime_ms: u64) -> NonceKeeper {
        NonceKeeper {
            secret,
            lifetime_ms,
            counts: Mutex::new(NonceCounts::default()),
        }
    }

    fn mac(&self, payload: &[u8]) -> [u8; 12] {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("any key length works for HMAC");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 12];
        out.copy_from_slice(&full[..12]);
        out
    }

    /// A fresh nonce issued at `now_ms`, made unique by `salt`.
    pub fn issue(&self, now_ms: u64, salt: u64) -> String {
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&now_ms.to_be_bytes());
        payload[8..].copy_from_slice(&salt.to_be_bytes());
        let mac = self.mac(&payload);
        let mut all = Vec::with_capacity(28);
        all.extend_from_slice(&payload);
        all.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(all)
    }

    /// Checks a nonce: `Ok(expiry)` if ours and fresh.
    fn check(&self, nonce: &str, now_ms: u64) -> Result<u64, Refusal> {
        let raw = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| Refusal::UnknownNonce)?;
        if raw.len() != 28 || self.mac(&raw[..16]) != raw[16..] {
            return Err(Refusal::UnknownNonce);
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(ts);
        let expires = issued.saturating_add(self.lifetime_ms);
        if now_ms > expires {
            return Err(Refusal::Stale);
        }
        Ok(expires)
    }

    /// Records nonce count `nc` for `nonce`; refuses a count not higher than
    /// the last one seen.
    fn record_count(&self, nonce: &str, nc: u32, expires: u64, now_ms: u64) -> Result<(), Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.prune(now_ms);
        let evicted_until_ms = counts.evicted_until_ms;
        match counts.by_nonce.get_mut(nonce) {
            Some((last, _)) if nc <= *last => Err(Refusal::Replay),
            Some((last, _)) => {
                *last = nc;
                Ok(())
            }
            None if expires <= evicted_until_ms => Err(Refusal::Stale),
            None => {
                counts.by_nonce.insert(nonce.to_owned(), (nc, expires));
                counts.order.push_back((expires, nonce.to_owned()));
                Ok(())
            }
        }
    }

    /// Verifies credentials against the HA1 of the user they name.
    /// `ha1` returns the HA1 for (user, algorithm) or `None` if unknown.
    pub fn verify(
        &self,
        creds: &AuthHeader<'_>,
        method: &str,
        realm: &str,
        now_ms: u64,
        allowed: &[Algorithm],
        ha1: impl Fn(&str, Algorithm) -> Option<String>,
    ) -> Result<Verified, Refusal> {
        if !creds.is_digest() {
            return Err(Refusal::Malformed);
        }
        let get = |n: &str| creds.param(n);
        let user = get("username").ok_or(Refusal::Malformed)?;
        let nonce = get("nonce").ok_or(Refusal::Malformed)?;
        let uri = get("uri").ok_or(Refusal::Malformed)?;
        let response = get("response").ok_or(Refusal::Malformed)?;
        if get("realm").as_deref() != Some(realm) {
            return Err(Refusal::Missing);
        }
        let alg = Algorithm::from_token(get("algorithm").as_deref()).ok_or(Refusal::Algorithm)?;
        if !allowed.contains(&alg) {
            return Err(Refusal::Algorithm);
        }
        let expires = self.check(&nonce, now_ms)?;
        let Some(ha1) = ha1(&user, alg) else {
            return Err(Refusal::WrongUser);
        };
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        let qop = get("qop");
        let expected = match qop.as_deref() {
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = get("nc").ok_or(Refusal::Malformed)?;
                let cnonce = get("cnonce").ok_or(Refusal::Malformed)?;
                let count = u32::from_str_radix(&nc, 16).map_err(|_| Refusal::Malformed)?;
                let expected = alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
                if !constant_time_eq(
                    expected.as_bytes(),
                    response.to_ascii_lowercase().as_bytes(),
                ) {
                    return Err(Refusal::WrongPassword);
                }
                self.record_count(&nonce, count, expires, now_ms)?;
                return Ok(Verified {
                    user: user.into_owned(),
                });
            }
            Some(_) => return Err(Refusal::Malformed),
            None => alg.hash(&format!("{ha1}:{nonce}:{ha2}")),
        };
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(Refusal::WrongPassword);
        }
        // Without qop there is no count: a nonce may then be used once.
        self.record_count(&nonce, 1, expires, now_ms)?;
        Ok(Verified {
            user: user.into_owned(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of one WWW-Authenticate / Proxy-Authenticate header.
pub fn challenge(realm: &str, nonce: &str, opaque: &str, alg: Algorithm, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", opaque=\"{opaque}\", algorithm={}, qop=\"auth\"{stale}",
        alg.token()
    )
}

/// Counts failed authentications per source address and blocks sources
/// that fail too often (password scanners), for a while.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window_ms: u64,
    block_ms: u64,
    state: Mutex<HashMap<std::net::IpAddr, FailureState>>,
}

#[derive(Debug, Clone, Copy)]
struct FailureState {
    window_start_ms: u64,
    failures: u32,
    blocked_until_ms: u64,
}

impl FailureLimiter {
    /// At most `max_failures` per `window_ms`; then blocked for `block_ms`.
    pub fn new(max_failures: u32, window_ms: u64, block_ms: u64) -> FailureLimiter {
        FailureLimiter {
            max_failures,
            window_ms,
            block_ms,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is blocked now.
    pub fn is_blocked(&self, ip: std::net::IpAddr, now_ms: u64) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.get(&ip).is_some_and(|s| s.blocked_until_ms > now_ms)
    }

    /// Records a failure; returns `true` if this one blocked the source.
    pub fn fail(&self, ip: std::net::IpAddr, now_ms: u64) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.len() > 100_000 {
            state.retain(|_, s| {
                s.blocked_until_ms > now_ms || now_ms - s.window_start_ms < self.window_ms
            });
        }
        let s = state.entry(ip).or_insert(FailureState {
            window_start_ms: now_ms,
            failures: 0,
            blocked_until_ms: 0,
        });
        if now_ms.saturating_sub(s.window_start_ms) > self.window_ms {
            s.window_start_ms = now_ms;
            s.failures = 0;
        }
        s.failures += 1;
        if s.failures >= self.max_failures && s.blocked_until_ms <= now_ms {
            s.blocked_until_ms = now_ms + self.block_ms;
            s.failures = 0;
            return true;
        }
        false
    }

    /// Forgets failures after a success.
    pub fn succeed(&self, ip: std::net::IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = state.get_mut(&ip) {
            s.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sip::headers::AuthHeader;

    fn keeper() -> NonceKeeper {
        NonceKeeper::new([7; 32], 300_000)
    }

    fn creds(nonce: &str, nc: &str, response: &str) -> String {
        format!("Digest username=\"1000\", realm=\"tandem\", nonce=\"{nonce}\", uri=\"sip:tandem\", response=\"{response}\", qop=auth, nc={nc}, cnonce=\"abc\", algorithm=MD5")
    }

    fn answer(nonce: &str, nc: &str, password: &str) -> String {
        let ha1 = Algorithm::Md5.ha1("1000", "tandem", password);
        let ha2 = Algorithm::Md5.hash("REGISTER:sip:tandem");
        Algorithm::Md5.hash(&format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"))
    }

    fn verify(k: &NonceKeeper, value: &str, now: u64) -> Result<Verified, Refusal> {
        let h = AuthHeader::parse(value).unwrap();
        k.verify(
            &h,
            "REGISTER",
            "tandem",
            now,
            &[Algorithm::Md5, Algorithm::Sha256],
            |u, a| (u == "1000").then(|| a.ha1("1000", "tandem", "pw-1000")),
        )
    }

    #[test]
    fn rfc2617_example_vector() {
        // RFC 2617 §3.5.
        let ha1 = Algorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        let ha2 = Algorithm::Md5.hash("GET:/dir/index.html");
        let r = Algorithm::Md5.hash(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn nonce_counts_are_pruned_as_they_expire_not_swept_per_request() {
        let k = NonceKeeper::new([3; 32], 1000);
        for i in 0..5000u64 {
            let nonce = k.issue(i, i);
            assert_eq!(k.record_count(&nonce, 1, i + 1000, i), Ok(()));
        }
        // Replays are refused while the nonce lives.
        let live = k.issue(4999, 4999);
        assert_eq!(k.record_count(&live, 1, 5999, 4999), Err(Refusal::Replay));
        // Past their lifetime, the records go as new ones arrive.
        let later = k.issue(10_000, 1);
        assert_eq!(k.record_count(&later, 1, 11_000, 10_000), Ok(()));
        let counts = k.counts.lock().unwrap();
        assert_eq!(counts.by_nonce.len(), 1);
        assert_eq!(counts.order.len(), 1);
    }

    #[test]
    fn accepts_good_refuses_replay_wrong_and_stale() {
        let k = keeper();
        let n = k.issue(1_000, 42);
        assert!(verify(
            &k,
            &creds(&n, "00000001", &answer(&n, "00000001", "pw-1000")),
            2_000
        )
        .is_ok());
        assert_eq!(
            verify(
                &k,
                &creds(&n, "00000001", &answer(&n, "00000001", "pw-1000")),
                2_000
            ),
            Err(Refusal::Replay)
        );
        assert!(verify(
            &k,
            &creds(&n, "00000002", &answer(&n, "00000002", "pw-1000")),
            2_000
        )
        .is_ok());
        assert_eq!(
            verify(
                &k,
                &creds(&n, "00000003", &answer(&n, "00000003", "wrong")),
                2_000
            ),
            Err(Refusal::WrongPassword)
        );
        assert_eq!(
            verify(
                &k,
                &creds(&n, "00000004", &answer(&n, "00000004", "pw-1000")),
                400_000
            ),
            Err(Refusal::Stale)
        );
        let forged = format!("{}A", &n[..n.len() - 1]);
        assert_eq!(
            verify(&k, &creds(&forged, "00000001", "x"), 2_000),
            Err(Refusal::UnknownNonce)
        );
    }

    #[test]
    fn sha256_credentials() {
        let k = keeper();
        let n = k.issue(1_000, 1);
        let ha1 = Algorithm::Sha256.ha1("1000", "tandem", "pw-1000");
        let ha2 = Algorithm::Sha256.hash("REGISTER:sip:tandem");
        let resp = Algorithm::Sha256.hash(&format!("{ha1}:{n}:00000001:abc:auth:{ha2}"));
        let value = creds(&n, "00000001", &resp).replace("algorithm=MD5", "algorithm=SHA-256");
        assert!(verify(&k, &value, 2_000).is_ok());
    }

    #[test]
    fn limiter_blocks_after_too_many_failures() {
        let l = FailureLimiter::new(3, 60_000, 300_000);
        let ip = "192.0.2.1".parse().unwrap();
        assert!(!l.fail(ip, 0));
        assert!(!l.fail(ip, 1));
        assert!(l.fail(ip, 2));
        assert!(l.is_blocked(ip, 1000));
        assert!(!l.is_blocked(ip, 400_000));
    }
}
