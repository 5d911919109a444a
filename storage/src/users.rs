//! Users of `omicsdb serve`: a name, a role and a SCRAM-SHA-256 verifier,
//! stored in the catalog under `user/<name>`. The password itself is never
//! stored: only what PostgreSQL keeps in `pg_authid.rolpassword`, the salt,
//! the iteration count, `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`
//! and `ServerKey = HMAC(SaltedPassword, "Server Key")` (RFC 5802). With
//! them the server can check a client's proof and prove itself to the
//! client, but cannot recover the password or log in as the user.
//!
//! ```no_run
//! use omicsdb_storage::{Store, users::{self, Role, ScramVerifier}};
//! let store = Store::open("my.omicsdb")?;
//! let salted = users::scram::hi(b"pencil", b"0123456789abcdef", 4096);
//! let verifier = ScramVerifier::from_salted_password(4096, b"0123456789abcdef", &salted);
//! users::add_user(&store, "ann", Role::Reader, &verifier)?;
//! assert_eq!(users::user(&store, "ann")?.unwrap().role, Role::Reader);
//! # Ok::<(), omicsdb_storage::StorageError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogBatch;
use crate::error::{Result, StorageError};
use crate::layout::now_unix;
use crate::store::Store;

/// What a user may do over the wire protocol (see `docs/server.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only queries (SELECT, EXPLAIN, SHOW, session settings, cursors).
    Reader,
    /// Everything the engine accepts, including statements that write or
    /// read files on the server.
    Admin,
}

impl Role {
    /// `reader` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Role> {
        match s {
            "reader" => Ok(Role::Reader),
            "admin" => Ok(Role::Admin),
            other => Err(StorageError::invalid("role", format!("'{other}' (expected reader or admin)"))),
        }
    }
}

/// A SCRAM-SHA-256 verifier: all the server needs to authenticate a user.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    /// PBKDF2 iteration count the client must use.
    pub iterations: u32,
    /// Salt of the salted password.
    pub salt: Vec<u8>,
    /// `H(ClientKey)`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

/// Prefix of the text form, as in PostgreSQL.
const SCRAM_PREFIX: &str = "SCRAM-SHA-256$";

impl ScramVerifier {
    /// The verifier of `salted` = `Hi(password, salt, iterations)`.
    pub fn from_salted_password(iterations: u32, salt: &[u8], salted: &[u8]) -> ScramVerifier {
        let client_key = scram::hmac_sha256(salted, b"Client Key");
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: scram::sha256(&client_key),
            server_key: scram::hmac_sha256(salted, b"Server Key"),
        }
    }

    /// True when `proof` (the client's `p=` attribute, decoded) proves
    /// knowledge of the password for this `auth_message` (RFC 5802 §3):
    /// `H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`.
    pub fn accepts(&self, auth_message: &[u8], proof: &[u8]) -> bool {
        if proof.len() != 32 {
            return false;
        }
        let signature = scram::hmac_sha256(&self.stored_key, auth_message);
        let mut client_key = [0u8; 32];
        for (i, k) in client_key.iter_mut().enumerate() {
            *k = proof[i] ^ signature[i];
        }
        scram::constant_time_eq(&scram::sha256(&client_key), &self.stored_key)
    }

    /// `HMAC(ServerKey, AuthMessage)`: the server's proof (`v=`).
    pub fn server_signature(&self, auth_message: &[u8]) -> [u8; 32] {
        scram::hmac_sha256(&self.server_key, auth_message)
    }

    /// Parses PostgreSQL's text form,
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64).
    pub fn parse(text: &str) -> Result<ScramVerifier> {
        let bad = |why: &str| StorageError::Catalog(format!("unreadable SCRAM verifier: {why}"));
        let rest = text.strip_prefix(SCRAM_PREFIX).ok_or_else(|| bad("not SCRAM-SHA-256"))?;
        let (params, keys) = rest.split_once('$').ok_or_else(|| bad("missing '$'"))?;
        let (iterations, salt) = params.split_once(':').ok_or_else(|| bad("missing ':' in parameters"))?;
        let (stored, server) = keys.split_once(':').ok_or_else(|| bad("missing ':' in keys"))?;
        let iterations: u32 = iterations.parse().map_err(|_| bad("bad iteration count"))?;
        let salt = scram::base64_decode(salt).ok_or_else(|| bad("bad salt"))?;
        let key = |s: &str| -> Result<[u8; 32]> {
            scram::base64_decode(s)
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| bad("bad key"))
        };
        if iterations == 0 || salt.is_empty() {
            return Err(bad("empty salt or zero iterations"));
        }
        Ok(ScramVerifier {
            iterations,
            salt,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }
}

