//! Authentication: SCRAM-SHA-256 against stored verifiers, or trust.
//!
//! Passwords never travel in clear and are never stored: with users
//! configured, clients must use SCRAM-SHA-256 (psql, libpq, tokio-postgres,
//! psycopg and JDBC all do), and the server holds only each user's verifier
//! (salt, iteration count, StoredKey, ServerKey; see
//! [`omicsdb_storage::users`]). pgwire's own SCRAM handler needs the salted
//! password, which is as good as the password for logging in, so the
//! exchange (RFC 5802/7677, without channel binding) is implemented here on
//! the verifier.
//!
//! A wrong password or unknown user gets FATAL 28P01 and the connection
//! closes; unknown users run the same exchange against a salt derived from
//! the name and a per-server secret (stable across attempts, as PostgreSQL
//! does) and a key nobody knows, so a client cannot tell which user names
//! exist. Trust mode must be asked for (`ServeConfig::trust`, `omicsdb serve
//! --trust`), needs no users and is only allowed on loopback (see
//! [`ServeConfig::validate`](super::ServeConfig::validate)); trust sessions
//! are admin.
//!
//! A client takes a session slot (`max_connections`) only once it has
//! authenticated, just before AuthenticationOk; the next one over the limit
//! gets FATAL 53300 then. A client still in the exchange holds no slot.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use omicsdb_storage::users::scram::{base64_decode, base64_encode, hmac_sha256};
use omicsdb_storage::users::{Role, ScramVerifier};
use pgwire::api::auth::sasl::scram::gen_salted_password;
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::ServeUser;
use super::roles::SessionRole;
use super::settings::{self, TimeoutPolicy};
use super::sqlstate::codes;

/// PBKDF2 rounds of new verifiers (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// The only SASL mechanism offered.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// The SCRAM-SHA-256 verifier of `password`: a fresh random 16-byte salt,
/// [`SCRAM_ITERATIONS`] rounds, the password SASLprep-normalized as libpq
/// does.
pub fn scram_verifier(password: &str) -> ScramVerifier {
    let salt = rand::random::<[u8; 16]>();
    let salted = gen_salted_password(password, &salt, SCRAM_ITERATIONS as usize);
    ScramVerifier::from_salted_password(SCRAM_ITERATIONS, &salt, &salted)
}

/// The users allowed to log in, with their roles and verifiers.
pub struct UserStore {
    users: HashMap<String, (Role, ScramVerifier)>,
    /// Secret for the fake salts of unknown users.
    mock_secret: [u8; 32],
}

impl Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore").field("users", &self.users.len()).finish_non_exhaustive()
    }
}

