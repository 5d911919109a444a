//! Stopping model calls when their statement is stopped.
//!
//! A model call runs inside DataFusion's poll of a row stream, so dropping
//! the stream (what a server does on cancel or `statement_timeout`) takes
//! effect only when the call returns. Whoever runs statements therefore puts
//! a [`StatementInterrupt`] in the session's config before planning one
//! (`config.options_mut().extensions.insert(..)`); the model functions read
//! it from their `ScalarFunctionArgs::config_options` and check it before
//! every micro-batch, so a stopped statement costs at most one more
//! micro-batch per running partition.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ConfigOptions, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};

/// The reason a statement was stopped, as the error to return.
pub type StopReason = Box<dyn std::error::Error + Send + Sync>;

type Probe = dyn Fn() -> Option<StopReason> + Send + Sync;

/// Tells model functions whether their statement was stopped (see the
/// module docs). Unlike other config extensions it is not a setting: it
/// cannot be `SET`, lists no entries, and its clones share one probe (the
/// probe is fixed for the statement; what it observes changes).
#[derive(Clone, Default)]
pub struct StatementInterrupt {
    probe: Option<Arc<Probe>>,
}

impl fmt::Debug for StatementInterrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatementInterrupt").field("armed", &self.probe.is_some()).finish()
    }
}

impl StatementInterrupt {
    /// An interrupt that asks `probe` before each micro-batch; `Some(reason)`
    /// stops the call with that reason as the error's source.
    pub fn new(probe: impl Fn() -> Option<StopReason> + Send + Sync + 'static) -> Self {
        Self { probe: Some(Arc::new(probe)) }
    }

    /// The interrupt of the statement `config` was planned with (one that
    /// never fires when none was set).
    pub fn of(config: &ConfigOptions) -> Self {
        config.extensions.get::<StatementInterrupt>().cloned().unwrap_or_default()
    }

    /// Why the statement was stopped, or `None` while it may go on.
    pub fn stopped(&self) -> Option<StopReason> {
        self.probe.as_ref().and_then(|p| p())
    }
}

impl ExtensionOptions for StatementInterrupt {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, _value: &str) -> Result<()> {
        Err(DataFusionError::Configuration(format!(
            "{}.{key} is not a setting",
            Self::PREFIX
        )))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        Vec::new()
    }
}

impl ConfigExtension for StatementInterrupt {
    const PREFIX: &'static str = "omicsdb_statement";
}

/// Runs `work`, which blocks the thread for a while (model inference), so
/// that it does not stall the tokio runtime it is called from: on a
/// multi-threaded runtime's worker the worker's other tasks (a server's
/// sockets, timers, other sessions) move to another thread first
/// (`tokio::task::block_in_place`); elsewhere (no runtime, a current-thread
/// runtime, a blocking thread) `work` just runs.
pub fn run_blocking<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}
