//! End-to-end tests of `omicsdb serve`'s Postgres wire protocol server with
//! real clients (tokio-postgres, psql) and a raw TCP client for hostile
//! input. Every server listens on 127.0.0.1 port 0; every wait is bounded.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float32Builder, Int64Array, ListBuilder, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use omicsdb_server::pg::{Role, ServeConfig, ServeUser, Server};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Upper bound for any single client step.
pub(crate) const STEP: Duration = Duration::from_secs(20);

/// A running server; stops when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl TestServer {
    pub(crate) fn conn_str(&self, user: &str, extra: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=omicsdb connect_timeout=10 {extra}",
            self.addr.port()
        )
    }

    pub(crate) async fn connect(&self) -> Client {
        self.connect_as("omics", "").await.expect("connect")
    }

    async fn connect_as(&self, user: &str, extra: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = timeout(STEP, tokio_postgres::connect(&self.conn_str(user, extra), NoTls))
            .await
            .expect("connect timed out")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// A small `windows` table: chrom, start, end, score, accessible, embedding.
fn windows_context() -> Arc<SessionContext> {
    windows_context_in(SessionContext::new())
}

/// [`windows_context`]'s table registered in `ctx`.
fn windows_context_in(ctx: SessionContext) -> Arc<SessionContext> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("chrom", DataType::Utf8, false),
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("score", DataType::Float32, true),
        Field::new("accessible", DataType::Boolean, true),
        Field::new(
            "embedding",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            true,
        ),
    ]));
    let mut emb = ListBuilder::new(Float32Builder::new());
    for row in [[0.5f32, 1.5], [2.0, -1.0], [0.0, 0.25]] {
        emb.values().append_slice(&row);
        emb.append(true);
    }
    let mut score = Float32Builder::new();
    score.append_value(0.75);
    score.append_null();
    score.append_value(-2.5);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["chr1", "chr1", "chr2"])),
        Arc::new(Int64Array::from(vec![0, 1000, 0])),
        Arc::new(Int64Array::from(vec![1000, 2000, 1000])),
        Arc::new(score.finish()),
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        Arc::new(emb.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    ctx.register_table("windows", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()))
        .unwrap();
    Arc::new(ctx)
}

pub(crate) async fn start_with(ctx: Arc<SessionContext>, cfg: ServeConfig) -> TestServer {
    let cfg = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..cfg
    };
    let server = Server::bind(ctx, cfg).await.expect("bind");
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .expect("server run");
    });
    TestServer { addr, stop: Some(stop), task: Some(task) }
}

async fn start(cfg: ServeConfig) -> TestServer {
    start_with(windows_context(), cfg).await
}

pub(crate) fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

