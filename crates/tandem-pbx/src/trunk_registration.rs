//! Registration with a carrier, as a pure state machine on injected time
//! (RFC 3261 §10.2 client behaviour): REGISTER, answer one 401/407 per
//! attempt with digest credentials (RFC 2617, RFC 8760; again on
//! `stale=true`), refresh well before the granted expiry, 423 Interval Too
//! Brief raised to Min-Expires (§10.2.8), exponential backoff with a cap on
//! any other failure, and de-registration (`Expires: 0`, §10.2.2). The
//! state machine knows nothing of transactions: it says what to send and
//! when to wake; `trunks.rs` carries that out on the leader only.

use crate::core::Now;
use crate::digest_client::{authorization, Challenge, Credentials};
use std::time::{Duration, Instant};
use tandem_sip::HeaderName;
use tandem_store::TrunkRecord;

/// The first wait after a failure; doubled after each further failure.
pub(crate) const BACKOFF_INITIAL: Duration = Duration::from_secs(2);

/// The longest wait between attempts: a carrier that is down is still
/// asked every five minutes, never hammered.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How long before the end of a binding it is refreshed at the latest:
/// time for a challenge round trip and a retransmission or two.
const REFRESH_MARGIN_SECS: u32 = 30;

/// Where a trunk's registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegState {
    /// Not started (this node does not lead).
    Idle,
    /// A REGISTER is out, no binding yet.
    Registering,
    /// The carrier holds our binding (a refresh may be out).
    Registered,
    /// The last attempt failed; the next one is due at `next_at`.
    BackingOff,
    /// The `Expires: 0` REGISTER is out.
    Unregistering,
    /// Stopped: leadership lost or node stopping. Nothing more is sent.
    Stopped,
}

impl RegState {
    /// The name stored and shown by `tandem trunk status`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RegState::Idle => "idle",
            RegState::Registering => "registering",
            RegState::Registered => "registered",
            RegState::BackingOff => "backing_off",
            RegState::Unregistering => "unregistering",
            RegState::Stopped => "stopped",
        }
    }
}

/// A REGISTER to send (a new client transaction each time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisterRequest {
    pub(crate) cseq: u32,
    pub(crate) expires: u32,
    /// `Authorization` or `Proxy-Authorization` and its value.
    pub(crate) authorization: Option<(HeaderName, String)>,
}

/// What the state machine asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegAction {
    /// Send this REGISTER.
    Send(RegisterRequest),
    /// The state changed: store it (`trunk/<name>`).
    Record,
}

/// A carrier's final answer to one REGISTER, as the state machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegResponse {
    pub(crate) status: u16,
    /// The challenge of a 401/407.
    pub(crate) challenge: Option<Challenge>,
    /// The expiry the carrier granted our contact (its `expires` param or
    /// the Expires header).
    pub(crate) granted_secs: Option<u32>,
    /// Min-Expires of a 423.
    pub(crate) min_expires: Option<u32>,
}

/// One trunk's registration.
#[derive(Debug, Clone)]
pub(crate) struct TrunkRegistration {
    pub(crate) name: String,
    username: String,
    password: String,
    /// The Request-URI (and digest `uri`), e.g. `sip:carrier.example`.
    request_uri: String,
    expires_secs: u32,
    pub(crate) state: RegState,
    pub(crate) epoch: u64,
    cseq: u32,
    /// The expiry asked for in the current attempt (0 when leaving).
    asking: u32,
    /// Whether the current attempt already sent credentials.
    answered: bool,
    nc: u32,
    last_nonce: String,
    pub(crate) failures: u32,
    pub(crate) last_status: u16,
    pub(crate) expires_at_ms: Option<u64>,
    /// When to act next (refresh or retry).
    next_at: Option<Instant>,
    retry_at_ms: Option<u64>,
}

