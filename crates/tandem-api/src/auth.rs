//! Who is asking, and may they: HTTP Basic for users (Argon2id hashes from
//! the config file or the store), `Authorization: Bearer` for API tokens
//! (kept as SHA-256), roles (`admin`: everything; `read_only`: GET and
//! HEAD), and failed logins limited per source address (after
//! `login_failures_max` failures within `login_block_secs`, the address
//! gets 429 for `login_block_secs`). Nothing but the dashboard's static
//! files (and `/metrics` with `metrics_public`) is served without
//! credentials.

use crate::error::Error;
use crate::password::{stored_users, verify_password};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_config::{AdminRole, AdminSection};
use tandem_store::Store;

/// The client's address, set by the server on every request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// User or token name.
    pub(crate) name: String,
    /// What it may do.
    pub(crate) role: AdminRole,
}

/// How long a verified password is remembered (Argon2 is slow on purpose).
const VERIFIED_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    since: Option<Instant>,
    blocked_until: Option<Instant>,
}

/// Credentials and the failed-login limiter.
pub(crate) struct Auth {
    users: Vec<(String, String, AdminRole)>,
    tokens: Vec<(String, [u8; 32], AdminRole)>,
    store: Arc<dyn Store>,
    verified: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    failures_max: u32,
    block: Duration,
    pub(crate) metrics_public: bool,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Compares without an early exit, so timing says nothing of where a guess differs.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What an `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

fn credentials(headers: &HeaderMap) -> Option<Result<Credentials, &'static str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err("the Authorization header is not ASCII"));
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return Some(match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((user, password)) => Ok(Credentials::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            None => Err("Basic credentials must be base64 of user:password"),
        });
    }
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Some(Ok(Credentials::Bearer(rest.to_owned())));
    }
    Some(Err("use Basic (users) or Bearer (API tokens)"))
}

impl Auth {
    /// The credentials the configuration lists (password files are read now).
    pub(crate) fn new(admin: &AdminSection, store: Arc<dyn Store>) -> Result<Auth, Error> {
        let mut users = Vec::new();
        for u in &admin.users {
            let hash = match (&u.password_hash, &u.password_file) {
                (Some(h), _) => h.clone(),
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|e| Error::PasswordFile {
                        user: u.name.clone(),
                        path: path.clone(),
                        problem: e.to_string(),
                    })?;
                    let text = text.trim().to_owned();
                    if !text.starts_with("$argon2") {
                        return Err(Error::PasswordFile {
                            user: u.name.clone(),
                            path: path.clone(),
                            problem: "expected an Argon2 PHC string ($argon2id$...)".into(),
                        });
                    }
                    text
                }
                (None, None) => continue,
            };
            users.push((u.name.clone(), hash, u.role));
        }
        let tokens = admin
            .tokens
            .iter()
            .filter_map(|t| Some((t.name.clone(), hex32(&t.token_sha256)?, t.role)))
            .collect();
        Ok(Auth {
            users,
            tokens,
            store,
            verified: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            failures_max: admin.login_failures_max,
            block: Duration::from_secs(admin.login_block_secs),
            metrics_public: admin.metrics_public,
        })
    }

    /// Seconds left while `ip` is refused.
    fn blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let until = f.get(&ip)?.blocked_until?;
        (until > now).then(|| until.duration_since(now).as_secs().max(1))
    }

    fn fail(&self, ip: IpAddr, now: Instant, who: &str, why: &str) {
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let f = all.entry(ip).or_default();
        if f.since.is_none_or(|s| now.duration_since(s) > self.block) {
            f.count = 0;
            f.since = Some(now);
        }
        f.count += 1;
        tracing::warn!(target: "tandem::admin", %ip, user = who, failures = f.count, "admin login failed: {why}");
        if f.count >= self.failures_max {
            f.blocked_until = Some(now + self.block);
            f.count = 0;
            f.since = None;
            tracing::warn!(target: "tandem::admin", %ip, secs = self.block.as_secs(), "admin logins from this address refused for a while");
        }
        if all.len() > 100_000 {
            all.retain(|_, f| f.blocked_until.is_some_and(|u| u > now));
        }
    }

    fn succeed(&self, ip: IpAddr) {
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if all.get(&ip).is_some_and(|f| f.blocked_until.is_none()) {
            all.remove(&ip);
        }
    }

    /// Checks the request's credentials.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        ip: IpAddr,
        challenge: bool,
    ) -> Result<Principal, Problem> {
        let now = tandem_node::clock::now();
        if let Some(secs) = self.blocked(ip, now) {
            return Err(Problem::too_many_failures(secs));
        }
        let creds =
            match credentials(headers) {
                None => return Err(Problem::unauthorized(
                    "send credentials: HTTP Basic (user:password) or Authorization: Bearer TOKEN",
                    challenge,
                )),
                Some(Err(why)) => {
                    self.fail(ip, now, "-", why);
                    return Err(Problem::unauthorized(why, challenge));
                }
                Some(Ok(c)) => c,
            };
        match creds {
            Credentials::Bearer(token) => {
                let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                let found = self.tokens.iter().fold(None, |found, (name, d, role)| {
                    if same(d, &digest) {
                        Some((name.clone(), *role))
                    } else {
                        found
                    }
                });
                match found {
                    Some((name, role)) => {
                        self.succeed(ip);
                        Ok(Principal { name, role })
                    }
                    None => {
                        self.fail(ip, now, "token", "unknown token");
                        Err(Problem::unauthorized("unknown token", challenge))
                    }
                }
            }
            Credentials::Basic { user, password } => {
                let mut candidate = self
                    .users
                    .iter()
                    .find(|(n, _, _)| *n == user)
                    .map(|(n, h, r)| (n.clone(), h.clone(), *r));
                if candidate.is_none() {
                    let stored = stored_users(&self.store)
                        .await
                        .map_err(|e| Problem::unavailable(e.to_string()))?;
                    candidate = stored
                        .into_iter()
                        .find(|u| u.name == user)
                        .map(|u| (u.name, u.password_hash, u.role));
                }
                let Some((name, hash, role)) = candidate else {
                    self.fail(ip, now, &user, "unknown user");
                    return Err(Problem::unauthorized("wrong user or password", challenge));
                };
                let key = sha256(&[name.as_bytes(), password.as_bytes(), hash.as_bytes()]);
                let cached = {
                    let v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                    v.get(&key)
                        .filter(|(_, at)| now.duration_since(*at) < VERIFIED_TTL)
                        .map(|(p, _)| p.clone())
                };
                if let Some(p) = cached {
                    self.succeed(ip);
                    return Ok(p);
                }
                let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                    .await
                    .unwrap_or(false);
                if !ok {
                    self.fail(ip, now, &name, "wrong password");
                    return Err(Problem::unauthorized("wrong user or password", challenge));
                }
                let p = Principal { name, role };
                let mut v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if v.len() > 10_000 {
                    v.clear();
                }
                v.insert(key, (p.clone(), now));
                self.succeed(ip);
                Ok(p)
            }
        }
    }
}

/// Paths served without credentials: the dashboard's own files (it asks
/// for credentials itself) and, if configured, `/metrics`.
fn public(path: &str, metrics_public: bool) -> bool {
    path == "/" || path.starts_with("/assets/") || (metrics_public && path == "/metrics")
}

/// The middleware: authenticate, check the role, remember who it was for
/// the audit log.
pub(crate) async fn require(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if public(&path, app.auth.metrics_public) {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<Peer>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |p| p.0.ip());
    // The dashboard asks for credentials in its own form, not the browser's.
    let challenge = !req.headers().contains_key("x-tandem-dashboard");
    let principal = match app.auth.authenticate(req.headers(), ip, challenge).await {
        Ok(p) => p,
        Err(problem) => return problem.into_response(),
    };
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if !read && principal.role == AdminRole::ReadOnly {
        let mut r = Problem::forbidden(format!(
            "{} is read-only: {} needs the admin role",
            principal.name,
            req.method()
        ))
        .into_response();
        r.extensions_mut().insert(principal);
        return r;
    }
    req.extensions_mut().insert(principal.clone());
    let mut r = next.run(req).await;
    r.extensions_mut().insert(principal);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(auth).unwrap_or(HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn reads_basic_and_bearer() {
        // "ops:se:cret" — the password may hold colons.
        assert_eq!(
            credentials(&headers("Basic b3BzOnNlOmNyZXQ=")),
            Some(Ok(Credentials::Basic {
                user: "ops".into(),
                password: "se:cret".into()
            }))
        );
        assert_eq!(
            credentials(&headers("Bearer abc")),
            Some(Ok(Credentials::Bearer("abc".into())))
        );
        assert!(matches!(credentials(&headers("Digest x")), Some(Err(_))));
        assert!(matches!(credentials(&headers("Basic !!!")), Some(Err(_))));
        assert_eq!(credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn hex_and_constant_time_compare() {
        let d = hex32(&"ab".repeat(32)).unwrap_or_default();
        assert_eq!(d, [0xab; 32]);
        assert!(hex32("abc").is_none());
        assert!(same(&d, &[0xab; 32]));
        assert!(!same(&d, &[0; 32]));
    }

    #[test]
    fn only_the_dashboard_files_are_public() {
        assert!(public("/", false));
        assert!(public("/assets/app.js", false));
        assert!(!public("/api/v1/extensions", false));
        assert!(!public("/metrics", false));
        assert!(public("/metrics", true));
    }
}