impl UserStore {
    /// A store of `users`.
    pub fn new(users: &[ServeUser]) -> UserStore {
        UserStore {
            users: users.iter().map(|u| (u.name.clone(), (u.role, u.verifier.clone()))).collect(),
            mock_secret: rand::random(),
        }
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when there is no user (trust mode).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The role and verifier of `user`; for an unknown user `None` and a
    /// verifier no password matches, with the same salt on every attempt.
    pub fn lookup(&self, user: &str) -> (Option<Role>, ScramVerifier) {
        match self.users.get(user) {
            Some((role, verifier)) => (Some(*role), verifier.clone()),
            None => {
                let mut input = b"salt:".to_vec();
                input.extend_from_slice(user.as_bytes());
                let salt = hmac_sha256(&self.mock_secret, &input)[..16].to_vec();
                let verifier = ScramVerifier {
                    iterations: SCRAM_ITERATIONS,
                    salt,
                    stored_key: rand::random(),
                    server_key: rand::random(),
                };
                (None, verifier)
            }
        }
    }
}

fn invalid(message: &str) -> PgWireError {
    PgWireError::InvalidScramMessage(message.to_owned())
}

/// One SCRAM exchange after the server-first-message was sent.
#[derive(Debug)]
pub struct ScramExchange {
    user: String,
    role: Option<Role>,
    verifier: ScramVerifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramExchange {
    /// Reads the client-first-message of `user`; returns the exchange and the
    /// server-first-message to send.
    pub fn start(users: &UserStore, user: &str, client_first: &[u8]) -> PgWireResult<(ScramExchange, String)> {
        let text = std::str::from_utf8(client_first).map_err(|_| invalid("client-first-message is not UTF-8"))?;
        let (flag, rest) = text.split_once(',').ok_or_else(|| invalid("client-first-message has no GS2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => {
                return Err(invalid("channel binding is not supported (the server offers SCRAM-SHA-256 only)"));
            }
            _ => return Err(invalid("bad GS2 channel binding flag")),
        }
        let (authzid, bare) = rest.split_once(',').ok_or_else(|| invalid("client-first-message has no GS2 header"))?;
        if !authzid.is_empty() {
            return Err(invalid("authorization identities are not supported"));
        }
        let gs2_header = text[..text.len() - bare.len()].to_owned();
        let mut attrs = bare.split(',');
        match attrs.next() {
            Some(a) if a.starts_with("n=") => {}
            Some(a) if a.starts_with("m=") => return Err(invalid("SCRAM extensions are not supported")),
            _ => return Err(invalid("client-first-message has no user name attribute")),
        }
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .ok_or_else(|| invalid("client-first-message has no valid nonce"))?;
        let nonce = format!("{client_nonce}{}", base64_encode(&rand::random::<[u8; 18]>()));
        let (role, verifier) = users.lookup(user);
        let server_first = format!("r={nonce},s={},i={}", base64_encode(&verifier.salt), verifier.iterations);
        let exchange = ScramExchange {
            user: user.to_owned(),
            role,
            verifier,
            gs2_header,
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((exchange, server_first))
    }

    /// Checks the client-final-message; returns the user's role and the
    /// server-final-message, or 28P01 for a wrong password or unknown user.
    pub fn finish(self, client_final: &[u8]) -> PgWireResult<(Role, String)> {
        let text = std::str::from_utf8(client_final).map_err(|_| invalid("client-final-message is not UTF-8"))?;
        let (without_proof, proof) =
            text.rsplit_once(",p=").ok_or_else(|| invalid("client-final-message has no proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs.next().and_then(|a| a.strip_prefix("c=")).ok_or_else(|| invalid("no channel binding attribute"))?;
        let nonce = attrs.next().and_then(|a| a.strip_prefix("r=")).ok_or_else(|| invalid("no nonce attribute"))?;
        if base64_decode(binding).as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(invalid("channel binding data does not match the GS2 header"));
        }
        if nonce != self.nonce {
            return Err(invalid("nonce does not match"));
        }
        let proof = base64_decode(proof).ok_or_else(|| invalid("proof is not base64"))?;
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let accepted = self.verifier.accepts(auth_message.as_bytes(), &proof);
        match self.role {
            Some(role) if accepted => {
                let signature = self.verifier.server_signature(auth_message.as_bytes());
                Ok((role, format!("v={}", base64_encode(&signature))))
            }
            _ => Err(PgWireError::InvalidPassword(self.user)),
        }
    }
}

/// Where a SCRAM login stands.
#[derive(Debug)]
pub enum ScramState {
    /// AuthenticationSASL sent (or nothing yet).
    Initial,
    /// server-first-message sent.
    ServerFirstSent(Box<ScramExchange>),
    /// Finished or failed.
    Done,
}

/// What the startup handlers of all connections share.
pub struct StartupSettings {
    /// The users checked with SCRAM-SHA-256 (unused in trust mode).
    pub users: Arc<UserStore>,
    /// Trust authentication: no password, every session admin (loopback
    /// only, checked by [`ServeConfig::validate`](super::ServeConfig::validate)).
    pub trust: bool,
    /// Server parameters sent after authentication.
    pub params: Arc<DefaultServerParameterProvider>,
    /// Shared pid/secret generator, so cancel keys are unique.
    pub keys: Arc<dyn PidSecretKeyGenerator>,
    /// Refuse clients that did not negotiate TLS.
    pub require_tls: bool,
    /// Session slots. A client takes one when it has authenticated and holds
    /// it until it disconnects; clients still authenticating hold none (the
    /// pending-startup allowance bounds those).
    pub sessions: Arc<Semaphore>,
    /// The server's maximum statement timeout (see [`super::settings`]).
    pub max_statement_timeout: Duration,
}

impl Debug for StartupSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupSettings")
            .field("users", &self.users)
            .field("trust", &self.trust)
            .field("require_tls", &self.require_tls)
            .field("max_statement_timeout", &self.max_statement_timeout)
            .finish_non_exhaustive()
    }
}

/// A session slot, held in the session's extensions until it disconnects.
struct SessionSlot(#[allow(dead_code)] OwnedSemaphorePermit);

/// The startup handler for one connection.
pub struct SessionStartup {
    settings: Arc<StartupSettings>,
    /// This connection's SCRAM exchange.
    state: Mutex<ScramState>,
}

impl SessionStartup {
    /// A handler for one new connection.
    pub fn for_connection(settings: &Arc<StartupSettings>) -> SessionStartup {
        SessionStartup { settings: settings.clone(), state: Mutex::new(ScramState::Initial) }
    }

    /// Lets an authenticated client in as `role`: takes a session slot
    /// (FATAL 53300 when none is free), records the role and starts the
    /// session at the server's maximum statement timeout.
    fn admit<C: ClientInfo + ?Sized>(&self, client: &mut C, role: Role) -> PgWireResult<()> {
        let slot = self.settings.sessions.clone().try_acquire_owned().map_err(|_| too_many_clients())?;
        client.session_extensions().insert(SessionSlot(slot));
        client.session_extensions().insert(SessionRole(role));
        settings::start_session(client, TimeoutPolicy::for_role(role, self.settings.max_statement_timeout));
        Ok(())
    }
}

fn too_many_clients() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        codes::TOO_MANY_CONNECTIONS.to_owned(),
        "sorry, too many clients already".to_owned(),
    )))
}