/// When to refresh a binding granted for `granted` seconds: at 80% of
/// it, and at least `REFRESH_MARGIN_SECS` before its end, but never
/// sooner than half of it (a short grant must not cause a storm).
pub(crate) fn refresh_after(granted: u32) -> Duration {
    let by_share = granted / 5 * 4 + (granted % 5) * 4 / 5;
    let by_margin = granted.saturating_sub(REFRESH_MARGIN_SECS);
    Duration::from_secs(u64::from(by_share.min(by_margin).max(granted / 2).max(1)))
}

/// The wait before attempt number `failures + 1`.
pub(crate) fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    BACKOFF_INITIAL
        .saturating_mul(1u32 << shift)
        .min(BACKOFF_MAX)
}

impl TrunkRegistration {
    pub(crate) fn new(
        name: &str,
        username: &str,
        password: &str,
        request_uri: &str,
        expires_secs: u32,
    ) -> TrunkRegistration {
        TrunkRegistration {
            name: name.into(),
            username: username.into(),
            password: password.into(),
            request_uri: request_uri.into(),
            expires_secs,
            state: RegState::Idle,
            epoch: 0,
            cseq: 0,
            asking: expires_secs,
            answered: false,
            nc: 0,
            last_nonce: String::new(),
            failures: 0,
            last_status: 0,
            expires_at_ms: None,
            next_at: None,
            retry_at_ms: None,
        }
    }

