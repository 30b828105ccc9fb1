//! Admin passwords: Argon2id hashes (PHC strings), generated passwords
//! from the operating system's entropy (through the node's clock module,
//! the one place that reads it), and the initial admin user created on
//! first start under `admin/user/<name>` in the store.

use crate::error::Error;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_config::AdminRole;
use tandem_store::{Expect, Op, Store};

/// Where the store keeps admin users.
pub(crate) const USER_PREFIX: &str = "admin/user/";

/// An admin user kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredUser {
    /// Login name.
    pub(crate) name: String,
    /// Argon2id PHC string.
    pub(crate) password_hash: String,
    /// What it may do.
    pub(crate) role: AdminRole,
    /// When it was created, Unix ms.
    pub(crate) created_ms: u64,
}

/// Hashes a password with Argon2id and a random salt. (An empty string,
/// which matches nothing, if hashing failed: it cannot with these inputs.)
pub fn hash_password(password: &str) -> String {
    let entropy = tandem_node::clock::secret();
    let Ok(salt) = SaltString::encode_b64(&entropy[..16]) else {
        return String::new();
    };
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Whether `password` matches the PHC string `hash`.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random password: 18 bytes of OS entropy, base64url (24 characters).
pub(crate) fn generate_password() -> String {
    let entropy = tandem_node::clock::secret();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&entropy[..18])
}

/// The users the store holds.
pub(crate) async fn stored_users(
    store: &Arc<dyn Store>,
) -> Result<Vec<StoredUser>, tandem_store::Error> {
    let snap = store.snapshot(USER_PREFIX).await?;
    Ok(snap
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.value).ok())
        .collect())
}

/// On first start: if the store holds no admin user, creates `name` with
/// a generated password and returns that password (to print once). Only
/// its hash is stored. A peer that creates one first wins; then `None`.
pub(crate) async fn ensure_initial_user(
    store: &Arc<dyn Store>,
    name: &str,
    now_ms: u64,
) -> Result<Option<String>, Error> {
    if name.is_empty() {
        return Ok(None);
    }
    let existing = stored_users(store)
        .await
        .map_err(|source| Error::InitialUser { source })?;
    if existing.iter().any(|u| u.role == AdminRole::Admin) {
        return Ok(None);
    }
    let password = generate_password();
    let user = StoredUser {
        name: name.to_owned(),
        password_hash: hash_password(&password),
        role: AdminRole::Admin,
        created_ms: now_ms,
    };
    let key = format!("{USER_PREFIX}{name}");
    let ops = vec![
        Op::Require {
            key: key.clone(),
            expect: Expect::Absent,
        },
        Op::Put {
            key,
            value: serde_json::to_vec(&user).unwrap_or_default(),
            expires_at_ms: None,
        },
    ];
    match store.commit(ops).await {
        Ok(_) => Ok(Some(password)),
        Err(tandem_store::Error::Conflict { .. }) => Ok(None),
        Err(source) => Err(Error::InitialUser { source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate_password());
    }
}
