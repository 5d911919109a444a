//! The CPU threads one operator (an interval function, a file parse) may use
//! while a query is planned or runs: as many as the session's
//! `target_partitions`, in a rayon pool of the operator's own (so a session
//! limited to N partitions uses N threads, whatever the machine).

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::SqlError;

/// A pool of worker threads, or none (work runs on the calling thread).
#[derive(Clone, Default)]
pub struct Workers(Option<Arc<rayon::ThreadPool>>);

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workers({})", self.threads())
    }
}

impl Workers {
    /// `threads` workers; fewer than two means none.
    pub fn new(threads: usize) -> Result<Self, SqlError> {
        if threads < 2 {
            return Ok(Self(None));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("omicsdb-worker-{i}"))
            .build()?;
        Ok(Self(Some(Arc::new(pool))))
    }

    /// How many threads work runs on.
    pub fn threads(&self) -> usize {
        self.0.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// `f` of every item, in the items' order, computed on the workers.
    pub fn map<T: Send, R: Send>(&self, items: Vec<T>, f: impl Fn(T) -> R + Send + Sync) -> Vec<R> {
        match &self.0 {
            Some(pool) if items.len() > 1 => pool.install(|| items.into_par_iter().map(f).collect()),
            _ => items.into_iter().map(f).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order() {
        let w = Workers::new(2).unwrap();
        assert_eq!(w.threads(), 2);
        assert_eq!(w.map((0..1000).collect(), |x: i32| x * 2), (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    }
}
