//! Query cancellation (CancelRequest) and `statement_timeout`.
//!
//! pgwire's own cancel hook only races the handler's `do_query` future, but
//! DataFusion does its work while the row stream is polled, after `do_query`
//! has returned; and datafusion-postgres applies `statement_timeout` to
//! planning only. (Which timeout a statement gets, and who may change it, is
//! [`super::settings`]'s.) So each session gets a [`SessionControl`] (registered by
//! backend pid + secret key in a [`CancelRegistry`]), and every result stream
//! is wrapped in [`GuardedRows`], which stops the stream with SQLSTATE 57014
//! when a cancel arrives or the deadline passes. Dropping the inner stream
//! drops DataFusion's execution, which stops its tasks.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use pgwire::api::ClientInfo;
use pgwire::api::results::SendableRowStream;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Why a statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// A CancelRequest for this session arrived.
    Cancelled,
    /// `statement_timeout` elapsed.
    TimedOut,
}

impl Interrupt {
    /// PostgreSQL's wording.
    pub fn message(self) -> &'static str {
        match self {
            Interrupt::Cancelled => "canceling statement due to user request",
            Interrupt::TimedOut => "canceling statement due to statement timeout",
        }
    }

    /// The error sent to the client: SQLSTATE 57014 with PostgreSQL's wording.
    pub fn into_error(self) -> PgWireError {
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".to_owned(),
            "57014".to_owned(),
            self.message().to_owned(),
        )))
    }
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// An engine error caused by an [`Interrupt`] (a model function that saw it
/// between micro-batches) is sent as 57014 too ([`super::sqlstate::code_of`]).
impl std::error::Error for Interrupt {}

/// Per-session cancel state: a counter bumped by each CancelRequest.
#[derive(Debug, Default)]
pub struct SessionControl {
    cancels: AtomicU64,
    notify: Notify,
}

impl SessionControl {
    /// Cancels whatever statement is running now.
    pub fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The cancel count at the start of a statement.
    pub fn epoch(&self) -> u64 {
        self.cancels.load(Ordering::SeqCst)
    }

    /// Resolves when a cancel arrives after `since` or when `deadline` passes.
    pub async fn interrupted(self: Arc<Self>, since: u64, deadline: Option<Instant>) -> Interrupt {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.epoch() != since {
                return Interrupt::Cancelled;
            }
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(deadline) => return Interrupt::TimedOut,
                    }
                }
                None => notified.await,
            }
        }
    }
}

impl SessionControl {
    /// The probe model functions check between micro-batches (see
    /// [`omicsdb_udf::interrupt`]): a cancel after `since`, or `deadline`
    /// passed. Unlike [`GuardedRows`] it needs no poll, so it fires while a
    /// model call holds the thread the statement's stream is polled on.
    pub fn interrupt(self: &Arc<Self>, since: u64, deadline: Option<Instant>) -> omicsdb_udf::StatementInterrupt {
        let control = Arc::clone(self);
        omicsdb_udf::StatementInterrupt::new(move || {
            let why = if control.epoch() != since {
                Interrupt::Cancelled
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Interrupt::TimedOut
            } else {
                return None;
            };
            Some(Box::new(why) as omicsdb_udf::StopReason)
        })
    }
}

/// The deadline for a statement starting now, from the session's
/// `statement_timeout` held to its policy (see [`super::settings`]): a
/// reader's statement always has one.
pub fn statement_deadline<C: ClientInfo + ?Sized>(client: &C) -> Option<Instant> {
    super::settings::statement_timeout(client).map(|timeout| Instant::now() + timeout)
}

/// The control of the session `client` belongs to, if it was registered.
pub fn control_of<C: ClientInfo + ?Sized>(client: &C) -> Option<Arc<SessionControl>> {
    client.session_extensions().get::<Arc<SessionControl>>().map(|c| (*c).clone())
}

/// Sessions by backend pid and secret key, for CancelRequest.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<(i32, Vec<u8>), Arc<SessionControl>>>,
}

impl CancelRegistry {
    /// Registers a session; it is removed when the returned guard drops.
    pub fn register(self: &Arc<Self>, pid: i32, key: &SecretKey, control: Arc<SessionControl>) -> Registration {
        let id = (pid, key.to_bytes().to_vec());
        if let Ok(mut map) = self.sessions.lock() {
            map.insert(id.clone(), control);
        }
        Registration {
            registry: self.clone(),
            id,
        }
    }

    /// Cancels the session's running statement; false if no session matches
    /// (wrong pid or secret: ignored silently, as PostgreSQL does).
    pub fn cancel(&self, pid: i32, key: &SecretKey) -> bool {
        let control = match self.sessions.lock() {
            Ok(map) => map.get(&(pid, key.to_bytes().to_vec())).cloned(),
            Err(_) => None,
        };
        match control {
            Some(control) => {
                control.cancel();
                true
            }
            None => false,
        }
    }