impl fmt::Display for ScramVerifier {
    /// PostgreSQL's text form (see [`ScramVerifier::parse`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCRAM_PREFIX}{}:{}${}:{}",
            self.iterations,
            scram::base64_encode(&self.salt),
            scram::base64_encode(&self.stored_key),
            scram::base64_encode(&self.server_key)
        )
    }
}

/// One user, as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Login name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The SCRAM-SHA-256 verifier in PostgreSQL's text form.
    pub scram_sha_256: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

impl UserRecord {
    /// The decoded verifier.
    pub fn verifier(&self) -> Result<ScramVerifier> {
        ScramVerifier::parse(&self.scram_sha_256)
            .map_err(|e| StorageError::Catalog(format!("user '{}': {e}", self.name)))
    }
}

/// Catalog key of a user.
pub fn user_key(name: &str) -> String {
    format!("user/{name}")
}

/// Checks a user name: 1 to 63 letters, digits, `_`, `-` or `.`, starting
/// with a letter, digit or `_`.
pub fn check_user_name(name: &str) -> Result<()> {
    let ok_first = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok_rest = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok_first || !ok_rest || name.len() > 63 {
        return Err(StorageError::invalid(
            "user name",
            format!("'{name}' must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'"),
        ));
    }
    Ok(())
}

/// All users, by name.
pub fn list_users(store: &Store) -> Result<Vec<UserRecord>> {
    store.catalog().list("user/")
}

/// One user, if it exists.
pub fn user(store: &Store, name: &str) -> Result<Option<UserRecord>> {
    store.catalog().get(&user_key(name))
}

/// One user; an error naming the known users if it does not exist.
pub fn require_user(store: &Store, name: &str) -> Result<UserRecord> {
    match user(store, name)? {
        Some(record) => Ok(record),
        None => Err(not_found(store, name)?),
    }
}

fn not_found(store: &Store, name: &str) -> Result<StorageError> {
    Ok(StorageError::NotFound {
        kind: "user",
        name: name.to_owned(),
        known: list_users(store)?.into_iter().map(|u| u.name).collect(),
    })
}

/// Adds a user (one catalog commit). Fails if the name is taken.
pub fn add_user(store: &Store, name: &str, role: Role, verifier: &ScramVerifier) -> Result<UserRecord> {
    check_user_name(name)?;
    let _guard = store.write_guard();
    if user(store, name)?.is_some() {
        return Err(StorageError::AlreadyExists {
            kind: "user",
            name: name.to_owned(),
            hint: " (use `omicsdb user set-role` or `omicsdb user set-password`, or drop it first)".to_owned(),
        });
    }
    let record = UserRecord {
        name: name.to_owned(),
        role,
        scram_sha_256: verifier.to_string(),
        created_at: now_unix(),
    };
    let mut batch = CatalogBatch::new();
    batch.put(user_key(name), &record)?;
    store.commit(batch)?;
    Ok(record)
}

/// Changes an existing user with `change` and commits it.
fn update_user(store: &Store, name: &str, change: impl FnOnce(&mut UserRecord)) -> Result<UserRecord> {
    let _guard = store.write_guard();
    let Some(mut record) = user(store, name)? else {
        return Err(not_found(store, name)?);
    };
    change(&mut record);
    let mut batch = CatalogBatch::new();
    batch.put(user_key(name), &record)?;
    store.commit(batch)?;
    Ok(record)
}

/// Sets a user's role.
pub fn set_role(store: &Store, name: &str, role: Role) -> Result<UserRecord> {
    update_user(store, name, |r| r.role = role)
}

/// Replaces a user's verifier (a new password).
pub fn set_verifier(store: &Store, name: &str, verifier: &ScramVerifier) -> Result<UserRecord> {
    update_user(store, name, |r| r.scram_sha_256 = verifier.to_string())
}

/// Removes a user.
pub fn drop_user(store: &Store, name: &str) -> Result<()> {
    let _guard = store.write_guard();
    if user(store, name)?.is_none() {
        return Err(not_found(store, name)?);
    }
    let mut batch = CatalogBatch::new();
    batch.remove(user_key(name));
    store.commit(batch)
}

