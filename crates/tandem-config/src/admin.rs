//! `[admin]`: the operations plane (REST API, dashboard, metrics). Absent:
//! no admin plane. Present: it listens on loopback unless `allow_remote`
//! says otherwise, and never without credentials (users with hashed
//! passwords, API tokens stored as SHA-256). Keys are documented in
//! docs/configuration.md and docs/operations.md.

use crate::error::Error;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default listen address of the admin plane.
pub const ADMIN_LISTEN_DEFAULT: &str = "127.0.0.1:8080";

/// `[admin]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// `IP:PORT` to serve on (default `127.0.0.1:8080`; port 0 picks one).
    pub listen: Option<String>,
    /// Allow a listen address other than loopback.
    pub allow_remote: bool,
    /// Serve `/metrics` without credentials.
    pub metrics_public: bool,
    /// `[admin.tls]`: serve HTTPS.
    pub tls: Option<AdminTls>,
    /// `[[admin.users]]`: people, with HTTP Basic.
    pub users: Vec<AdminUser>,
    /// `[[admin.tokens]]`: programs, with `Authorization: Bearer`.
    pub tokens: Vec<AdminToken>,
    /// The audit log (JSON lines); default `admin-audit.jsonl` beside the
    /// embedded database (or the config file, for etcd).
    pub audit_log: Option<PathBuf>,
    /// The admin user created on first start, with a generated password
    /// printed once, when the store holds no admin user yet (default
    /// `admin`; empty: none).
    pub initial_user: String,
    /// Failed logins from one address before it is refused (429).
    pub login_failures_max: u32,
    /// How long such an address is refused, seconds.
    pub login_block_secs: u64,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: None,
            allow_remote: false,
            metrics_public: false,
            tls: None,
            users: Vec::new(),
            tokens: Vec::new(),
            audit_log: None,
            initial_user: "admin".into(),
            login_failures_max: 5,
            login_block_secs: 60,
        }
    }
}

/// `[admin.tls]`: certificate and key for HTTPS.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminTls {
    /// PEM certificate chain (relative to the config file's folder).
    pub certificate: PathBuf,
    /// PEM private key.
    pub private_key: PathBuf,
}

/// What a user or token may do.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Everything.
    Admin,
    /// Reads (GET) only.
    ReadOnly,
}

/// One `[[admin.users]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminUser {
    /// The login name.
    pub name: String,
    /// The password's hash, a PHC string (`$argon2id$...`, as
    /// `tandem admin hash-password` prints).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// A file holding that PHC string (kept out of the config file).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `admin` or `read_only`.
    pub role: AdminRole,
}

/// One `[[admin.tokens]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    /// Its name, as the audit log shows it.
    pub name: String,
    /// SHA-256 of the token, 64 hex digits (`printf %s TOKEN | sha256sum`).
    pub token_sha256: String,
    /// `admin` or `read_only`.
    pub role: AdminRole,
}

impl AdminSection {
    /// The listen address (checked at load).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .as_deref()
            .unwrap_or(ADMIN_LISTEN_DEFAULT)
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// Where the audit log goes.
    pub fn audit_log_path(&self, config: &crate::Config) -> PathBuf {
        if let Some(p) = &self.audit_log {
            return p.clone();
        }
        let dir = if config.storage.backend == "embedded" {
            config.storage.path.parent().map(Path::to_path_buf)
        } else {
            config
                .source
                .as_ref()
                .and_then(|p| p.parent().map(Path::to_path_buf))
        };
        dir.unwrap_or_default().join("admin-audit.jsonl")
    }

