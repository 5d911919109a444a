//! `omicsdb sql`: one query, or an interactive prompt with history and multi-line input.
//!
//! The file table functions (`read_bed`, `read_fasta`, `closest`) read only
//! under the current directory, the database directory and `--allow-dir`s.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use omicsdb::Database;
use omicsdb_sql::table_functions::access::FileAccess;

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Parquet (needs --output).
    Parquet,
}

/// Arguments of `omicsdb sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query; without it, an interactive prompt starts.
    pub query: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Another directory under which read_bed, read_fasta and closest may read
    /// files (repeatable); the current directory and the database's are always
    /// allowed.
    #[arg(long = "allow-dir", value_name = "DIR")]
    pub allow_dirs: Vec<PathBuf>,
}

/// Runs `omicsdb sql`.
pub fn run(db: &Database, args: SqlArgs) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let dirs = [cwd, db.store().root().to_path_buf()].into_iter().chain(args.allow_dirs.iter().cloned());
    FileAccess::under(dirs)?.install(db.context());
    let rt = super::runtime()?;
    match &args.query {
        Some(q) => rt.block_on(run_query(db, q, args.format, args.output.as_ref())),
        None => interactive(db, &rt),
    }
}

async fn run_query(db: &Database, query: &str, format: Format, output: Option<&PathBuf>) -> Result<()> {
    if format == Format::Parquet && output.is_none() {
        bail!("--format parquet needs --output FILE");
    }
    let df = db.context().sql(query).await.map_err(|e| explain_error(db, e))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await.map_err(|e| explain_error(db, e))?;
    let mut sink: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
        None => Box::new(std::io::stdout().lock()),
    };
    match format {
        Format::Table => {
            // A table needs column widths from all rows; collect (bounded by the query).
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(b) = stream.next().await {
                batches.push(b.map_err(|e| explain_error(db, e))?);
            }
            if batches.is_empty() {
                batches.push(RecordBatch::new_empty(schema));
            }
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(sink, "{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?)?;
            writeln!(sink, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::Writer::new(sink);
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(|e| explain_error(db, e))?)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(sink);
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(|e| explain_error(db, e))?)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            drop(sink);
            let path = output.context("--output")?;
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            while let Some(b) = stream.next().await {
                w.write(&b.map_err(|e| explain_error(db, e))?)?;
            }
            w.close()?;
        }
    }
    Ok(())
}

/// Adds the list of tables to "table not found" errors.
fn explain_error(db: &Database, e: datafusion::error::DataFusionError) -> anyhow::Error {
    let msg = e.to_string();
    if msg.contains("not found") && msg.to_lowercase().contains("table") {
        let mut names: Vec<String> = db
            .context()
            .catalog("datafusion")
            .and_then(|c| c.schema("public"))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        return anyhow::anyhow!("{msg}\navailable tables: {}", names.join(", "));
    }
    anyhow::anyhow!(msg)
}

fn interactive(db: &Database, rt: &tokio::runtime::Runtime) -> Result<()> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = db.store().root().join(".sql_history");
    let _ = editor.load_history(&history);
    println!("omicsdb SQL; end statements with ';', \\q to quit, \\dt to list tables");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "omicsdb> " } else { "     ... " };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && (trimmed == "\\q" || trimmed == "quit" || trimmed == "exit") {
            break;
        }
        if buffer.is_empty() && trimmed == "\\dt" {
            buffer = "SHOW TABLES;".into();
        } else {
            buffer.push_str(&line);
            buffer.push('\n');
        }
        if !buffer.trim_end().ends_with(';') {
            continue;
        }
        let query = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(query.trim());
        if let Err(e) = rt.block_on(run_query(db, query.trim().trim_end_matches(';'), Format::Table, None)) {
            eprintln!("error: {e:#}");
        }
    }
    let _ = editor.save_history(&history);
    Ok(())
}