fn tls_required() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        codes::INVALID_AUTHORIZATION.to_owned(),
        "this server requires TLS: connect with sslmode=require".to_owned(),
    )))
}

fn take_state(state: &Mutex<ScramState>) -> ScramState {
    std::mem::replace(&mut *state.lock().unwrap_or_else(|p| p.into_inner()), ScramState::Done)
}

#[async_trait]
impl StartupHandler for SessionStartup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let settings = &self.settings;
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if settings.require_tls && !client.is_secure() {
                    return Err(tls_required());
                }
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if settings.trust {
                    self.admit(client, Role::Admin)?;
                    let (pid, key) = settings.keys.generate(&*client);
                    client.set_pid_and_secret_key(pid, key);
                    return finish_authentication(client, settings.params.as_ref()).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(vec![SCRAM_SHA_256.to_owned()])))
                    .await?;
                Ok(())
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) if !settings.trust => match take_state(&self.state) {
                ScramState::Initial => {
                    let initial = msg.into_sasl_initial_response()?;
                    if initial.auth_method != SCRAM_SHA_256 {
                        return Err(PgWireError::UnsupportedSASLAuthMethod(initial.auth_method));
                    }
                    let data = initial.data.ok_or_else(|| invalid("empty client-first-message"))?;
                    let user = client.metadata().get("user").cloned().ok_or(PgWireError::UserNameRequired)?;
                    let (exchange, server_first) = ScramExchange::start(&settings.users, &user, &data)?;
                    *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
                        ScramState::ServerFirstSent(Box::new(exchange));
                    client
                        .send(PgWireBackendMessage::Authentication(Authentication::SASLContinue(
                            server_first.into_bytes().into(),
                        )))
                        .await?;
                    Ok(())
                }
                ScramState::ServerFirstSent(exchange) => {
                    let response = msg.into_sasl_response()?;
                    let (role, server_final) = exchange.finish(&response.data)?;
                    // Only now, with the password checked, does the client
                    // count against the session limit.
                    self.admit(client, role)?;
                    client
                        .send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(
                            server_final.into_bytes().into(),
                        )))
                        .await?;
                    let (pid, key) = settings.keys.generate(&*client);
                    client.set_pid_and_secret_key(pid, key);
                    finish_authentication(client, settings.params.as_ref()).await
                }
                ScramState::Done => Err(PgWireError::InvalidSASLState),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use omicsdb_storage::users::scram::hi;

    use super::*;

    /// What a client sends: client-final-message for `password`.
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        let attrs: HashMap<&str, &str> = server_first.split(',').filter_map(|a| a.split_once('=')).collect();
        let salt = base64_decode(attrs["s"]).unwrap();
        let iterations: u32 = attrs["i"].parse().unwrap();
        let salted = hi(password.as_bytes(), &salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key = omicsdb_storage::users::scram::sha256(&client_key);
        let without_proof = format!("c=biws,r={}", attrs["r"]);
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        format!("{without_proof},p={}", base64_encode(&proof))
    }

    fn store() -> UserStore {
        UserStore::new(&[ServeUser::with_password("ann", "pencil", Role::Reader)])
    }

    #[test]
    fn right_password_gives_the_role_and_a_server_proof() {
        let users = store();
        let (exchange, server_first) = ScramExchange::start(&users, "ann", b"n,,n=,r=abc").unwrap();
        assert!(server_first.starts_with("r=abc"), "{server_first}");
        let reply = client_final("pencil", "n=,r=abc", &server_first);
        let (role, server_final) = exchange.finish(reply.as_bytes()).unwrap();
        assert_eq!(role, Role::Reader);
        assert!(server_final.starts_with("v="));
    }

    #[test]
    fn wrong_password_and_unknown_user_are_the_same_28p01() {
        let users = store();
        let (exchange, server_first) = ScramExchange::start(&users, "ann", b"n,,n=,r=abc").unwrap();
        let reply = client_final("wrong", "n=,r=abc", &server_first);
        let err = exchange.finish(reply.as_bytes()).unwrap_err();
        assert_eq!(ErrorInfo::from(err).code, "28P01");

        let (exchange, first_a) = ScramExchange::start(&users, "nobody", b"n,,n=,r=abc").unwrap();
        let (_, first_b) = ScramExchange::start(&users, "nobody", b"n,,n=,r=abc").unwrap();
        let salt = |s: &str| s.split(',').find(|a| a.starts_with("s=")).unwrap().to_owned();
        assert_eq!(salt(&first_a), salt(&first_b), "an unknown user's salt must not change between attempts");
        let reply = client_final("pencil", "n=,r=abc", &first_a);
        assert_eq!(ErrorInfo::from(exchange.finish(reply.as_bytes()).unwrap_err()).code, "28P01");
    }

    #[test]
    fn malformed_exchanges_are_refused() {
        let users = store();
        for first in [&b"p=tls-server-end-point,,n=,r=abc"[..], b"n,a=bob,n=,r=abc", b"n,,m=x,n=,r=abc", b"n,,n=", b"x", b"\xff"] {
            assert!(ScramExchange::start(&users, "ann", first).is_err(), "{first:?}");
        }
        let (exchange, server_first) = ScramExchange::start(&users, "ann", b"n,,n=,r=abc").unwrap();
        // A replayed nonce from another exchange.
        let reply = client_final("pencil", "n=,r=abc", &server_first.replacen("r=abc", "r=abd", 1));
        assert!(exchange.finish(reply.as_bytes()).is_err());
    }
}