/// A query that runs far longer than any test waits.
const ENDLESS: &str = "SELECT sum(value) FROM generate_series(1, 100000000000)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_and_extended_protocol_types_and_nulls() {
    let server = start(trusted()).await;
    let client = server.connect().await;

    // Simple protocol: text format.
    let msgs = timeout(STEP, client.simple_query("SELECT chrom, start, score, accessible FROM windows ORDER BY chrom, start"))
        .await
        .unwrap()
        .unwrap();
    let rows: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get("chrom"), Some("chr1"));
    assert_eq!(rows[1].get("start"), Some("1000"));
    assert_eq!(rows[0].get("score"), Some("0.75"));
    assert_eq!(rows[1].get("score"), None, "NULL float");
    assert_eq!(rows[1].get("accessible"), None, "NULL bool");
    assert_eq!(rows[0].get("accessible"), Some("t"));

    // Extended protocol with parameters; tokio-postgres asks for binary results.
    let stmt = timeout(STEP, client.prepare("SELECT chrom, start, \"end\", score, accessible, embedding FROM windows WHERE chrom = $1 AND start >= $2 ORDER BY start"))
        .await
        .unwrap()
        .unwrap();
    let names: Vec<_> = stmt.columns().iter().map(|c| (c.name().to_owned(), c.type_().name().to_owned())).collect();
    assert_eq!(
        names,
        [
            ("chrom", "text"),
            ("start", "int8"),
            ("end", "int8"),
            ("score", "float4"),
            ("accessible", "bool"),
            ("embedding", "_float4")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let rows = timeout(STEP, client.query(&stmt, &[&"chr1", &500i64])).await.unwrap().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), "chr1");
    assert_eq!(r.get::<_, i64>(1), 1000);
    assert_eq!(r.get::<_, i64>(2), 2000);
    assert_eq!(r.get::<_, Option<f32>>(3), None);
    assert_eq!(r.get::<_, Option<bool>>(4), None);
    assert_eq!(r.get::<_, Vec<f32>>(5), vec![2.0, -1.0]);

    // The same statement again with other values (portal reuse).
    let rows = timeout(STEP, client.query(&stmt, &[&"chr2", &0i64])).await.unwrap().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, Option<f32>>(3), Some(-2.5));
    assert_eq!(rows[0].get::<_, Option<bool>>(4), Some(false));

    // Scalars of other types, binary format.
    let row = timeout(STEP, client.query_one("SELECT CAST(1.5 AS DOUBLE) AS d, CAST(7 AS INT) AS i, 'x' AS t, CAST(NULL AS BIGINT) AS n", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<_, f64>("d"), 1.5);
    assert_eq!(row.get::<_, i32>("i"), 7);
    assert_eq!(row.get::<_, &str>("t"), "x");
    assert_eq!(row.get::<_, Option<i64>>("n"), None);

    // Dates and timestamps in text form.
    let msgs = timeout(STEP, client.simple_query("SELECT DATE '2024-03-01' AS d, TIMESTAMP '2024-03-01 12:30:00' AS ts"))
        .await
        .unwrap()
        .unwrap();
    let SimpleQueryMessage::Row(row) = &msgs[1] else { panic!("expected a row, got {:?}", msgs.len()) };
    assert_eq!(row.get("d"), Some("2024-03-01"));
    assert!(row.get("ts").unwrap().starts_with("2024-03-01 12:30:00"), "{:?}", row.get("ts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstates_and_the_session_survives() {
    let server = start(trusted()).await;
    let client = server.connect().await;
    let cases = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_function(1)", "42883"),
        ("SELECT CAST('abc' AS INT)", "22P02"),
    ];
    for (sql, want) in cases {
        // Simple protocol.
        let err = timeout(STEP, client.simple_query(sql)).await.unwrap().unwrap_err();
        assert_eq!(sqlstate(&err), want, "simple {sql}: {err}");
        // Extended protocol (Parse/Bind/Execute/Sync), then resync.
        let err = timeout(STEP, client.query(sql, &[])).await.unwrap().unwrap_err();
        assert_eq!(sqlstate(&err), want, "extended {sql}: {err}");
        let ok = timeout(STEP, client.query_one("SELECT 1 + 1", &[])).await.unwrap().unwrap();
        assert_eq!(ok.get::<_, i64>(0), 2);
    }
    // A failing statement pipelined with a good one: the good one still runs.
    let (bad, good) = tokio::join!(client.query("SELECT * FROM nope", &[]), client.query("SELECT 3", &[]));
    assert_eq!(sqlstate(&bad.unwrap_err()), "42P01");
    assert_eq!(good.unwrap()[0].get::<_, i64>(0), 3);
    // Unknown column and wrong parameter text.
    let err = client.query("SELECT no_col FROM windows", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42703", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_a_running_query() {
    let server = start(trusted()).await;
    let client = server.connect().await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(NoTls).await
    });
    let started = std::time::Instant::now();
    let err = timeout(STEP, client.simple_query(ENDLESS)).await.expect("cancel did not stop the query").unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    canceller.await.unwrap().unwrap();
    // Extended protocol too.
    let token = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = token.cancel_query(NoTls).await;
    });
    let err = timeout(STEP, client.query(ENDLESS, &[])).await.expect("extended cancel").unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    // The session is usable afterwards and a stale cancel does not hit it.
    let row = timeout(STEP, client.query_one("SELECT count(*) FROM windows", &[])).await.unwrap().unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_stops_a_long_query() {
    let server = start(trusted()).await;
    let client = server.connect().await;
    timeout(STEP, client.simple_query("SET statement_timeout = '300ms'")).await.unwrap().unwrap();
    let err = timeout(STEP, client.simple_query(ENDLESS)).await.expect("timeout did not fire").unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    assert!(err.as_db_error().unwrap().message().contains("statement timeout"), "{err}");
    // Short statements still run; then the timeout can be switched off.
    timeout(STEP, client.simple_query("SELECT 1")).await.unwrap().unwrap();
    timeout(STEP, client.simple_query("SET statement_timeout = 0")).await.unwrap().unwrap();
    timeout(STEP, client.simple_query("SELECT 2")).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stream_before_the_query_finishes() {
    let server = start(trusted()).await;
    let client = server.connect().await;
    // An effectively unbounded result: if the server collected it first, no
    // row would ever arrive.
    let stream = timeout(STEP, client.query_raw("SELECT value FROM generate_series(1, 100000000000)", std::iter::empty::<i64>()))
        .await
        .unwrap()
        .unwrap();
    futures::pin_mut!(stream);
    use futures::StreamExt;
    let first = timeout(STEP, stream.next()).await.expect("no row streamed").unwrap().unwrap();
    assert_eq!(first.get::<_, i64>(0), 1);
    for _ in 0..10_000 {
        timeout(STEP, stream.next()).await.unwrap().unwrap().unwrap();
    }
    // Stop the server-side work, then check the session recovered.
    client.cancel_token().cancel_query(NoTls).await.unwrap();
    while let Ok(Some(item)) = timeout(STEP, stream.next()).await {
        if item.is_err() {
            break;
        }
    }
    let row = timeout(STEP, client.query_one("SELECT 5", &[])).await.unwrap().unwrap();
    assert_eq!(row.get::<_, i64>(0), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_sessions() {
    let server = start(trusted()).await;
    let mut tasks = Vec::new();
    for i in 0..32i64 {
        let conn = server.conn_str("omics", "");
        tasks.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.unwrap();
            tokio::spawn(connection);
            let row = client.query_one("SELECT count(*) + $1 FROM windows", &[&i]).await.unwrap();
            row.get::<_, i64>(0)
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(timeout(STEP, task).await.unwrap().unwrap(), 3 + i as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_refuses_with_53300() {
    let server = start(ServeConfig { max_connections: 2, ..trusted() }).await;
    let a = server.connect().await;
    let b = server.connect().await;
    let err = server.connect_as("omics", "").await.err().expect("third client must be refused");
    assert_eq!(sqlstate(&err), "53300", "{err}");
    // Cancel requests still get through at the limit.
    let token = a.cancel_token();
    let running = tokio::spawn(async move { a.simple_query(ENDLESS).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel_query(NoTls).await.unwrap();
    let err = timeout(STEP, running).await.unwrap().unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    // A slot frees when a client leaves.
    drop(b);
    let mut admitted = false;
    for _ in 0..50 {
        if let Ok(c) = server.connect_as("omics", "").await {
            c.simple_query("SELECT 1").await.unwrap();
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "a freed slot was never reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_passwords_are_checked() {
    let cfg = ServeConfig {
        users: vec![ServeUser::with_password("omics", "s3cret pass", Role::Admin)],
        ..ServeConfig::default()
    };
    let server = start(cfg).await;
    let ok = server.connect_as("omics", "password='s3cret pass'").await.expect("right password");
    ok.simple_query("SELECT 1").await.unwrap();
    let err = server.connect_as("omics", "password=wrong").await.err().expect("wrong password");
    assert_eq!(sqlstate(&err), "28P01", "{err}");
    let err = server.connect_as("mallory", "password='s3cret pass'").await.err().expect("unknown user");
    assert_eq!(sqlstate(&err), "28P01", "{err}");
    // The good session is unaffected by the failed logins.
    ok.simple_query("SELECT 2").await.unwrap();
}

#[tokio::test]
async fn trust_auth_is_refused_off_loopback() {
    let cfg = ServeConfig { listen: "0.0.0.0:0".parse().unwrap(), ..trusted() };
    let err = Server::bind(windows_context(), cfg).await.err().expect("must refuse");
    assert!(err.to_string().contains("non-loopback"), "{err}");
}

/// Runs psql with a script; returns stdout, failing with stderr on error.
fn psql(port: u16, extra_env: &[(&str, &str)], conninfo_extra: &str, script: &str) -> String {
    let conninfo = format!("host=127.0.0.1 port={port} user=omics dbname=omicsdb connect_timeout=10 {conninfo_extra}");
    let mut cmd = Command::new("psql");
    cmd.arg(&conninfo).args(["-X", "-v", "ON_ERROR_STOP=1", "-c", script]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("psql is required for this test: install postgresql-client (apt-get install -y postgresql-client)");
    assert!(
        out.status.success(),
        "psql {script:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) async fn psql_async(port: u16, env: Vec<(&'static str, String)>, extra: String, script: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        psql(port, &env, &extra, script)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands_work() {
    let server = start(trusted()).await;
    let port = server.addr.port();
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\dt")).await.unwrap();
    assert!(out.contains("windows"), "\\dt output: {out}");
    // \dt+ adds Size and Description columns (pg_size_pretty, pg_table_size, obj_description).
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\dt+")).await.unwrap();
    assert!(out.contains("windows") && out.contains("Size") && out.contains("Description"), "\\dt+ output: {out}");
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\d windows")).await.unwrap();
    for col in ["chrom", "start", "end", "score", "embedding"] {
        assert!(out.contains(col), "\\d windows lacks {col}: {out}");
    }
    // \d+ adds Storage, Compression, Stats target and Description
    // (col_description; its reloptions array is answered as no options).
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\d+ windows")).await.unwrap();
    for word in ["Table \"public.windows\"", "Storage", "Stats target", "Description", "extended", "plain"] {
        assert!(out.contains(word), "\\d+ windows lacks {word}: {out}");
    }
    for col in ["chrom", "start", "end", "score", "accessible", "embedding"] {
        assert!(out.lines().any(|l| l.trim_start().starts_with(col)), "\\d+ windows lacks {col}: {out}");
    }
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\d")).await.unwrap();
    assert!(out.contains("windows"), "\\d output: {out}");
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\df")).await.unwrap();
    assert!(out.contains("List of functions") && out.contains("Result data type"), "\\df output: {out}");
    // System functions, with PostgreSQL's rendering of their signatures.
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\dfS pg_get_keywords")).await.unwrap();
    assert!(out.contains("SETOF record") && out.contains("OUT word text"), "\\dfS output: {out}");
    // \df+ adds Volatility, Parallel, Owner, Security, Access privileges
    // (array_to_string on pg_proc's text proacl), Language, Source code and
    // Description.
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\dfS+ substr")).await.unwrap();
    for word in ["Volatility", "Parallel", "Security", "Access privileges", "Language", "Source code", "Description"] {
        assert!(out.contains(word), "\\dfS+ lacks {word}: {out}");
    }
    assert!(out.contains("text_substr") && out.contains("immutable") && out.contains("internal"), "\\dfS+ output: {out}");
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "SELECT chrom, start FROM windows WHERE chrom = 'chr2'"))
        .await
        .unwrap();
    assert!(out.contains("chr2") && out.contains("(1 row)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command is required to make a test certificate");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let cfg = ServeConfig {
        tls: Some((cert.clone(), key.clone())),
        require_tls: true,
        users: vec![ServeUser::with_password("omics", "pw", Role::Admin)],
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    let server = start(cfg).await;
    let port = server.addr.port();
    // psql verifies the chain against our certificate (verify-ca), so the
    // rows below came over TLS from the server holding that key.
    let conninfo = format!(
        "host=127.0.0.1 port={port} user=omics dbname=omicsdb connect_timeout=10 sslmode=verify-ca sslrootcert={}",
        cert.display()
    );
    let out = timeout(
        STEP,
        tokio::task::spawn_blocking(move || {
            Command::new("psql")
                .arg(&conninfo)
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "SELECT chrom, start, score FROM windows ORDER BY chrom, start"])
                .env("PGPASSWORD", "pw")
                .output()
                .expect("psql is required for this test: install postgresql-client")
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "psql over TLS failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().collect::<Vec<_>>(), vec!["chr1|0|0.75", "chr1|1000|", "chr2|0|-2.5"], "{stdout}");
    // Without TLS the server refuses (require_tls).
    let err = server.connect_as("omics", "password=pw sslmode=disable").await.err().expect("plain must be refused");
    assert_eq!(sqlstate(&err), "28000", "{err}");
}

/// Reads until the server closes or `STEP` passes; returns what came back.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(STEP, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("server kept a hostile connection open for {STEP:?}"),
        }
    }
}

fn startup_packet(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608i32.to_be_bytes());
    for (k, v) in [("user", user), ("database", "omicsdb")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

/// Sends a startup packet and reads until ReadyForQuery ('Z').
async fn raw_session(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&startup_packet("omics")).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(6).any(|w| w == [b'Z', 0, 0, 0, 5, b'I']) {
        let n = timeout(STEP, s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "server closed during startup");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_never_hurt_other_sessions() {
    let server = start(ServeConfig { max_message_bytes: 64 * 1024, ..trusted() }).await;
    // A well-behaved session that must survive everything below.
    let bystander = server.connect().await;

    // 1. Garbage instead of a startup packet.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    read_to_close(&mut s).await;

    // 2. An oversized message after a good startup: FATAL 08P01, then close.
    let mut s = raw_session(server.addr).await;
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&(1_000_000_000i32).to_be_bytes());
    msg.extend_from_slice(b"SELECT 1");
    s.write_all(&msg).await.unwrap();
    let reply = read_to_close(&mut s).await;
    assert!(reply.first() == Some(&b'E'), "expected an ErrorResponse, got {reply:?}");
    assert!(reply.windows(5).any(|w| w == b"08P01"), "{:?}", String::from_utf8_lossy(&reply));

    // 3. Unknown message type and a negative length.
    for bad in [vec![b'!', 0, 0, 0, 4], vec![b'Q', 0xff, 0xff, 0xff, 0xf0]] {
        let mut s = raw_session(server.addr).await;
        s.write_all(&bad).await.unwrap();
        let reply = read_to_close(&mut s).await;
        assert_eq!(reply.first(), Some(&b'E'), "{bad:?} got {reply:?}");
    }

    // 4. Invalid UTF-8 in a query: an error, and the session goes on.
    let mut s = raw_session(server.addr).await;
    let body = [&b"SELECT '\xff\xfe'"[..], &[0u8]].concat();
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(&body);
    s.write_all(&msg).await.unwrap();
    drop(s);

    // 5. Truncated message then disconnect, and a disconnect mid-result.
    let mut s = raw_session(server.addr).await;
    s.write_all(&[b'Q', 0, 0, 0, 100, b'S']).await.unwrap();
    drop(s);
    let mut s = raw_session(server.addr).await;
    let q = b"SELECT value FROM generate_series(1, 100000000)\0";
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((q.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(q);
    s.write_all(&msg).await.unwrap();
    let mut buf = [0u8; 1024];
    let _ = timeout(STEP, s.read(&mut buf)).await.unwrap();
    drop(s);

    // 6. Random frames, seeded so failures reproduce.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6f6d6963);
    for i in 0..200 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let mut frame = if i % 2 == 0 { startup_packet("omics") } else { Vec::new() };
        let n = rng.random_range(1..512);
        frame.extend((0..n).map(|_| rng.random::<u8>()));
        let _ = s.write_all(&frame).await;
        if i % 3 == 0 {
            drop(s); // abrupt disconnect
        } else {
            let _ = s.shutdown().await;
            read_to_close(&mut s).await;
        }
    }

    // 7. Many quick connects that send nothing useful.
    let mut quick = Vec::new();
    for _ in 0..300 {
        quick.push(TcpStream::connect(server.addr).await.unwrap());
    }
    drop(quick);

    // The bystander and a new client still work.
    let row = timeout(STEP, bystander.query_one("SELECT count(*) FROM windows", &[])).await.unwrap().unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
    let fresh = server.connect().await;
    timeout(STEP, fresh.simple_query("SELECT 1")).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_an_omicsdb_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = omicsdb::Database::open(dir.path()).expect("open database");
    let server = start_with(Arc::new(db.context().clone()), trusted()).await;
    let client = server.connect().await;
    let row = timeout(STEP, client.query_one("SELECT version()", &[])).await.unwrap().unwrap();
    assert!(row.get::<_, &str>(0).starts_with("PostgreSQL"), "{}", row.get::<_, &str>(0));
    timeout(STEP, client.simple_query("SELECT * FROM information_schema.tables")).await.unwrap().unwrap();

    // Structs from omicsdb's functions come back as json.
    let stmt = timeout(STEP, client.prepare("SELECT parse_region($1) AS r")).await.unwrap().unwrap();
    assert_eq!(stmt.columns()[0].type_(), &tokio_postgres::types::Type::JSON);
    let row = timeout(STEP, client.query_one(&stmt, &[&"chr1:1-10"])).await.unwrap().unwrap();
    assert_eq!(row.get::<_, JsonText>(0).0, r#"{"chrom":"chr1","start":0,"end":10}"#);

    // psql's \\df lists omicsdb's own functions.
    let port = server.addr.port();
    let out = timeout(STEP, psql_async(port, vec![], String::new(), "\\df")).await.unwrap();
    for f in ["parse_region", "gc_content"] {
        assert!(out.contains(f), "\\df lacks {f}: {out}");
    }
    let read_bed = out.lines().find(|l| l.contains("read_bed")).unwrap_or_else(|| panic!("\\df lacks read_bed: {out}"));
    assert!(read_bed.contains("SETOF record"), "table functions return sets: {read_bed}");
    // \df+ and \df+ PATTERN: omicsdb's functions with their volatility.
    for script in ["\\df+", "\\df+ region"] {
        let out = timeout(STEP, psql_async(port, vec![], String::new(), script)).await.unwrap();
        assert!(out.contains("Volatility") && out.contains("Source code"), "{script} output: {out}");
        let region = out
            .lines()
            .find(|l| l.split('|').nth(1).is_some_and(|n| n.trim() == "region"))
            .unwrap_or_else(|| panic!("{script} lacks region: {out}"));
        assert!(region.contains("immutable") && region.contains("invoker"), "{script}: {region}");
    }
    // \d+ on the database's own tables.
    for (script, column) in [("\\d+ tracks", "assay"), ("\\d+ chroms", "length")] {
        let out = timeout(STEP, psql_async(port, vec![], String::new(), script)).await.unwrap();
        assert!(out.contains("Storage") && out.contains(column), "{script} output: {out}");
    }
}

/// A `json` value read as its text (tokio-postgres' serde_json support is
/// not compiled in).
struct JsonText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText {
    fn from_sql(
        _ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(JsonText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        ty == &tokio_postgres::types::Type::JSON
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structs_are_sent_as_json() {
    let server = start(trusted()).await;
    let client = server.connect().await;
    let sql = "SELECT named_struct('chrom', chrom, 'start', start, 'score', score) AS r, chrom FROM windows \
               WHERE chrom = $1 ORDER BY start";
    // Extended protocol: Describe announces json (oid 114); binary results.
    let stmt = timeout(STEP, client.prepare(sql)).await.unwrap().unwrap();
    let types: Vec<_> = stmt.columns().iter().map(|c| (c.name().to_owned(), c.type_().oid())).collect();
    assert_eq!(types, [("r".to_owned(), 114), ("chrom".to_owned(), 25)]);
    let rows = timeout(STEP, client.query(&stmt, &[&"chr1"])).await.unwrap().unwrap();
    let got: Vec<String> = rows.iter().map(|r| r.get::<_, JsonText>(0).0).collect();
    assert_eq!(
        got,
        [r#"{"chrom":"chr1","start":0,"score":0.75}"#, r#"{"chrom":"chr1","start":1000,"score":null}"#]
    );
    // Simple protocol: text results.
    let msgs = timeout(STEP, client.simple_query("SELECT named_struct('a', 1, 'b', 'x') AS r, 2 AS n"))
        .await
        .unwrap()
        .unwrap();
    let SimpleQueryMessage::Row(row) = &msgs[1] else { panic!("expected a row") };
    assert_eq!(row.get("r"), Some(r#"{"a":1,"b":"x"}"#));
    assert_eq!(row.get("n"), Some("2"));
    // Lists of scalars stay Postgres arrays; a NULL struct is SQL NULL.
    let row = timeout(
        STEP,
        client.query_one(
            "SELECT embedding, CASE WHEN start < 0 THEN named_struct('a', 1) END AS s FROM windows WHERE chrom = 'chr2'",
            &[],
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.get::<_, Vec<f32>>(0), vec![0.0, 0.25]);
    assert!(row.get::<_, Option<JsonText>>(1).is_none());
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_drivers_psycopg_pandas_sqlalchemy() {
    let python = crate::support::venv_python();
    assert!(
        python.exists(),
        "{} is missing: the Python driver test needs the virtualenv with psycopg, pandas and SQLAlchemy; \
         run scripts/setup.sh (or set OMICSDB_VENV to a virtualenv that has them)",
        python.display()
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("py/clients.py");
    let server = start(trusted()).await;
    let port = server.addr.port();
    let run = tokio::task::spawn_blocking(move || Command::new(&python).arg(&script).arg(port.to_string()).output());
    let out = timeout(Duration::from_secs(120), run)
        .await
        .expect("the Python client script did not finish in 120 s")
        .unwrap()
        .expect("run the virtualenv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all client checks passed"),
        "tests/py/clients.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// `windows` plus omicsdb's table functions (read_bed reads server files).
/// [`windows_context`] with the file table functions, allowed to read
/// under `dir`.
fn windows_context_with_table_functions(dir: &std::path::Path) -> Arc<SessionContext> {
    let ctx = windows_context();
    omicsdb_sql::table_functions::register_table_functions(&ctx);
    omicsdb_sql::table_functions::access::FileAccess::under([dir]).unwrap().install(&ctx);
    ctx
}

/// No users, trust asked for: every loopback session is admin.
pub(crate) fn trusted() -> ServeConfig {
    ServeConfig { trust: true, ..ServeConfig::default() }
}

/// A small BED file in `dir`.
fn bed_file(dir: &std::path::Path) -> String {
    let path = dir.join("peaks.bed");
    std::fs::write(&path, "chr1\t100\t200\nchr2\t5\t50\n").unwrap();
    path.to_str().unwrap().to_owned()
}

/// Asserts `err` is 42501 naming `what` and the reader role.
fn assert_refused(err: &tokio_postgres::Error, what: &str, sql: &str) {
    assert_eq!(sqlstate(err), "42501", "{sql}: {err}");
    let db = err.as_db_error().expect("a server error");
    assert!(
        db.message().contains(what) && db.message().contains("role reader"),
        "{sql}: the message must name {what:?} and the role: {}",
        db.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_may_only_read_in_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let bed = bed_file(dir.path());
    let cfg = ServeConfig {
        users: vec![
            ServeUser::with_password("ann", "reader pw", Role::Reader),
            ServeUser::with_password("root", "admin pw", Role::Admin),
        ],
        ..ServeConfig::default()
    };
    let server = start_with(windows_context_with_table_functions(dir.path()), cfg).await;
    let reader = server.connect_as("ann", "password='reader pw'").await.expect("reader logs in");

    // Reads work: simple and extended protocol, catalog queries, session statements.
    let msgs = timeout(STEP, reader.simple_query("SELECT count(*) AS n FROM windows")).await.unwrap().unwrap();
    let SimpleQueryMessage::Row(row) = &msgs[1] else { panic!("expected a row") };
    assert_eq!(row.get("n"), Some("3"));
    let rows = timeout(STEP, reader.query("SELECT chrom FROM windows WHERE start = $1 ORDER BY chrom", &[&0i64]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), ["chr1", "chr2"]);
    timeout(STEP, reader.simple_query("SELECT relname FROM pg_catalog.pg_class; SHOW statement_timeout; SET statement_timeout = '10s'"))
        .await
        .unwrap()
        .unwrap();
    for sql in ["BEGIN", "SAVEPOINT s", "SELECT 1", "RELEASE SAVEPOINT s", "COMMIT"] {
        timeout(STEP, reader.simple_query(sql)).await.unwrap().unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    timeout(STEP, reader.simple_query("EXPLAIN SELECT * FROM windows")).await.unwrap().unwrap();

    // Server files and writes are admin-only: 42501, and the session goes on.
    let copy_target = dir.path().join("out.csv");
    let refused = [
        (format!("SELECT * FROM read_bed('{bed}')"), "read_bed()"),
        (format!("SELECT count(*) FROM windows w JOIN read_bed('{bed}') b ON w.chrom = b.chrom"), "read_bed()"),
        (format!("COPY (SELECT chrom FROM windows) TO '{}'", copy_target.display()), "COPY"),
        ("COPY windows TO '/tmp/omicsdb-reader-copy.csv'".to_owned(), "COPY"),
        ("CREATE TABLE t (a int)".to_owned(), "CREATE TABLE"),
        ("INSERT INTO windows (chrom) VALUES ('chr9')".to_owned(), "INSERT"),
        ("DROP TABLE windows".to_owned(), "DROP TABLE"),
        ("SET datafusion.execution.batch_size = 1".to_owned(), "SET datafusion.execution.batch_size"),
    ];
    for (sql, what) in &refused {
        let err = timeout(STEP, reader.simple_query(sql)).await.unwrap().err().unwrap_or_else(|| panic!("simple: {sql} ran"));
        assert_refused(&err, what, sql);
        let err = timeout(STEP, reader.query(sql.as_str(), &[])).await.unwrap().err().unwrap_or_else(|| panic!("extended: {sql} ran"));
        assert_refused(&err, what, sql);
        let err = timeout(STEP, reader.prepare(sql)).await.unwrap().err().unwrap_or_else(|| panic!("Parse: {sql} ran"));
        assert_refused(&err, what, sql);
        let row = timeout(STEP, reader.query_one("SELECT count(*) FROM windows", &[])).await.unwrap().unwrap();
        assert_eq!(row.get::<_, i64>(0), 3, "the session stays usable after {sql}");
    }
    assert!(!copy_target.exists(), "a reader's COPY wrote {}", copy_target.display());
    // Inside a transaction the refusal aborts it like any error; ROLLBACK recovers.
    timeout(STEP, reader.simple_query("BEGIN")).await.unwrap().unwrap();
    let err = timeout(STEP, reader.simple_query("CREATE TABLE t (a int)")).await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    timeout(STEP, reader.simple_query("ROLLBACK")).await.unwrap().unwrap();
    timeout(STEP, reader.simple_query("SELECT 1")).await.unwrap().unwrap();

    // The admin may read server files, in both protocols.
    let admin = server.connect_as("root", "password='admin pw'").await.expect("admin logs in");
    let sql = format!("SELECT chrom, start FROM read_bed('{bed}') ORDER BY chrom");
    let msgs = timeout(STEP, admin.simple_query(&sql)).await.unwrap().unwrap();
    let rows: Vec<_> = msgs.iter().filter_map(|m| match m { SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned), _ => None }).collect();
    assert_eq!(rows, ["chr1", "chr2"]);
    let rows = timeout(STEP, admin.query(sql.as_str(), &[])).await.unwrap().unwrap();
    assert_eq!(rows.len(), 2);

    // Wrong passwords and unknown users: 28P01.
    for (user, password) in [("ann", "admin pw"), ("root", "reader pw"), ("nobody", "reader pw")] {
        let err = server.connect_as(user, &format!("password='{password}'")).await.err().expect("must be refused");
        assert_eq!(sqlstate(&err), "28P01", "{user}: {err}");
    }
    // The sessions are unaffected.
    timeout(STEP, reader.simple_query("SELECT 1")).await.unwrap().unwrap();
    timeout(STEP, admin.simple_query("SELECT 1")).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_sessions_are_admin() {
    let dir = tempfile::tempdir().unwrap();
    let bed = bed_file(dir.path());
    let server = start_with(windows_context_with_table_functions(dir.path()), trusted()).await;
    let client = server.connect().await;
    let rows = timeout(STEP, client.query(format!("SELECT * FROM read_bed('{bed}')").as_str(), &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows.len(), 2);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Kills the server process when the test ends, passing or not.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_cli_stores_only_verifiers_and_serve_enforces_roles() {
    use crate::support::{omicsdb, omicsdb_bin, omicsdb_ok};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let reader_pw = "Tr0ub4dor&3 horse";
    let admin_pw = "correct-horse-battery-staple";
    let pw_file = dir.path().join("pw.txt");
    std::fs::write(&pw_file, format!("{reader_pw}\n")).unwrap();

    let out = omicsdb_ok(&db, &["user", "add", "ann", "--role", "reader", "--password-file", pw_file.to_str().unwrap()]);
    assert!(out.contains("ann") && out.contains("reader"), "{out}");
    // From the environment, stdin closed (no prompt answered).
    let out = Command::new(omicsdb_bin())
        .arg("--db")
        .arg(&db)
        .args(["user", "add", "root", "--role", "admin"])
        .env("OMICSDB_PASSWORD", admin_pw)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // No password argument exists; a taken name, a bad role and an empty password are refused.
    for args in [
        &["user", "add", "eve", "--role", "reader", "--password", "x"][..],
        &["user", "add", "ann", "--role", "reader", "--password-file", pw_file.to_str().unwrap()],
        &["user", "add", "eve", "--role", "root", "--password-file", pw_file.to_str().unwrap()],
        &["user", "drop", "nobody"],
    ] {
        let out = omicsdb(&db, args);
        assert!(!out.status.success(), "{args:?} must fail");
    }
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    assert!(!omicsdb(&db, &["user", "add", "eve", "--role", "reader", "--password-file", empty.to_str().unwrap()]).status.success());

    let list = omicsdb_ok(&db, &["user", "list"]);
    let lines: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(lines.contains(&vec!["ann", "reader"]) && lines.contains(&vec!["root", "admin"]), "{list}");
    assert!(!list.contains("eve"), "{list}");
    omicsdb_ok(&db, &["user", "set-role", "ann", "admin"]);
    assert!(omicsdb_ok(&db, &["user", "list"]).lines().any(|l| l.split_whitespace().eq(["ann", "admin"])));
    omicsdb_ok(&db, &["user", "set-role", "ann", "reader"]);
    omicsdb_ok(&db, &["user", "add", "tmp", "--role", "reader", "--password-file", pw_file.to_str().unwrap()]);
    omicsdb_ok(&db, &["user", "drop", "tmp"]);
    assert!(!omicsdb_ok(&db, &["user", "list"]).contains("tmp"));

    // The catalog holds SCRAM verifiers, never the passwords.
    let files = files_under(&db);
    let mut saw_verifier = false;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for pw in [reader_pw, admin_pw] {
            assert!(!contains(&bytes, pw.as_bytes()), "{} contains a password", file.display());
        }
        saw_verifier |= contains(&bytes, b"SCRAM-SHA-256$4096:");
    }
    assert!(saw_verifier, "no SCRAM verifier found in {files:?}");

    // `omicsdb serve` loads the users: SCRAM required, roles enforced.
    let bed = bed_file(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(omicsdb_bin())
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--allow-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = ChildGuard(child);
    let server = TestServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), stop: None, task: None };
    let reader = connect_when_up(&server, "ann", &format!("password='{reader_pw}'")).await;
    timeout(STEP, reader.simple_query("SELECT 1")).await.unwrap().unwrap();
    let sql = format!("SELECT * FROM read_bed('{bed}')");
    let err = timeout(STEP, reader.simple_query(&sql)).await.unwrap().unwrap_err();
    assert_refused(&err, "read_bed()", &sql);
    let admin = server.connect_as("root", &format!("password='{admin_pw}'")).await.expect("admin logs in");
    let rows = timeout(STEP, admin.query(sql.as_str(), &[])).await.unwrap().unwrap();
    assert_eq!(rows.len(), 2);
    // Admins too read only under the --allow-dir directories.
    for path in ["/etc/hostname", "/etc/passwd"] {
        let sql = format!("SELECT * FROM read_bed('{path}')");
        let err = timeout(STEP, admin.simple_query(&sql)).await.unwrap().err().unwrap_or_else(|| panic!("admin read {path}"));
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        assert!(err.as_db_error().unwrap().message().contains(path), "{err}");
    }
    let err = server.connect_as("ann", "password=wrong").await.err().expect("wrong password");
    assert_eq!(sqlstate(&err), "28P01", "{err}");
    // Without a password the client cannot log in at all (SCRAM is asked for).
    assert!(server.connect_as("ann", "").await.is_err(), "a login without a password must fail");
}

/// Rows as comparable text, sorted (queries without ORDER BY may come back
/// in any order from the planned path's partitions).
fn sorted_rows(rows: &[tokio_postgres::Row]) -> Vec<String> {
    use tokio_postgres::types::Type;
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match *r.columns()[i].type_() {
                    Type::INT8 => format!("{:?}", r.get::<_, Option<i64>>(i)),
                    Type::FLOAT4 => format!("{:?}", r.get::<_, Option<f32>>(i)),
                    _ => format!("{:?}", r.get::<_, Option<String>>(i)),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

fn sorted_simple(messages: &[SimpleQueryMessage]) -> Vec<String> {
    let mut out: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| format!("{:?}", r.get(i))).collect::<Vec<_>>().join("|")),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Region lookups (`SELECT columns FROM windows WHERE chrom/start/end ...`)
/// are answered without the planner (server/src/pg/fastpath.rs); they must
/// return exactly what the planned query returns, in both protocols and in
/// binary and text formats, and a catalog change must not serve stale plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_lookups_answer_like_the_planned_query() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("toy.fa");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut text = String::new();
    for (name, len) in [("chrA", 10_037usize), ("chrB", 4_000)] {
        text.push_str(&format!(">{name}\n"));
        let seq: Vec<u8> = (0..len).map(|_| b"ACGTacgtN"[rng.random_range(0..9)]).collect();
        for line in seq.chunks(60) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
    }
    std::fs::write(&fasta, text).unwrap();
    let db = omicsdb::Database::open(dir.path().join("db")).unwrap();
    let ingest = omicsdb::GenomeIngest {
        assembly: "toy".into(),
        path: fasta,
        width: 100,
        stride: 50,
        window_set: None,
        replace: false,
    };
    db.ingest_genome(&ingest).unwrap();
    // A signal track, so that `SELECT *` also reads track files.
    let bedgraph = dir.path().join("sig.bedGraph");
    let mut lines = String::new();
    for (chrom, len) in [("chrA", 10_037u64), ("chrB", 4_000)] {
        for b in (0..len).step_by(37) {
            lines.push_str(&format!("{chrom}\t{b}\t{}\t{:.2}\n", (b + 37).min(len), rng.random_range(0.0..9.0f64)));
        }
    }
    std::fs::write(&bedgraph, lines).unwrap();
    let track = omicsdb_storage::tracks::TrackIngest::new("toy", "sig", bedgraph, "ChIP-seq", "liver");
    db.ingest_track(&track).unwrap();

    let cfg = ServeConfig { listen: "127.0.0.1:0".parse().unwrap(), ..trusted() };
    let bound = Server::bind(Arc::new(db.context().clone()), cfg).await.expect("bind");
    let served = bound.lookups_served();
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        bound.run(async { let _ = stopped.await; }).await.expect("server run");
    });
    let server = TestServer { addr, stop: Some(stop), task: Some(task) };
    let client = server.connect().await;
    let count = || served.load(std::sync::atomic::Ordering::Relaxed);

    // Extended protocol, parameters, binary results: every column.
    let cols = "chrom, start, \"end\", region, seq, gc, n_frac, softmask_frac";
    let fast = client
        .prepare(&format!("SELECT {cols} FROM windows WHERE chrom = $1 AND start >= $2 AND \"end\" <= $3"))
        .await
        .unwrap();
    let planned = client
        .prepare(&format!("SELECT {cols} FROM windows WHERE chrom = $1 AND start + 0 >= $2 AND \"end\" <= $3"))
        .await
        .unwrap();
    let mut nonempty = 0;
    let before = count();
    for _ in 0..40 {
        let chrom = ["chrA", "chrB", "chrC"][rng.random_range(0..3)];
        let s: i64 = rng.random_range(-100..11_000);
        let e: i64 = s + rng.random_range(0..3_000);
        let a = timeout(STEP, client.query(&fast, &[&chrom, &s, &e])).await.unwrap().unwrap();
        let b = timeout(STEP, client.query(&planned, &[&chrom, &s, &e])).await.unwrap().unwrap();
        assert_eq!(sorted_rows(&a), sorted_rows(&b), "chrom={chrom} start>={s} end<={e}");
        nonempty += usize::from(!a.is_empty());
    }
    assert!(nonempty >= 10, "too few regions hit windows: {nonempty}");
    assert_eq!(count() - before, 40, "every parameterised lookup was answered directly");

    // Simple protocol, literals, other comparison forms.
    let before = count();
    let mut direct = 0;
    for _ in 0..25 {
        let s: i64 = rng.random_range(-60..10_100);
        let e: i64 = s + rng.random_range(0..2_000);
        for (fast, planned) in [
            (
                format!("SELECT * FROM windows WHERE chrom = 'chrA' AND start > {s} AND start < {e}"),
                format!("SELECT * FROM windows WHERE chrom = 'chrA' AND start + 0 > {s} AND start < {e}"),
            ),
            (
                format!("SELECT region, gc FROM windows WHERE chrom IN ('chrA', 'chrB') AND \"end\" BETWEEN {s} AND {e}"),
                format!("SELECT region, gc FROM windows WHERE chrom IN ('chrA', 'chrB') AND \"end\" + 0 BETWEEN {s} AND {e}"),
            ),
            (
                format!("select start AS s, chrom FROM windows where {s} = start"),
                format!("select start AS s, chrom FROM windows where {s} = start + 0"),
            ),
        ] {
            let a = timeout(STEP, client.simple_query(&fast)).await.unwrap().unwrap();
            let b = timeout(STEP, client.simple_query(&planned)).await.unwrap().unwrap();
            assert_eq!(sorted_simple(&a), sorted_simple(&b), "{fast}");
            direct += 1;
            assert_eq!(count() - before, direct, "{fast} was answered directly");
        }
    }
    assert_eq!(count() - before, direct, "every literal lookup was answered directly");

    // LIMIT: the right number of rows, each one passing the filter.
    let rows = client.query("SELECT chrom, start FROM windows WHERE start >= 9000 LIMIT 7", &[]).await.unwrap();
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|r| r.get::<_, i64>(1) >= 9000));

    // A catalog change re-registers the table: the cached plan is not reused.
    let sql = "SELECT start, \"end\" FROM windows WHERE chrom = 'chrB' AND start = 0";
    let rows = client.query(sql, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(1), 100);
    db.create_window_set("toy", "windows", 200, 200, true).unwrap();
    let rows = client.query(sql, &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i64>(1), 200, "the replaced window set's geometry");
}

// ---------------------------------------------------------------------------
// Issue 31: settings per session, reader SET allow-list, statement timeout
// maximum, session slots after authentication, trust mode opt-in, file
// confinement.

/// `windows` in a context whose `information_schema.df_settings` shows the
/// session's engine settings.
fn windows_context_with_settings() -> Arc<SessionContext> {
    windows_context_in(SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_information_schema(true),
    ))
}

/// The value of engine setting `name` as `client`'s session sees it.
async fn df_setting(client: &Client, name: &str) -> Option<String> {
    let rows = timeout(STEP, client.query("SELECT value FROM information_schema.df_settings WHERE name = $1", &[&name]))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("df_settings {name}: {e}"));
    rows.first().and_then(|r| r.get::<_, Option<String>>(0))
}

/// A query whose hash aggregate needs far more than 1 KiB of memory.
const NEEDS_MEMORY: &str = "SELECT count(DISTINCT value) AS n FROM generate_series(1, 200000)";

fn reader_and_admin() -> Vec<ServeUser> {
    vec![
        ServeUser::with_password("ann", "reader pw", Role::Reader),
        ServeUser::with_password("root", "admin pw", Role::Admin),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_set_engine_settings_in_any_spelling() {
    let cfg = ServeConfig { users: reader_and_admin(), ..ServeConfig::default() };
    let server = start_with(windows_context_with_settings(), cfg).await;
    let reader = server.connect_as("ann", "password='reader pw'").await.expect("reader logs in");
    let probe = server.connect_as("root", "password='admin pw'").await.expect("admin logs in");
    let batch_size = df_setting(&probe, "datafusion.execution.batch_size").await;
    let memory_limit = df_setting(&probe, "datafusion.runtime.memory_limit").await;
    for sql in [
        "SET \"datafusion.runtime.memory_limit\" = '1K'",
        "SET \"datafusion\".runtime.memory_limit = '1K'",
        "SET \"DATAFUSION.RUNTIME.MEMORY_LIMIT\" = '1K'",
        "SET \"datafusion.execution.batch_size\" = 1",
        "SET DataFusion.Execution.Batch_Size = 1",
        "SET SESSION \"datafusion.execution.batch_size\" TO 1",
        "SET work_mem = '1GB'",
    ] {
        let err = timeout(STEP, reader.simple_query(sql)).await.unwrap().err().unwrap_or_else(|| panic!("simple: a reader's {sql} ran"));
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        let err = timeout(STEP, reader.query(sql, &[])).await.unwrap().err().unwrap_or_else(|| panic!("extended: a reader's {sql} ran"));
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
    }
    assert_eq!(df_setting(&probe, "datafusion.execution.batch_size").await, batch_size);
    assert_eq!(df_setting(&probe, "datafusion.runtime.memory_limit").await, memory_limit);
    let row = timeout(STEP, probe.query_one(NEEDS_MEMORY, &[])).await.unwrap().expect("the engine's memory limit is untouched");
    assert_eq!(row.get::<_, i64>(0), 200_000);
    // What clients send at connect still works for readers, in any spelling.
    for sql in [
        "SET application_name = 'notebook'",
        "SET \"application_name\" TO 'x'",
        "SET Extra_Float_Digits = 3",
        "SET search_path TO public",
        "SET DateStyle = 'ISO, MDY'",
        "SET client_encoding = 'UTF8'",
        "SET TIME ZONE 'UTC'",
        "SET timezone = 'UTC'",
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
    ] {
        timeout(STEP, reader.simple_query(sql)).await.unwrap().unwrap_or_else(|e| panic!("simple {sql}: {e}"));
        timeout(STEP, reader.query(sql, &[])).await.unwrap().unwrap_or_else(|e| panic!("extended {sql}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_settings_are_per_session() {
    let cfg = ServeConfig { users: reader_and_admin(), ..ServeConfig::default() };
    let server = start_with(windows_context_with_settings(), cfg).await;
    let a = server.connect_as("root", "password='admin pw'").await.expect("admin a");
    let b = server.connect_as("root", "password='admin pw'").await.expect("admin b");
    let batch_size = df_setting(&b, "datafusion.execution.batch_size").await;
    let memory_limit = df_setting(&b, "datafusion.runtime.memory_limit").await;
    assert_ne!(batch_size.as_deref(), Some("1"));

    timeout(STEP, a.simple_query("SET datafusion.execution.batch_size = 1")).await.unwrap().unwrap();
    timeout(STEP, a.simple_query("SET datafusion.runtime.memory_limit = '1K'")).await.unwrap().unwrap();
    // The admin's own session has them...
    assert_eq!(df_setting(&a, "datafusion.execution.batch_size").await.as_deref(), Some("1"));
    assert_ne!(df_setting(&a, "datafusion.runtime.memory_limit").await, memory_limit);
    let err = timeout(STEP, a.query_one(NEEDS_MEMORY, &[])).await.unwrap().err().expect("a 1 KiB memory limit in session a");
    assert_eq!(sqlstate(&err), "53200", "{err:?}");
    // ...no other session, open or new, does.
    let c = server.connect_as("root", "password='admin pw'").await.expect("admin c");
    for (name, other) in [("b", &b), ("c", &c)] {
        assert_eq!(df_setting(other, "datafusion.execution.batch_size").await, batch_size, "session {name}");
        assert_eq!(df_setting(other, "datafusion.runtime.memory_limit").await, memory_limit, "session {name}");
        let row = timeout(STEP, other.query_one(NEEDS_MEMORY, &[])).await.unwrap().unwrap_or_else(|e| panic!("session {name}: {e}"));
        assert_eq!(row.get::<_, i64>(0), 200_000);
    }
    // Plain reads still work in the session with the odd settings.
    let row = timeout(STEP, a.query_one("SELECT count(*) FROM windows", &[])).await.unwrap().unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
}

/// `SHOW statement_timeout` of `client`.
async fn show_statement_timeout(client: &Client) -> String {
    let msgs = timeout(STEP, client.simple_query("SHOW statement_timeout")).await.unwrap().unwrap();
    msgs.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("a row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_lift_the_statement_timeout() {
    let cfg = ServeConfig { users: reader_and_admin(), ..ServeConfig::default() };
    let server = start(cfg).await;
    let reader = server.connect_as("ann", "password='reader pw'").await.expect("reader logs in");
    // Every session starts with the server's maximum (5 minutes by default).
    assert_eq!(show_statement_timeout(&reader).await, "300000ms");
    for sql in [
        "SET statement_timeout = 0",
        "SET statement_timeout = '0'",
        "SET statement_timeout TO '1h'",
        "SET statement_timeout = 300001",
        "SET \"statement_timeout\" = '10min'",
        "SET SESSION statement_timeout = 0",
    ] {
        let err = timeout(STEP, reader.simple_query(sql)).await.unwrap().err().unwrap_or_else(|| panic!("simple: a reader's {sql} ran"));
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        let err = timeout(STEP, reader.query(sql, &[])).await.unwrap().err().unwrap_or_else(|| panic!("extended: a reader's {sql} ran"));
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        assert_eq!(show_statement_timeout(&reader).await, "300000ms", "after {sql}");
    }
    for sql in ["SET statement_timeout = 'soon'", "SET statement_timeout = '-5s'", "SET statement_timeout = '5 parsecs'"] {
        let err = timeout(STEP, reader.simple_query(sql)).await.unwrap().err().unwrap_or_else(|| panic!("a reader's {sql} ran"));
        assert_eq!(sqlstate(&err), "22023", "{sql}: {err}");
    }
    // Lower is fine, in PostgreSQL's units.
    for (sql, shown) in [
        ("SET statement_timeout = '2s'", "2000ms"),
        ("SET statement_timeout TO 1500", "1500ms"),
        ("SET statement_timeout = '1min'", "60000ms"),
        ("SET statement_timeout = '5min'", "300000ms"),
    ] {
        timeout(STEP, reader.simple_query(sql)).await.unwrap().unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(show_statement_timeout(&reader).await, shown, "{sql}");
    }
    // An admin may lift it (documented in docs/server.md).
    let admin = server.connect_as("root", "password='admin pw'").await.expect("admin logs in");
    assert_eq!(show_statement_timeout(&admin).await, "300000ms");
    timeout(STEP, admin.simple_query("SET statement_timeout = 0")).await.unwrap().unwrap();
    assert_eq!(show_statement_timeout(&admin).await, "0");
    timeout(STEP, admin.simple_query("SET statement_timeout = '2h'")).await.unwrap().unwrap();
    assert_eq!(show_statement_timeout(&admin).await, "7200000ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_client_holds_no_session_slot() {
    let cfg = ServeConfig { users: reader_and_admin(), max_connections: 1, ..ServeConfig::default() };
    let server = start(cfg).await;
    // A client that sends a startup packet, is asked for SCRAM, and stalls.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(&startup_packet("ann")).await.unwrap();
    let mut buf = [0u8; 64];
    let n = timeout(STEP, stalled.read(&mut buf)).await.unwrap().unwrap();
    assert!(n > 0 && buf[0] == b'R', "expected an authentication request, got {:?}", &buf[..n]);
    // The one slot is still free for a client that logs in.
    let ann = server.connect_as("ann", "password='reader pw'").await.expect("the slot must not be held by the stalled client");
    timeout(STEP, ann.simple_query("SELECT 1")).await.unwrap().unwrap();
    // The limit still holds for authenticated sessions; a wrong password is
    // still 28P01, not 53300.
    let err = server.connect_as("root", "password='admin pw'").await.err().expect("a second session must be refused");
    assert_eq!(sqlstate(&err), "53300", "{err}");
    let err = server.connect_as("root", "password=wrong").await.err().expect("wrong password");
    assert_eq!(sqlstate(&err), "28P01", "{err}");
    drop(stalled);
    timeout(STEP, ann.simple_query("SELECT 2")).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_users_without_explicit_trust_is_refused() {
    let err = Server::bind(windows_context(), ServeConfig { listen: "127.0.0.1:0".parse().unwrap(), ..ServeConfig::default() })
        .await
        .err()
        .expect("a server without users must not start in trust mode unless asked to");
    assert!(err.to_string().contains("trust"), "{err}");

    // `omicsdb serve` without users and without --trust exits with an error
    // that says what to do.
    use crate::support::omicsdb_bin;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(omicsdb_bin())
        .arg("--db")
        .arg(dir.path().join("db"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "omicsdb serve started without users and without --trust");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(guard.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("--trust") && stderr.contains("omicsdb user add"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sql_cli_reads_files_only_under_allowed_directories() {
    use crate::support::omicsdb_bin;
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let inside_bed = bed_file(&work);
    let outside_bed = bed_file(&outside);
    let db = dir.path().join("db");
    let sql = |query: &str| {
        Command::new(omicsdb_bin()).current_dir(&work).arg("--db").arg(&db).args(["sql", query]).output().unwrap()
    };
    // The current directory is allowed by default.
    let out = sql(&format!("SELECT count(*) AS n FROM read_bed('{inside_bed}')"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("| 2 |"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = sql("SELECT count(*) AS n FROM read_bed('peaks.bed')");
    assert!(out.status.success(), "a relative path under the current directory: {}", String::from_utf8_lossy(&out.stderr));
    // Elsewhere, also through `..` and symlinks, is refused, naming the path.
    std::os::unix::fs::symlink(&outside_bed, work.join("link.bed")).unwrap();
    for (query, path) in [
        (format!("SELECT * FROM read_bed('{outside_bed}')"), outside_bed.clone()),
        ("SELECT * FROM read_bed('../outside/peaks.bed')".to_owned(), "../outside/peaks.bed".to_owned()),
        ("SELECT * FROM read_bed('link.bed')".to_owned(), "link.bed".to_owned()),
        ("SELECT * FROM read_fasta('/etc/hostname')".to_owned(), "/etc/hostname".to_owned()),
        (format!("SELECT * FROM closest('{inside_bed}', '{outside_bed}')"), outside_bed.clone()),
    ] {
        let out = sql(&query);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{query} read a file outside the allowed directories");
        assert!(stderr.contains("permission denied") && stderr.contains(&path), "{query}: {stderr}");
        assert!(stderr.contains(work.canonicalize().unwrap().to_str().unwrap()), "the error lists the allowed directories: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_the_memory_limit_is_53200_and_the_server_goes_on() {
    use crate::support::omicsdb_bin;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(omicsdb_bin())
        .arg("--db")
        .arg(dir.path().join("db"))
        .args(["--memory-limit", "16M", "serve", "--trust", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = ChildGuard(child);
    let server = TestServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), stop: None, task: None };
    let client = connect_when_up(&server, "omics", "").await;
    // A hash join whose build side cannot spill: the memory pool refuses it.
    let join = "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a.value = b.value";
    let err = timeout(STEP, client.simple_query(join)).await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "53200", "{err:?}");
    // A function whose output would dwarf its input is refused before it is built.
    let kmers = "SELECT cardinality(kmers(repeat('ACGT', 2500000), 1000))";
    let err = timeout(STEP, client.simple_query(kmers)).await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "53200", "{err:?}");
    let message = err.as_db_error().unwrap().message().to_owned();
    assert!(message.contains("kmers") && message.contains("omicsdb.max_function_output_bytes"), "{message}");
    // The session setting raises the budget for this session only.
    timeout(STEP, client.simple_query("SET omicsdb.max_function_output_bytes = 1000")).await.unwrap().unwrap();
    let err = timeout(STEP, client.simple_query("SELECT kmers(repeat('ACGT', 100), 3)")).await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "53200", "{err:?}");
    let other = server.connect_as("omics", "").await.unwrap();
    let rows = timeout(STEP, other.query("SELECT CAST(cardinality(kmers(repeat('ACGT', 100), 3)) AS BIGINT) AS n", &[])).await.unwrap().unwrap();
    assert_eq!(rows[0].get::<_, i64>("n"), 398);
    // The server and the refused session go on.
    let rows = timeout(STEP, client.query("SELECT count(*) AS n FROM generate_series(1, 1000) a JOIN generate_series(1, 1000) b ON a.value = b.value", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>("n"), 1000);
}

/// The lambda genome in 256 bp windows and the micro HyenaDNA fixture, one
/// sequence per model call and no result cache: model queries that take long.
fn slow_model_database(dir: &std::path::Path) -> omicsdb::Database {
    let db = omicsdb::Database::open(dir.join("db")).unwrap();
    crate::support::ingest_lambda(&db);
    let micro = crate::support::data_dir().join("fixtures/hyenadna/micro");
    omicsdb_storage::models::import_model(db.store(), "micro", &micro, "random weights (test fixture)").unwrap();
    db.refresh().unwrap();
    db.models().set_batch_tokens(1);
    db.models().set_cache_enabled(false);
    db
}

/// 48 000 distinct 128 bp sequences of the lambda genome, 8192 per Arrow
/// batch (so per function call): minutes of model calls.
fn slow_model_query(db: &omicsdb::Database) -> String {
    let chrom = db.store().assembly("lambda").unwrap().chroms[0].name.clone();
    format!("SELECT hyena_embed(sequence('{chrom}', value, value + 128), 'micro') FROM generate_series(0, 48000)")
}

/// Waits until no model call has started for a while; the model-call count then.
async fn model_calls_settle(db: &omicsdb::Database) -> u64 {
    let mut last = db.models().stats.model_calls();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = db.models().stats.model_calls();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_or_cancelled_model_query_stops_promptly_and_its_model_calls_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = slow_model_database(dir.path());
    let server = start_with(Arc::new(db.context().clone()), trusted()).await;
    let client = server.connect().await;
    let slow = slow_model_query(&db);

    // statement_timeout: the error comes at the deadline, not when the model is done.
    timeout(STEP, client.simple_query("SET statement_timeout = 1000")).await.unwrap().unwrap();
    let started = std::time::Instant::now();
    let err = timeout(STEP, client.simple_query(&slow)).await.expect("the timeout must fire").unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "57014 after {:?}", started.elapsed());
    let calls = db.models().stats.model_calls();
    assert!(calls > 0, "the query never reached the model");
    // Every partition stops before its next micro-batch: at most one more
    // call each after the client has its error.
    let partitions = db.context().copied_config().target_partitions() as u64;
    let settled = timeout(Duration::from_secs(10), model_calls_settle(&db)).await.expect("model calls go on after the timeout");
    assert!(settled <= calls + partitions, "{} model calls after the timeout", settled - calls);
    // The session goes on.
    timeout(STEP, client.simple_query("SET statement_timeout = 0")).await.unwrap().unwrap();
    let rows = timeout(STEP, client.query("SELECT count(*) AS n FROM windows", &[])).await.unwrap().unwrap();
    assert!(rows[0].get::<_, i64>("n") > 100);

    // A CancelRequest, over the extended protocol.
    let before = db.models().stats.model_calls();
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        token.cancel_query(NoTls).await.unwrap();
        std::time::Instant::now()
    });
    let err = timeout(STEP, client.query(slow.as_str(), &[])).await.expect("the cancel must stop the query").unwrap_err();
    let cancelled_at = canceller.await.unwrap();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert!(cancelled_at.elapsed() < Duration::from_secs(4), "57014 {:?} after the cancel", cancelled_at.elapsed());
    assert!(db.models().stats.model_calls() > before, "the query never reached the model");
    let calls = db.models().stats.model_calls();
    let settled = timeout(Duration::from_secs(10), model_calls_settle(&db)).await.expect("model calls go on after the cancel");
    assert!(settled <= calls + partitions, "{} model calls after the cancel", settled - calls);
    let rows = timeout(STEP, client.query("SELECT count(*) AS n FROM windows", &[])).await.unwrap().unwrap();
    assert!(rows[0].get::<_, i64>("n") > 100);
}

/// Connects to a spawned `omicsdb serve` once it listens (up to 60 s), as `user` with `extra`
/// connection options; a refusal by the server (an error with a SQLSTATE) fails at once.
async fn connect_when_up(server: &TestServer, user: &str, extra: &str) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match server.connect_as(user, extra).await {
            Ok(client) => return client,
            Err(e) if tokio::time::Instant::now() < deadline && e.code().is_none() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot connect to omicsdb serve as {user}: {e}"),
        }
    }
}

/// The model zoo over the wire: a DNABERT checkpoint's `embed` and `loglik` beside
/// HyenaDNA's, through psql, and a family mismatch as an error with its SQLSTATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoo_functions_over_psql() {
    let dir = tempfile::tempdir().unwrap();
    let db = omicsdb::Database::open(dir.path()).expect("open database");
    crate::support::ingest_lambda(&db);
    let data = crate::support::data_dir();
    db.import_model("dnabert6_random", &data.join("fixtures/dnabert/k6_1k"), "random weights (test fixture)").unwrap();
    db.import_model("micro", &data.join("fixtures/hyenadna/micro"), "random weights (test fixture)").unwrap();
    db.import_model("caduceus_random", &data.join("fixtures/caduceus/ps_small"), "random weights (test fixture)").unwrap();
    let server = start_with(Arc::new(db.context().clone()), trusted()).await;
    let port = server.addr.port();
    let out = timeout(
        Duration::from_secs(120),
        psql_async(
            port,
            vec![],
            String::new(),
            "SELECT start, array_length(embed(seq, 'dnabert6_random')) AS d, loglik(substr(seq, 1, 20), 'dnabert6_random') < 0 AS ll, \
             array_length(embed(seq, 'micro')) AS dh, loglik(seq, 'caduceus_random') < 0 AS lc, \
             array_length(embed(seq, 'caduceus_random')) AS dc FROM (SELECT start, seq FROM windows ORDER BY start LIMIT 2) AS w ORDER BY start",
        ),
    )
    .await
    .unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| l.contains('|') && !l.contains("start")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    for r in rows {
        let cells: Vec<&str> = r.split('|').map(str::trim).collect();
        assert_eq!(&cells[1..], ["32", "t", "32", "t", "64"], "{out}");
    }
    let client = server.connect().await;
    let err = timeout(STEP, client.simple_query("SELECT hyena_loglik(seq, 'dnabert6_random') FROM windows LIMIT 1"))
        .await
        .unwrap()
        .expect_err("a DNABERT model in hyena_loglik");
    assert!(err.to_string().contains("dnabert model") || format!("{err:?}").contains("dnabert model"), "{err:?}");
    assert_eq!(sqlstate(&err), "22023");
}

/// Variant scoring over the wire: `score_variant` over an ingested VCF joined in SQL,
/// through psql; a REF that differs from the genome is SQLSTATE 22023 naming the
/// variant, and NULL after `SET omicsdb.variant_ref_mismatch = 'null'` in that session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_variant_over_psql() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::omics::toy_db(dir.path());
    omicsdb::train::train_omics(&db, &crate::omics::tiny_opts("omics_tiny"), &mut |_| {}).await.unwrap();
    let c3 = db.store().genome("syn").unwrap().sequence("c3", 0, 200, false).unwrap();
    let b = |p0: usize| c3[p0] as char;
    let vcf = format!(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
         c3\t11\trs1\t{}\t{}\t.\tPASS\t.\nc3\t101\trs2\t{}{}\t{}\t.\tPASS\t.\n",
        b(10),
        if b(10) == 'A' { 'C' } else { 'A' },
        b(100),
        b(101),
        b(100)
    );
    std::fs::write(dir.path().join("v.vcf"), vcf).unwrap();
    db.ingest_variants(&omicsdb_storage::variants::VariantIngest {
        assembly: "syn".into(),
        path: dir.path().join("v.vcf"),
        strict: true,
        replace: false,
    })
    .unwrap();
    db.refresh().unwrap();
    let server = start_with(Arc::new(db.context().clone()), trusted()).await;
    let port = server.addr.port();
    let out = timeout(
        Duration::from_secs(120),
        psql_async(
            port,
            vec![],
            String::new(),
            "SELECT v.id, round(s['delta'] * 1e6) = round((s['alt'] - s['ref']) * 1e6) AS consistent, s['ref'] > 0 AS p \
             FROM (SELECT id, score_variant(chrom, pos, ref, alt, 'liver', 'atac_seq') AS s FROM variants) v ORDER BY v.id",
        ),
    )
    .await
    .unwrap();
    let rows: Vec<Vec<String>> =
        out.lines().filter(|l| l.contains('|') && !l.contains(" id ")).map(|l| l.split('|').map(|c| c.trim().to_string()).collect()).collect();
    assert_eq!(rows, vec![vec!["rs1", "t", "t"], vec!["rs2", "t", "t"]], "{out}");
    let client = server.connect().await;
    let wrong = if b(10) == 'G' { 'T' } else { 'G' };
    let q = format!("SELECT score_variant('c3', 11, '{wrong}', 'C', 'liver', 'atac_seq')");
    let err = timeout(STEP, client.simple_query(&q)).await.unwrap().expect_err("a REF mismatch");
    assert_eq!(sqlstate(&err), "22023", "{err:?}");
    assert!(format!("{err:?}").contains("c3:11") && format!("{err:?}").contains("differs from the genome"), "{err:?}");
    timeout(STEP, client.simple_query("SET omicsdb.variant_ref_mismatch = 'null'")).await.unwrap().unwrap();
    let rows = timeout(STEP, client.simple_query(&format!("SELECT score_variant('c3', 11, '{wrong}', 'C', 'liver', 'atac_seq') IS NULL AS n")))
        .await
        .unwrap()
        .unwrap();
    let value = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
        _ => None,
    });
    assert_eq!(value.as_deref(), Some("t"));
}

/// The interval algebra over the wire: a table source, a genome from the database's
/// assembly, results as rows in psql; a bad option is an error naming the function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_functions_over_psql() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::omics::toy_db(dir.path());
    let server = start_with(Arc::new(db.context().clone()), trusted()).await;
    let port = server.addr.port();
    let out = timeout(
        Duration::from_secs(60),
        psql_async(
            port,
            vec![],
            String::new(),
            "SELECT (SELECT sum(n) FROM merge('windows')) = (SELECT count(*) FROM windows) AS merged_all, \
             (SELECT count(*) FROM complement('windows', 'syn')) AS gaps, \
             (SELECT count(*) FROM makewindows('syn', '-w 1000000000')) = (SELECT count(*) FROM chroms WHERE assembly = 'syn') AS one_per_chrom",
        ),
    )
    .await
    .unwrap();
    let row: Vec<String> = out
        .lines()
        .find(|l| l.contains('|') && !l.contains("merged_all"))
        .unwrap_or_else(|| panic!("{out}"))
        .split('|')
        .map(|c| c.trim().to_string())
        .collect();
    assert_eq!(row[0], "t", "{out}");
    assert_eq!(row[1], "0", "the windows tile the genome: {out}");
    assert_eq!(row[2], "t", "{out}");
    let client = server.connect().await;
    let err = timeout(STEP, client.simple_query("SELECT * FROM merge('windows', '-q')")).await.unwrap().expect_err("a bad option");
    assert_eq!(sqlstate(&err), "42000", "{err:?}");
    assert!(format!("{err:?}").contains("merge: unknown option '-q'"), "{err:?}");
    let err = timeout(STEP, client.simple_query("SELECT * FROM slop('windows', 'no_such_assembly', '-b 10')")).await.unwrap().expect_err("an unknown genome");
    assert!(format!("{err:?}").contains("no_such_assembly"), "{err:?}");
    // The server still answers.
    let rows = timeout(STEP, client.simple_query("SELECT count(*) FROM intersect('windows', 'windows', '-u')")).await.unwrap().unwrap();
    assert!(rows.iter().any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))));
}