    /// Number of registered sessions.
    pub fn len(&self) -> usize {
        self.sessions.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes a session from its [`CancelRegistry`] on drop.
#[derive(Debug)]
pub struct Registration {
    registry: Arc<CancelRegistry>,
    id: (i32, Vec<u8>),
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.registry.sessions.lock() {
            map.remove(&self.id);
        }
    }
}

/// Checks the deadline every this many rows while rows flow without pause.
const DEADLINE_CHECK_ROWS: u32 = 256;

/// A row stream that ends with a 57014 error on cancel or timeout.
pub struct GuardedRows {
    inner: SendableRowStream,
    control: Arc<SessionControl>,
    since: u64,
    deadline: Option<Instant>,
    stop: Pin<Box<dyn Future<Output = Interrupt> + Send>>,
    rows: u32,
    done: bool,
}

impl GuardedRows {
    /// Wraps `inner` for a statement that started at cancel epoch `since`.
    pub fn new(
        inner: SendableRowStream,
        control: Arc<SessionControl>,
        since: u64,
        deadline: Option<Instant>,
    ) -> GuardedRows {
        let stop = Box::pin(control.clone().interrupted(since, deadline));
        GuardedRows {
            inner,
            control,
            since,
            deadline,
            stop,
            rows: 0,
            done: false,
        }
    }

    fn finish(&mut self, why: Interrupt) -> Poll<Option<PgWireResult<DataRow>>> {
        self.done = true;
        // Drop the execution now rather than when the portal goes away.
        self.inner = Box::pin(futures::stream::empty());
        Poll::Ready(Some(Err(why.into_error())))
    }
}

impl Stream for GuardedRows {
    type Item = PgWireResult<DataRow>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(row)) => {
                if this.control.epoch() != this.since {
                    return this.finish(Interrupt::Cancelled);
                }
                this.rows = this.rows.wrapping_add(1);
                if this.rows % DEADLINE_CHECK_ROWS == 0
                    && this.deadline.is_some_and(|d| Instant::now() >= d)
                {
                    return this.finish(Interrupt::TimedOut);
                }
                Poll::Ready(Some(row))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            // Only while the engine is busy do we need to watch for a cancel.
            Poll::Pending => match this.stop.as_mut().poll(cx) {
                Poll::Ready(why) => this.finish(why),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use futures::StreamExt;

    fn row() -> PgWireResult<DataRow> {
        Ok(DataRow::default())
    }

    #[tokio::test]
    async fn cancel_stops_a_stalled_stream_with_57014() {
        let control = Arc::new(SessionControl::default());
        let inner: SendableRowStream =
            Box::pin(futures::stream::iter([row()]).chain(futures::stream::pending()));
        let mut rows = GuardedRows::new(inner, control.clone(), control.epoch(), None);
        assert!(rows.next().await.unwrap().is_ok());
        let c = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.cancel();
        });
        let err = tokio::time::timeout(Duration::from_secs(5), rows.next())
            .await
            .expect("cancel must wake the stream")
            .unwrap()
            .unwrap_err();
        let info: ErrorInfo = err.into();
        assert_eq!(info.code, "57014");
        assert!(rows.next().await.is_none());
    }

    #[tokio::test]
    async fn deadline_stops_a_stalled_stream() {
        let control = Arc::new(SessionControl::default());
        let inner: SendableRowStream = Box::pin(futures::stream::pending());
        let deadline = Some(Instant::now() + Duration::from_millis(30));
        let mut rows = GuardedRows::new(inner, control.clone(), control.epoch(), deadline);
        let err = tokio::time::timeout(Duration::from_secs(5), rows.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        let info: ErrorInfo = err.into();
        assert_eq!((info.code.as_str(), info.message.contains("timeout")), ("57014", true));
    }

    #[tokio::test]
    async fn earlier_cancels_do_not_hit_a_new_statement() {
        let control = Arc::new(SessionControl::default());
        control.cancel();
        let inner: SendableRowStream = Box::pin(futures::stream::iter([row(), row()]));
        let rows: Vec<_> = GuardedRows::new(inner, control.clone(), control.epoch(), None).collect().await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn registry_cancels_only_the_matching_secret() {
        let registry = Arc::new(CancelRegistry::default());
        let control = Arc::new(SessionControl::default());
        let reg = registry.register(7, &SecretKey::I32(42), control.clone());
        assert!(!registry.cancel(7, &SecretKey::I32(41)));
        assert_eq!(control.epoch(), 0);
        assert!(registry.cancel(7, &SecretKey::I32(42)));
        assert_eq!(control.epoch(), 1);
        drop(reg);
        assert!(registry.is_empty());
        assert!(!registry.cancel(7, &SecretKey::I32(42)));
    }
}