    pub(crate) fn resolve(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(tls) = &mut self.tls {
            resolve(&mut tls.certificate);
            resolve(&mut tls.private_key);
        }
        if let Some(a) = &mut self.audit_log {
            resolve(a);
        }
        for u in &mut self.users {
            if let Some(f) = &mut u.password_file {
                resolve(f);
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

pub(crate) fn check(config: &crate::Config, path: &Path) -> Result<(), Error> {
    let Some(admin) = &config.admin else {
        return Ok(());
    };
    let invalid = |key: String, problem: String| Error::Invalid {
        path: path.to_owned(),
        key,
        problem,
    };
    let listen = admin.listen.as_deref().unwrap_or(ADMIN_LISTEN_DEFAULT);
    let addr: SocketAddr = listen.parse().map_err(|_| {
        invalid(
            "admin.listen".into(),
            format!("{listen:?} is not IP:PORT (e.g. \"127.0.0.1:8080\" or \"[::1]:8080\")"),
        )
    })?;
    if !addr.ip().is_loopback() && !admin.allow_remote {
        return Err(invalid(
            "admin.listen".into(),
            format!("{addr} is not a loopback address: set admin.allow_remote = true to serve the admin plane on a network (with [admin.tls])"),
        ));
    }
    if let Some(tls) = &admin.tls {
        for (key, p) in [
            ("admin.tls.certificate", &tls.certificate),
            ("admin.tls.private_key", &tls.private_key),
        ] {
            if !p.is_file() {
                return Err(invalid(
                    key.into(),
                    format!("{} does not exist or is not a file", p.display()),
                ));
            }
        }
    }
    if !admin.initial_user.is_empty() && !valid_name(&admin.initial_user) {
        return Err(invalid(
            "admin.initial_user".into(),
            format!("{:?}: use letters, digits or - _ . @", admin.initial_user),
        ));
    }
    if admin.login_failures_max == 0 {
        return Err(invalid(
            "admin.login_failures_max".into(),
            "must be at least 1".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, u) in admin.users.iter().enumerate() {
        let key = format!("admin.users[{i}]");
        if !valid_name(&u.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{:?}: use letters, digits or - _ . @", u.name),
            ));
        }
        if !seen.insert(u.name.clone()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{} is listed twice", u.name),
            ));
        }
        match (&u.password_hash, &u.password_file) {
            (Some(h), None) => {
                if !h.starts_with("$argon2") {
                    return Err(invalid(
                        format!("{key}.password_hash"),
                        "expected an Argon2 PHC string ($argon2id$...): make one with `tandem admin hash-password`".into(),
                    ));
                }
            }
            (None, Some(f)) => {
                if !f.is_file() {
                    return Err(invalid(
                        format!("{key}.password_file"),
                        format!("{} does not exist or is not a file", f.display()),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    key,
                    "give exactly one of password_hash or password_file".into(),
                ))
            }
        }
    }
    for (i, t) in admin.tokens.iter().enumerate() {
        let key = format!("admin.tokens[{i}]");
        if !valid_name(&t.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{:?}: use letters, digits or - _ . @", t.name),
            ));
        }
        if !seen.insert(t.name.clone()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{} is already a user or token name", t.name),
            ));
        }
        if t.token_sha256.len() != 64 || !t.token_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                format!("{key}.token_sha256"),
                "expected 64 hex digits (printf %s TOKEN | sha256sum)".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Config, Error};
    use std::path::Path;

    fn load(text: &str) -> Result<Config, Error> {
        Config::from_toml(text, Path::new("t.toml"), Path::new("/base"))
    }

    fn key_of(e: Error) -> String {
        match e {
            Error::Invalid { key, .. } | Error::Syntax { key, .. } => key,
            Error::Read { .. } => "-".into(),
        }
    }

    #[test]
    fn absent_section_means_no_admin_plane() {
        assert!(load("").map(|c| c.admin.is_none()).unwrap_or(false));
    }

    #[test]
    fn defaults_to_loopback_and_resolves_paths() {
        let c = load("[storage]\npath = \"db/x.db\"\n[admin]\n").expect("valid");
        let a = c.admin.clone().expect("admin");
        assert_eq!(a.listen_addr().to_string(), "127.0.0.1:8080");
        assert_eq!(a.initial_user, "admin");
        assert_eq!(
            a.audit_log_path(&c),
            Path::new("/base/db/admin-audit.jsonl")
        );
        let c = load("[admin]\naudit_log = \"a.jsonl\"\n").expect("valid");
        let a = c.admin.clone().expect("admin");
        assert_eq!(a.audit_log_path(&c), Path::new("/base/a.jsonl"));
    }

    #[test]
    fn refuses_a_network_address_unless_allowed() {
        let e = load("[admin]\nlisten = \"0.0.0.0:8080\"\n").expect_err("refused");
        assert_eq!(key_of(e), "admin.listen");
        assert!(load("[admin]\nlisten = \"0.0.0.0:8080\"\nallow_remote = true\n").is_ok());
        let e = load("[admin]\nlisten = \"nowhere\"\n").expect_err("refused");
        assert_eq!(key_of(e), "admin.listen");
    }

    #[test]
    fn checks_users_and_tokens() {
        let e = load("[[admin.users]]\nname = \"ops\"\nrole = \"admin\"\n").expect_err("refused");
        assert_eq!(key_of(e), "admin.users[0]");
        let e =
            load("[[admin.users]]\nname = \"ops\"\nrole = \"admin\"\npassword_hash = \"plain\"\n")
                .expect_err("refused");
        assert_eq!(key_of(e), "admin.users[0].password_hash");
        let e = load(
            "[[admin.users]]\nname = \"ops\"\nrole = \"boss\"\npassword_hash = \"$argon2id$x\"\n",
        )
        .expect_err("refused");
        assert_eq!(key_of(e), "admin.users[0].role");
        let e =
            load("[[admin.tokens]]\nname = \"ci\"\nrole = \"read_only\"\ntoken_sha256 = \"abc\"\n")
                .expect_err("refused");
        assert_eq!(key_of(e), "admin.tokens[0].token_sha256");
        let ok = format!(
            "[[admin.users]]\nname = \"ops\"\nrole = \"read_only\"\npassword_hash = \"$argon2id$x\"\n[[admin.tokens]]\nname = \"ci\"\nrole = \"admin\"\ntoken_sha256 = \"{}\"\n",
            "a".repeat(64)
        );
        assert!(load(&ok).is_ok());
    }
}
