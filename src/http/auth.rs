//! Authentication and authorisation for the review server.
//!
//! - Bearer tokens: 32 random bytes from the OS (`cqa_` + 64 hex digits),
//!   shown once by `callqa users add` (or `POST /api/users`) and stored only
//!   as their SHA-256. A fast hash is enough here because a token carries
//!   256 bits of entropy: there is nothing to guess.
//! - Every `/api` handler takes a [`User`], which only exists for a request
//!   with a valid token of an enabled user; agents are further limited to
//!   their own agent id ([`User::may_read`]).
//! - An `<audio>` element cannot send a header, so the page asks for a
//!   short-lived media link: the job id and an expiry signed with
//!   HMAC-SHA256 under a key drawn at server start ([`MediaKey`]). A link
//!   opens one recording until it expires and nothing else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::api::{ApiError, AppState};
use crate::domain::Role;
use crate::store::UserRow;

const TOKEN_PREFIX: &str = "cqa_";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A new random token. Fails only if the OS has no randomness to give.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&b)))
}

/// What is stored for a token.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether a string has the shape of our tokens (checked before hashing
/// so junk never reaches the database).
pub fn looks_like_token(t: &str) -> bool {
    t.len() == TOKEN_PREFIX.len() + 64
        && t.starts_with(TOKEN_PREFIX)
        && t[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub agent_id: Option<String>,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        User {
            name: u.name,
            role: u.role,
            agent_id: u.agent_id,
        }
    }
}

impl User {
    /// At least `role` (reviewer, supervisor, admin); agents never pass.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {role} role; you are {}",
                self.role
            )))
        }
    }

    /// Whether this user may see a result of `agent_id`.
    pub fn may_read(&self, agent_id: &str) -> bool {
        match self.role {
            Role::Agent => self.agent_id.as_deref() == Some(agent_id),
            _ => true,
        }
    }

    /// For agents, their own agent id: list endpoints are narrowed to it.
    pub fn own_agent(&self) -> Option<&str> {
        match self.role {
            Role::Agent => Some(self.agent_id.as_deref().unwrap_or("\u{0}none")),
            _ => None,
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The user whose token the request carries.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    if !looks_like_token(token) {
        return Err(ApiError::Unauthorized);
    }
    state
        .store()
        .user_by_token_hash(&hash_token(token))
        .await?
        .map(User::from)
        .ok_or(ApiError::Unauthorized)
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers).await
    }
}

/// The key media links are signed with; new at every start, so a restart
/// revokes every link.
#[derive(Clone)]
pub struct MediaKey([u8; 32]);

impl MediaKey {
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k)?;
        Ok(MediaKey(k))
    }

    fn mac(&self, job_id: &str, user: &str, expires: i64) -> Hmac<Sha256> {
        // The key is 32 bytes: HMAC takes any length, so this cannot fail.
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        m.update(job_id.as_bytes());
        m.update(b"\n");
        m.update(user.as_bytes());
        m.update(b"\n");
        m.update(expires.to_string().as_bytes());
        m
    }

    /// The signature for a job's recording, for `user`, until `expires`
    /// (Unix seconds). The user is signed in so that the server can check,
    /// each time the link is used, that they are still allowed.
    pub fn sign(&self, job_id: &str, user: &str, expires: i64) -> String {
        hex(&self.mac(job_id, user, expires).finalize().into_bytes())
    }

    /// Checks a signature (in constant time) and the expiry.
    pub fn verify(&self, job_id: &str, user: &str, expires: i64, sig: &str, now: i64) -> bool {
        if expires < now {
            return false;
        }
        match unhex(sig) {
            Some(bytes) => self.mac(job_id, user, expires).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        assert!(!looks_like_token("cqa_xyz"));
        assert!(!looks_like_token(&a.replace("cqa_", "abc_")));
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
        // SHA-256 of "abc", a published test vector.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn media_links_expire_and_bind_the_job() {
        let k = MediaKey::random().unwrap();
        let sig = k.sign("job-1", "qa", 1000);
        assert!(k.verify("job-1", "qa", 1000, &sig, 999));
        assert!(k.verify("job-1", "qa", 1000, &sig, 1000));
        assert!(!k.verify("job-1", "qa", 1000, &sig, 1001), "expired");
        assert!(!k.verify("job-2", "qa", 1000, &sig, 999), "other job");
        assert!(!k.verify("job-1", "qa2", 1000, &sig, 999), "other user");
        assert!(!k.verify("job-1", "qa", 2000, &sig, 999), "other expiry");
        assert!(!k.verify("job-1", "qa", 1000, "zz", 999));
        let other = MediaKey::random().unwrap();
        assert!(!other.verify("job-1", "qa", 1000, &sig, 999), "other key");
    }
}
