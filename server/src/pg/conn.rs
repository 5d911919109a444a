//! One client connection: TLS negotiation, size-limited framing, the
//! session limit, and the message loop.
//!
//! This is pgwire's `process_socket` loop rebuilt from its public pieces
//! (`negotiate_tls`, `process_message`, `process_error`) so that the server
//! can (a) bound connections still starting up (the pending-startup
//! allowance) apart from sessions, which take their slot only once
//! authenticated (FATAL 53300 over the limit, see `auth.rs`), while still
//! serving CancelRequests, which PostgreSQL never counts against the limit;
//! (b) put [`LimitedIo`] under the decoder;
//! (c) answer undecodable input with FATAL 08P01 instead of silently
//! dropping the socket; (d) register each session for cancellation; (e)
//! give each connection its own session (`Handlers::connection`).

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use pgwire::api::{ClientInfo, ErrorHandler, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::server::{MaybeTls, PgWireMessageServerCodec, negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Duration, Instant, timeout, timeout_at};
use tokio_util::codec::{Framed, FramedParts};

use super::cancel::{CancelRegistry, SessionControl};
use super::limits::{FrameGuard, LimitedIo, frame_error_of};
use super::session::{Handlers, Statement};
use super::sqlstate::codes;

type Socket = Framed<LimitedIo<MaybeTls>, PgWireMessageServerCodec<Statement>>;

/// Everything a connection task needs, shared by all of them.
pub(crate) struct Shared {
    pub(crate) handlers: Arc<Handlers>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) pending: Arc<Semaphore>,
    pub(crate) registry: Arc<CancelRegistry>,
    pub(crate) max_message_bytes: usize,
    pub(crate) startup_timeout: Duration,
}

/// How long a goodbye error may take to send to a client that does not read.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(2);

fn fatal(code: &str, message: String) -> ErrorInfo {
    ErrorInfo::new("FATAL".to_owned(), code.to_owned(), message)
}

async fn farewell(socket: &mut Socket, info: ErrorInfo) {
    let _ = timeout(FAREWELL_TIMEOUT, async {
        socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await?;
        socket.close().await
    })
    .await;
}

/// The error to send for input the decoder could not accept; `None` when the
/// socket itself failed (nothing can be sent).
fn decode_failure(e: PgWireError) -> Option<ErrorInfo> {
    match e {
        PgWireError::IoError(io) => {
            frame_error_of(&io).map(|fe| fatal(codes::PROTOCOL_VIOLATION, fe.to_string()))
        }
        other => {
            let mut info = ErrorInfo::from(other);
            info.severity = "FATAL".to_owned();
            if info.code == codes::INTERNAL_ERROR {
                info.code = codes::PROTOCOL_VIOLATION.to_owned();
            }
            Some(info)
        }
    }
}

/// Serves one accepted TCP connection until it ends. Never panics on input.
pub(crate) async fn serve_connection(tcp: TcpStream, shared: Arc<Shared>) {
    // Connect floods: sockets beyond the startup allowance are closed at once.
    let Ok(pending) = shared.pending.clone().try_acquire_owned() else {
        return;
    };
    let deadline = Instant::now() + shared.startup_timeout;
    let framed = match timeout_at(deadline, negotiate_tls::<Statement>(tcp, shared.tls.clone())).await {
        Ok(Ok(Some(framed))) => framed,
        _ => return,
    };

    let old = framed.into_parts();
    let mut guard = FrameGuard::new(shared.max_message_bytes);
    let early = guard.feed(&old.read_buf);
    let mut parts = FramedParts::new(LimitedIo::new(old.io, guard), old.codec);
    parts.read_buf = old.read_buf;
    parts.write_buf = old.write_buf;
    let mut socket: Socket = Framed::from_parts(parts);
    if let Err(e) = early {
        farewell(&mut socket, fatal(codes::PROTOCOL_VIOLATION, e.to_string())).await;
        return;
    }

    let first = match timeout_at(deadline, socket.next()).await {
        Ok(Some(Ok(message))) => message,
        Ok(Some(Err(e))) => {
            if let Some(info) = decode_failure(e) {
                farewell(&mut socket, info).await;
            }
            return;
        }
        _ => return,
    };
    match &first {
        PgWireFrontendMessage::CancelRequest(cancel) => {
            shared.registry.cancel(cancel.pid, &cancel.secret_key);
            return;
        }
        // The session slot is taken once the client has authenticated (see
        // `auth.rs`): until then it holds only a pending-startup permit.
        PgWireFrontendMessage::Startup(_) => {}
        _ => {
            farewell(
                &mut socket,
                fatal(codes::PROTOCOL_VIOLATION, "expected a startup message".to_owned()),
            )
            .await;
            return;
        }
    }

    let handlers = shared.handlers.connection();
    let startup_handler = handlers.startup_handler();
    let simple_handler = handlers.session.clone();
    let extended_handler = handlers.session.clone();
    let copy_handler = handlers.copy_handler();
    let cancel_handler = handlers.cancel_handler();
    let error_handler = handlers.error_handler();

    let mut pending = Some(pending);
    let mut registration = None;
    let mut next = Some(first);
    loop {
        let message = match next.take() {
            Some(message) => message,
            None => {
                let in_startup = matches!(
                    socket.state(),
                    PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress
                );
                let read = if in_startup {
                    match timeout_at(deadline, socket.next()).await {
                        Ok(read) => read,
                        Err(_) => {
                            farewell(
                                &mut socket,
                                fatal(codes::PROTOCOL_VIOLATION, "startup timed out".to_owned()),
                            )
                            .await;
                            break;
                        }
                    }
                } else {
                    socket.next().await
                };
                match read {
                    None => break,
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        if let Some(info) = decode_failure(e) {
                            farewell(&mut socket, info).await;
                        }
                        break;
                    }
                }
            }
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_extended = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let result = process_message(
            message,
            &mut socket,
            startup_handler.clone(),
            simple_handler.clone(),
            extended_handler.clone(),
            copy_handler.clone(),
            cancel_handler.clone(),
        )
        .await;
        if let Err(mut e) = result {
            error_handler.on_error(&socket, &mut e);
            let info = ErrorInfo::from(e);
            let is_fatal = info.is_fatal();
            let sent = process_error(&mut socket, PgWireError::UserError(Box::new(info)), is_extended).await;
            if sent.is_err() || is_fatal {
                break;
            }
        }
        if registration.is_none() && matches!(socket.state(), PgWireConnectionState::ReadyForQuery) {
            let (pid, key) = socket.pid_and_secret_key();
            let control = Arc::new(SessionControl::default());
            socket.session_extensions().insert::<Arc<SessionControl>>(control.clone());
            registration = Some(shared.registry.register(pid, &key, control));
            // Authenticated: no longer counts against the startup allowance.
            pending = None;
        }
    }
    drop(pending);
    drop(registration);
}