    /// When [`TrunkRegistration::on_timer`] should run next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next_at
    }

    fn send(&mut self, expires: u32, authorization: Option<(HeaderName, String)>) -> RegAction {
        self.cseq += 1;
        self.asking = expires;
        RegAction::Send(RegisterRequest {
            cseq: self.cseq,
            expires,
            authorization,
        })
    }

    /// This node leads with `epoch`: register.
    pub(crate) fn start(&mut self, epoch: u64) -> Vec<RegAction> {
        self.epoch = epoch;
        self.state = RegState::Registering;
        self.failures = 0;
        self.answered = false;
        self.next_at = None;
        self.retry_at_ms = None;
        self.expires_at_ms = None;
        let send = self.send(self.expires_secs, None);
        vec![RegAction::Record, send]
    }

    /// Leadership lost or node stopping. With `deregister`, a binding we
    /// hold is removed (`Expires: 0`); without, nothing more is sent at
    /// all, not even a reply to a challenge (fencing: another node may
    /// already be registering).
    pub(crate) fn stop(&mut self, deregister: bool) -> Vec<RegAction> {
        self.next_at = None;
        self.retry_at_ms = None;
        let holds = self.state == RegState::Registered;
        if deregister && holds {
            self.state = RegState::Unregistering;
            self.answered = false;
            let send = self.send(0, None);
            return vec![RegAction::Record, send];
        }
        if self.state == RegState::Stopped {
            return Vec::new();
        }
        self.state = RegState::Stopped;
        self.expires_at_ms = None;
        vec![RegAction::Record]
    }

    /// A final response to our latest REGISTER.
    pub(crate) fn on_response(
        &mut self,
        now: Now,
        response: &RegResponse,
        cnonce: &str,
    ) -> Vec<RegAction> {
        if matches!(self.state, RegState::Idle | RegState::Stopped) {
            return Vec::new();
        }
        let leaving = self.state == RegState::Unregistering;
        let status = response.status;
        match status {
            200..=299 if leaving => {
                self.last_status = status;
                self.state = RegState::Stopped;
                self.expires_at_ms = None;
                vec![RegAction::Record]
            }
            200..=299 => {
                let granted = response.granted_secs.unwrap_or(self.asking);
                if granted == 0 {
                    // The carrier kept no binding: as good as a refusal.
                    return self.failed(now, status);
                }
                self.last_status = status;
                self.state = RegState::Registered;
                self.failures = 0;
                self.answered = false;
                self.retry_at_ms = None;
                self.expires_at_ms = Some(now.unix_ms + u64::from(granted) * 1000);
                self.next_at = Some(now.instant + refresh_after(granted));
                vec![RegAction::Record]
            }
            401 | 407 => {
                let Some(c) = &response.challenge else {
                    return self.failed(now, status);
                };
                // One answer per attempt, or a second one when only the
                // nonce had expired: a wrong password must not loop.
                if self.answered && !c.stale {
                    return self.failed(now, status);
                }
                self.answered = true;
                if c.nonce != self.last_nonce {
                    self.last_nonce = c.nonce.clone();
                    self.nc = 0;
                }
                self.nc += 1;
                let creds = Credentials {
                    username: &self.username,
                    password: &self.password,
                };
                let value =
                    authorization(c, &creds, "REGISTER", &self.request_uri, self.nc, cnonce);
                let asking = self.asking;
                vec![self.send(asking, Some((c.header_name(), value)))]
            }
            423 if !leaving => match response.min_expires {
                Some(min) if min > self.asking && min <= 86_400 => {
                    self.expires_secs = min;
                    self.answered = false;
                    vec![self.send(min, None)]
                }
                _ => self.failed(now, status),
            },
            _ if leaving => {
                // The binding will lapse on its own; nothing to retry.
                self.last_status = status;
                self.state = RegState::Stopped;
                self.expires_at_ms = None;
                vec![RegAction::Record]
            }
            _ => self.failed(now, status),
        }
    }

    /// The REGISTER got no response (Timer F: 408), or could not be sent
    /// (transport error, no address: 503).
    pub(crate) fn on_failure(&mut self, now: Now, status: u16) -> Vec<RegAction> {
        match self.state {
            RegState::Idle | RegState::Stopped => Vec::new(),
            RegState::Unregistering => {
                self.last_status = status;
                self.state = RegState::Stopped;
                self.expires_at_ms = None;
                vec![RegAction::Record]
            }
            _ => self.failed(now, status),
        }
    }

    fn failed(&mut self, now: Now, status: u16) -> Vec<RegAction> {
        self.failures += 1;
        self.last_status = status;
        self.answered = false;
        // A binding we still hold stays ours until it ends.
        if self.expires_at_ms.is_some_and(|at| at <= now.unix_ms) {
            self.expires_at_ms = None;
        }
        self.state = RegState::BackingOff;
        let wait = backoff(self.failures);
        self.next_at = Some(now.instant + wait);
        self.retry_at_ms = Some(now.unix_ms + wait.as_millis() as u64);
        vec![RegAction::Record]
    }

    /// Time passed: refresh or retry when due.
    pub(crate) fn on_timer(&mut self, now: Now) -> Vec<RegAction> {
        if self.next_at.is_none_or(|at| at > now.instant) {
            return Vec::new();
        }
        self.next_at = None;
        match self.state {
            RegState::Registered => {
                self.answered = false;
                vec![self.send(self.expires_secs, None)]
            }
            RegState::BackingOff => {
                self.state = RegState::Registering;
                self.answered = false;
                self.retry_at_ms = None;
                let send = self.send(self.expires_secs, None);
                vec![RegAction::Record, send]
            }
            _ => Vec::new(),
        }
    }

    /// The stored view of this registration.
    pub(crate) fn record(&self, node: &str, now_ms: u64) -> TrunkRecord {
        TrunkRecord {
            name: self.name.clone(),
            state: self.state.name().into(),
            expires_at_ms: self.expires_at_ms,
            last_status: self.last_status,
            retry_at_ms: self.retry_at_ms,
            failures: self.failures,
            node: node.into(),
            epoch: self.epoch,
            updated_ms: now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        // Virtual time: one real reading as the origin, then offsets.
        static O: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
        *O
    }

    fn at(ms: u64) -> Now {
        Now {
            instant: origin() + Duration::from_millis(ms),
            unix_ms: 1_800_000_000_000 + ms,
        }
    }

    fn challenge(nonce: &str, stale: bool) -> Challenge {
        Challenge {
            proxy: false,
            realm: "carrier".into(),
            nonce: nonce.into(),
            opaque: None,
            qop_auth: true,
            algorithm: Algorithm::Md5,
            stale,
        }
    }

    fn resp(status: u16) -> RegResponse {
        RegResponse {
            status,
            challenge: None,
            granted_secs: None,
            min_expires: None,
        }
    }

    fn reg() -> TrunkRegistration {
        TrunkRegistration::new("c1", "alice", "secret", "sip:carrier.test", 300)
    }

    fn sent(actions: &[RegAction]) -> Vec<RegisterRequest> {
        actions
            .iter()
            .filter_map(|a| match a {
                RegAction::Send(r) => Some(r.clone()),
                RegAction::Record => None,
            })
            .collect()
    }

    #[test]
    fn challenge_answered_then_registered_and_refreshed_at_80_percent() {
        let mut r = reg();
        let a = r.start(7);
        let first = sent(&a);
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].cseq, first[0].expires), (1, 300));
        assert!(first[0].authorization.is_none());
        let c401 = RegResponse {
            challenge: Some(challenge("n1", false)),
            ..resp(401)
        };
        let a = r.on_response(at(10), &c401, "cn");
        let second = sent(&a);
        assert_eq!(second[0].cseq, 2, "a new request, CSeq + 1");
        let (name, value) = second[0].authorization.clone().unwrap();
        assert_eq!(name, HeaderName::Authorization);
        assert!(
            value.contains("username=\"alice\"") && value.contains("nc=00000001"),
            "{value}"
        );
        // The same response value a server would compute.
        let expect = crate::digest_client::response_value(
            &challenge("n1", false),
            &Credentials {
                username: "alice",
                password: "secret",
            },
            "REGISTER",
            "sip:carrier.test",
            1,
            "cn",
        );
        assert!(value.contains(&expect));
        let ok = RegResponse {
            granted_secs: Some(300),
            ..resp(200)
        };
        let a = r.on_response(at(20), &ok, "cn");
        assert_eq!(a, vec![RegAction::Record]);
        assert_eq!(r.state, RegState::Registered);
        assert_eq!(r.expires_at_ms, Some(at(20).unix_ms + 300_000));
        // 80% of 300 s = 240 s (earlier than expiry - 30 s = 270 s).
        assert_eq!(
            r.next_deadline(),
            Some(at(20).instant + Duration::from_secs(240))
        );
        assert!(r.on_timer(at(20 + 239_999)).is_empty());
        let a = r.on_timer(at(20 + 240_000));
        let refresh = sent(&a);
        assert_eq!((refresh[0].cseq, refresh[0].expires), (3, 300));
        assert_eq!(
            r.state,
            RegState::Registered,
            "still registered while refreshing"
        );
        // Record says who registers, under which epoch.
        let rec = r.record("node1", 5);
        assert_eq!(
            (rec.state.as_str(), rec.epoch, rec.node.as_str()),
            ("registered", 7, "node1")
        );
    }

    #[test]
    fn refresh_times() {
        assert_eq!(refresh_after(300), Duration::from_secs(240));
        assert_eq!(refresh_after(3600), Duration::from_secs(2880));
        assert_eq!(
            refresh_after(120),
            Duration::from_secs(90),
            "expires - 30 s"
        );
        assert_eq!(
            refresh_after(40),
            Duration::from_secs(20),
            "never before half"
        );
    }

    #[test]
    fn wrong_password_backs_off_exponentially_up_to_the_cap() {
        let mut r = reg();
        r.start(1);
        let mut t = 0;
        let mut waits = Vec::new();
        for _ in 0..12 {
            let c = RegResponse {
                challenge: Some(challenge(&format!("n{t}"), false)),
                ..resp(401)
            };
            let a = r.on_response(at(t), &c, "x");
            assert_eq!(sent(&a).len(), 1, "the first challenge is answered");
            let a = r.on_response(at(t), &c, "x");
            assert!(sent(&a).is_empty(), "the second is a failure, not a loop");
            assert_eq!(r.state, RegState::BackingOff);
            let due = r.next_deadline().unwrap();
            waits.push(due.duration_since(at(t).instant).as_secs());
            let wait_ms = due.duration_since(at(0).instant).as_millis() as u64;
            assert!(
                r.on_timer(at(wait_ms - 1)).is_empty(),
                "not before its time"
            );
            t = wait_ms;
            let a = r.on_timer(at(t));
            assert_eq!(sent(&a).len(), 1);
            assert_eq!(r.state, RegState::Registering);
        }
        assert_eq!(&waits[..6], &[2, 4, 8, 16, 32, 64]);
        assert_eq!(*waits.last().unwrap(), 300, "capped: {waits:?}");
        assert_eq!(r.failures, 12);
        // Success resets the count.
        let ok = RegResponse {
            granted_secs: Some(60),
            ..resp(200)
        };
        r.on_response(at(t), &ok, "x");
        assert_eq!((r.state, r.failures), (RegState::Registered, 0));
    }

    #[test]
    fn stale_nonce_is_answered_again_and_timeouts_back_off() {
        let mut r = reg();
        r.start(1);
        let c = RegResponse {
            challenge: Some(challenge("n1", false)),
            ..resp(401)
        };
        assert_eq!(sent(&r.on_response(at(0), &c, "x")).len(), 1);
        let stale = RegResponse {
            challenge: Some(challenge("n2", true)),
            ..resp(401)
        };
        assert_eq!(sent(&r.on_response(at(0), &stale, "x")).len(), 1);
        r.on_failure(at(100), 408);
        assert_eq!((r.state, r.last_status), (RegState::BackingOff, 408));
        assert_eq!(r.next_deadline(), Some(at(100).instant + BACKOFF_INITIAL));
    }

    #[test]
    fn interval_too_brief_asks_for_min_expires() {
        let mut r = reg();
        r.start(1);
        let brief = RegResponse {
            min_expires: Some(600),
            ..resp(423)
        };
        let a = sent(&r.on_response(at(0), &brief, "x"));
        assert_eq!(a[0].expires, 600);
    }

    #[test]
    fn losing_leadership_stops_at_once_and_late_answers_are_ignored() {
        let mut r = reg();
        r.start(3);
        let ok = RegResponse {
            granted_secs: Some(300),
            ..resp(200)
        };
        r.on_response(at(0), &ok, "x");
        // Fenced: no de-registration, nothing more at all.
        let a = r.stop(false);
        assert_eq!(a, vec![RegAction::Record]);
        assert_eq!(r.state, RegState::Stopped);
        assert_eq!(r.next_deadline(), None);
        assert!(r.on_timer(at(1_000_000)).is_empty());
        let c = RegResponse {
            challenge: Some(challenge("n", false)),
            ..resp(401)
        };
        assert!(
            r.on_response(at(1), &c, "x").is_empty(),
            "no answer to a challenge after stop"
        );
        assert!(r.on_failure(at(1), 408).is_empty());
        // Leading again (a later epoch) registers afresh.
        let a = r.start(9);
        assert_eq!(sent(&a).len(), 1);
        assert_eq!(r.epoch, 9);
    }

    #[test]
    fn shutdown_deregisters_with_expires_zero_answering_its_challenge() {
        let mut r = reg();
        r.start(0);
        let ok = RegResponse {
            granted_secs: Some(300),
            ..resp(200)
        };
        r.on_response(at(0), &ok, "x");
        let a = sent(&r.stop(true));
        assert_eq!(a[0].expires, 0);
        assert_eq!(r.state, RegState::Unregistering);
        let c = RegResponse {
            challenge: Some(challenge("n", false)),
            ..resp(401)
        };
        let a = sent(&r.on_response(at(1), &c, "x"));
        assert_eq!(a[0].expires, 0);
        assert!(a[0].authorization.is_some());
        r.on_response(at(2), &resp(200), "x");
        assert_eq!(r.state, RegState::Stopped);
        assert_eq!(r.expires_at_ms, None);
        // Not registered: stopping sends nothing.
        let mut idle = reg();
        idle.start(0);
        idle.on_failure(at(0), 503);
        assert!(sent(&idle.stop(true)).is_empty());
    }
}
