//! Progress of a run: a bar with windows/s and ETA on a terminal, a log line
//! every few seconds (and one per committed partition) otherwise.

pub use omicsdb_storage::progress::{human_bytes, thousands};

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// The plan is known.
    Planned {
        /// `model@version`.
        label: &'a str,
        /// Window set.
        window_set: &'a str,
        /// Windows to compute in this run.
        todo_windows: u64,
        /// Partitions to compute in this run.
        todo_partitions: usize,
        /// Windows of the requested partitions committed by earlier runs.
        done_windows: u64,
    },
    /// A partition's queries start.
    PartitionStarted {
        /// Chromosome.
        chrom: &'a str,
        /// Tissue.
        tissue: Option<&'a str>,
    },
    /// More windows were computed and written.
    Windows(u64),
    /// A partition was committed.
    PartitionCommitted {
        /// Chromosome.
        chrom: &'a str,
        /// Tissue.
        tissue: Option<&'a str>,
        /// Windows.
        rows: u64,
        /// Parquet bytes.
        bytes: u64,
    },
    /// The run ended (successfully or not).
    Finished,
}

/// Receives a run's events.
pub trait Observer: Send + Sync {
    /// Called for each event, from the run's task.
    fn event(&self, event: &Event<'_>);
}

/// Ignores events (library use, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// Reports to stderr: a progress bar on a terminal, periodic log lines otherwise.
#[derive(Debug)]
pub struct Console {
    bar: Option<ProgressBar>,
    every: Duration,
    state: Mutex<LogState>,
}

#[derive(Debug)]
struct LogState {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    partition: String,
}

impl Console {
    /// A bar when stderr is a terminal (unless `force_log`), else a log line every `every`.
    pub fn new(every: Duration, force_log: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !force_log).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>16} [{bar:30}] {human_pos}/{human_len} windows {per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let now = Instant::now();
        let state = LogState { label: String::new(), total: 0, done: 0, started: now, last: now, partition: String::new() };
        Self { bar, every, state: Mutex::new(state) }
    }

    fn log(&self, s: &LogState) {
        let secs = s.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { s.done as f64 / secs } else { 0.0 };
        let eta = if rate > 0.0 { human_duration(Duration::from_secs_f64((s.total - s.done.min(s.total)) as f64 / rate)) } else { "?".into() };
        let pct = if s.total > 0 { 100.0 * s.done as f64 / s.total as f64 } else { 100.0 };
        eprintln!(
            "materialize {}: {}/{} windows ({pct:.1}%), {rate:.1} windows/s, eta {eta} ({})",
            s.label,
            thousands(s.done),
            thousands(s.total),
            s.partition
        );
    }
}

impl Observer for Console {
    fn event(&self, event: &Event<'_>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *event {
            Event::Planned { label, window_set, todo_windows, todo_partitions, done_windows } => {
                s.label = label.to_string();
                s.total = todo_windows;
                s.started = Instant::now();
                s.last = s.started;
                if let Some(bar) = &self.bar {
                    bar.set_length(todo_windows);
                    bar.set_message(label.to_string());
                    bar.reset_elapsed();
                } else {
                    eprintln!(
                        "materialize {label} over {window_set}: {} windows in {todo_partitions} partitions to compute ({} already committed)",
                        thousands(todo_windows),
                        thousands(done_windows)
                    );
                }
            }
            Event::PartitionStarted { chrom, tissue } => {
                s.partition = partition_name(chrom, tissue);
                if let Some(bar) = &self.bar {
                    bar.set_message(s.partition.clone());
                }
            }
            Event::Windows(n) => {
                s.done += n;
                if let Some(bar) = &self.bar {
                    bar.inc(n);
                } else if s.last.elapsed() >= self.every {
                    s.last = Instant::now();
                    self.log(&s);
                }
            }
            Event::PartitionCommitted { chrom, tissue, rows, bytes } => {
                let line = format!("committed {}: {} windows, {}", partition_name(chrom, tissue), thousands(rows), human_bytes(bytes));
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            Event::Finished => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

/// `chr1/liver`, or `chr1` for tissue-independent partitions.
pub fn partition_name(chrom: &str, tissue: Option<&str>) -> String {
    match tissue {
        Some(t) => format!("{chrom}/{t}"),
        None => chrom.to_string(),
    }
}



/// `3h 02m`, `4m 05s`, `12.3s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_as_a_person_writes_them() {
        assert_eq!(thousands(3_100_000), "3,100,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_duration(Duration::from_secs(3725)), "1h 02m");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(human_duration(Duration::from_millis(12_300)), "12.3s");
        assert_eq!(partition_name("chr1", Some("liver")), "chr1/liver");
    }
}