/// The primitives SCRAM-SHA-256 needs: SHA-256, HMAC, PBKDF2 (`Hi`) and
/// base64, on the `sha2` crate already in the build.
pub mod scram {
    use sha2::{Digest, Sha256};

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    /// HMAC-SHA-256 (RFC 2104).
    pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        inner.update(message);
        let inner = inner.finalize();
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        outer.update(inner);
        outer.finalize().into()
    }

    /// `Hi(password, salt, i)` = PBKDF2-HMAC-SHA-256 with one output block
    /// (RFC 5802). The password must already be SASLprep-normalized.
    pub fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut first = salt.to_vec();
        first.extend_from_slice(&1u32.to_be_bytes());
        let mut u = hmac_sha256(password, &first);
        let mut out = u;
        for _ in 1..iterations {
            u = hmac_sha256(password, &u);
            for (o, x) in out.iter_mut().zip(u) {
                *o ^= x;
            }
        }
        out
    }

    /// Compares without an early exit.
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Standard base64 with padding.
    pub fn base64_encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes standard base64 with padding; `None` if malformed.
    pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
        let bytes = text.as_bytes();
        if bytes.len() % 4 != 0 {
            return None;
        }
        let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
        let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
        for (index, chunk) in bytes.chunks(4).enumerate() {
            let last = index + 1 == bytes.len() / 4;
            let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 || (pad > 0 && !last) {
                return None;
            }
            let mut n = 0u32;
            for &c in &chunk[..4 - pad] {
                n = (n << 6) | value(c)?;
            }
            n <<= 6 * pad as u32;
            let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&decoded[..3 - pad]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::scram::*;
    use super::*;

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0xff, 0x00, 0xfe]] {
            let text = base64_encode(data);
            assert_eq!(base64_decode(&text).as_deref(), Some(data), "{text}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("Zm8").is_none());
        assert!(base64_decode("Z=8=").is_none());
        assert!(base64_decode("Zm8=Zm8=").is_none());
        assert!(base64_decode("Zm!=").is_none());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            crate::models::hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The SCRAM-SHA-256 exchange of RFC 7677 §3 (user "user", password "pencil").
    #[test]
    fn verifier_checks_the_rfc_7677_exchange() {
        let salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::from_salted_password(4096, &salt, &hi(b"pencil", &salt, 4096));
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = base64_decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").unwrap();
        assert!(verifier.accepts(auth_message.as_bytes(), &proof));
        assert_eq!(
            base64_encode(&verifier.server_signature(auth_message.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(!verifier.accepts(auth_message.as_bytes(), &wrong));
        assert!(!verifier.accepts(auth_message.as_bytes(), &proof[..31]));
        // PostgreSQL's text form round-trips.
        let text = verifier.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"), "{text}");
        assert_eq!(ScramVerifier::parse(&text).unwrap(), verifier);
        assert!(ScramVerifier::parse("md5abc").is_err());
        assert!(!format!("{verifier:?}").contains(&base64_encode(&verifier.stored_key)));
    }

    #[test]
    fn users_are_added_listed_changed_and_dropped() {
        let dir = crate::test_util::TempDir::new("users");
        let store = Store::open(&dir.0).unwrap();
        let salt = b"0123456789abcdef";
        let verifier = ScramVerifier::from_salted_password(4096, salt, &hi(b"pw", salt, 4096));
        add_user(&store, "ann", Role::Reader, &verifier).unwrap();
        add_user(&store, "bob", Role::Admin, &verifier).unwrap();
        assert!(matches!(add_user(&store, "ann", Role::Admin, &verifier), Err(StorageError::AlreadyExists { .. })));
        assert!(add_user(&store, "a/b", Role::Admin, &verifier).is_err());
        assert!(add_user(&store, "", Role::Admin, &verifier).is_err());
        let names: Vec<(String, Role)> = list_users(&store).unwrap().into_iter().map(|u| (u.name, u.role)).collect();
        assert_eq!(names, [("ann".to_owned(), Role::Reader), ("bob".to_owned(), Role::Admin)]);
        assert_eq!(user(&store, "ann").unwrap().unwrap().verifier().unwrap(), verifier);
        set_role(&store, "ann", Role::Admin).unwrap();
        assert_eq!(user(&store, "ann").unwrap().unwrap().role, Role::Admin);
        drop_user(&store, "bob").unwrap();
        let err = drop_user(&store, "bob").unwrap_err().to_string();
        assert!(err.contains("unknown user 'bob'") && err.contains("ann"), "{err}");
        assert!(set_role(&store, "bob", Role::Reader).is_err());
        assert_eq!("reader".parse::<Role>().unwrap(), Role::Reader);
        assert!("root".parse::<Role>().is_err());
    }
}
