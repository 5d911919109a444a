//! Authentication: SCRAM-SHA-256 for configured users, trust otherwise.
//!
//! Passwords never travel in clear: with users configured, clients must use
//! SCRAM-SHA-256 (psql, libpq, tokio-postgres, psycopg and JDBC all do). A
//! wrong password or unknown user gets FATAL 28P01 and the connection closes;
//! unknown users run the same exchange against a random secret, so a client
//! cannot tell which user names exist. Trust mode (no users) is only allowed
//! on loopback (see [`ServeConfig::validate`](super::ServeConfig::validate)).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password, SCRAM_ITERATIONS};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::sqlstate::codes;

/// SCRAM verifiers for the configured users, computed once at startup.
#[derive(Debug)]
pub struct UserStore {
    users: HashMap<String, Password>,
}

impl UserStore {
    /// Salts and hashes each `(user, password)` pair (PBKDF2, 4096 rounds).
    pub fn new(users: &[(String, String)]) -> UserStore {
        let users = users
            .iter()
            .map(|(user, password)| {
                let salt = rand_bytes::<16>().to_vec();
                let salted = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
                (user.clone(), Password::new(Some(salt), salted))
            })
            .collect();
        UserStore { users }
    }

    /// Number of configured users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is configured (trust mode).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    rand::random::<[u8; N]>()
}

#[async_trait]
impl AuthSource for UserStore {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().ok_or(PgWireError::UserNameRequired)?;
        match self.users.get(user) {
            Some(password) => Ok(password.clone()),
            // Same exchange as for a real user, against a secret nobody knows.
            None => {
                let salt = rand_bytes::<16>().to_vec();
                Ok(Password::new(Some(salt), rand_bytes::<32>().to_vec()))
            }
        }
    }
}

/// The startup handler for one connection.
pub enum SessionStartup {
    /// No password (loopback only).
    Trust {
        /// Server parameters sent after authentication.
        params: Arc<DefaultServerParameterProvider>,
        /// Shared pid/secret generator, so cancel keys are unique.
        keys: Arc<dyn PidSecretKeyGenerator>,
        /// Refuse clients that did not negotiate TLS.
        require_tls: bool,
    },
    /// SCRAM-SHA-256 (the SASL handler keeps per-connection state).
    Scram {
        /// pgwire's SASL state machine for this connection.
        handler: Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>,
        /// Refuse clients that did not negotiate TLS.
        require_tls: bool,
    },
}

impl SessionStartup {
    /// A handler for one new connection.
    pub fn for_connection(
        users: &Arc<UserStore>,
        params: &Arc<DefaultServerParameterProvider>,
        keys: &Arc<dyn PidSecretKeyGenerator>,
        require_tls: bool,
    ) -> SessionStartup {
        if users.is_empty() {
            SessionStartup::Trust {
                params: params.clone(),
                keys: keys.clone(),
                require_tls,
            }
        } else {
            let source: Arc<dyn AuthSource> = users.clone();
            let mut scram = ScramAuth::new(source);
            scram.set_iterations(SCRAM_ITERATIONS);
            let handler = SASLAuthStartupHandler::new(params.clone())
                .with_scram(scram)
                .with_pid_secret_key_generator(keys.clone());
            SessionStartup::Scram {
                handler: Box::new(handler),
                require_tls,
            }
        }
    }
}

fn tls_required() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        codes::INVALID_AUTHORIZATION.to_owned(),
        "this server requires TLS: connect with sslmode=require".to_owned(),
    )))
}

#[async_trait]
impl StartupHandler for SessionStartup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            SessionStartup::Trust { params, keys, require_tls } => {
                if let PgWireFrontendMessage::Startup(ref startup) = message {
                    if *require_tls && !client.is_secure() {
                        return Err(tls_required());
                    }
                    protocol_negotiation(client, startup).await?;
                    save_startup_parameters_to_metadata(client, startup);
                    let (pid, key) = keys.generate(&*client);
                    client.set_pid_and_secret_key(pid, key);
                    finish_authentication(client, params.as_ref()).await?;
                }
                Ok(())
            }
            SessionStartup::Scram { handler, require_tls } => {
                if *require_tls
                    && !client.is_secure()
                    && matches!(client.state(), PgWireConnectionState::AwaitingStartup)
                {
                    return Err(tls_required());
                }
                handler.on_startup(client, message).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn known_users_get_their_verifier_and_unknown_users_a_random_one() {
        let store = UserStore::new(&[("omics".to_owned(), "secret".to_owned())]);
        let known = store.get_password(&LoginInfo::new(Some("omics"), None, "127.0.0.1".into())).await.unwrap();
        let salt = known.salt().unwrap().to_vec();
        assert_eq!(known.password(), gen_salted_password("secret", &salt, SCRAM_ITERATIONS).as_slice());

        let a = store.get_password(&LoginInfo::new(Some("nobody"), None, "127.0.0.1".into())).await.unwrap();
        let b = store.get_password(&LoginInfo::new(Some("nobody"), None, "127.0.0.1".into())).await.unwrap();
        assert_ne!(a.password(), b.password(), "unknown users must not share a fixed secret");
        assert!(store.get_password(&LoginInfo::new(None, None, "127.0.0.1".into())).await.is_err());
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(rand_bytes::<16>(), rand_bytes::<16>());
    }
}
