//! SQLite, key-value and variables through the guest, happy and error paths.

use serde_json::json;

use crate::helpers::{RedisServer, TestApp};

fn manifest(extra_probe: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "stores"
[variables]
region = {{ default = "eu" }}
api_key = {{ required = true, secret = true }}
[[trigger.http]]
route = "/probe/..."
component = "probe"
[[trigger.http]]
route = "/bare/..."
component = "bare"
[component.probe]
source = "{{probe}}"
sqlite_databases = ["default"]
key_value_stores = ["default"]
{extra_probe}
[component.probe.variables]
greeting = "hello from {{{{ region }}}}"
key = "{{{{ api_key }}}}"
plain = "literal"
[component.bare]
source = "{{probe}}"
"#
    )
}

fn app(extra: &str) -> TestApp {
    let mut t = TestApp::new(&manifest(extra));
    t.opts.variables.push(("api_key".into(), "k-123".into()));
    t
}

#[tokio::test]
async fn sqlite_round_trips_every_value_type() {
    let app = app("").start().await;
    let r = app
        .sql(
            "default",
            &[
                (
                    "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)",
                    json!([]),
                ),
                (
                    "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                    json!([42, 1.5, "text", [1, 2, 3], null]),
                ),
                ("SELECT i, r, s, b, n AS missing FROM t", json!([])),
            ],
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    let select = &r["results"][2];
    assert_eq!(select["columns"], json!(["i", "r", "s", "b", "missing"]));
    assert_eq!(
        select["rows"][0],
        json!([{"integer": 42}, {"real": 1.5}, {"text": "text"}, {"blob": [1, 2, 3]}, "null"])
    );
    // The default database is the documented file in the state dir.
    app.shutdown().await;
}

#[tokio::test]
async fn sqlite_errors_are_io_and_ungranted_labels_are_denied() {
    let app = app("").start().await;
    let bad = app.sql("default", &[("SELEC nonsense", json!([]))]).await;
    assert!(
        bad["error"].as_str().unwrap().starts_with("Error::Io("),
        "{bad}"
    );
    let two = app
        .sql("default", &[("SELECT 1; SELECT 2", json!([]))])
        .await;
    assert!(
        two["error"].as_str().unwrap().starts_with("Error::Io("),
        "{two}"
    );
    let attach = app
        .sql("default", &[("ATTACH DATABASE 'x.db' AS x", json!([]))])
        .await;
    assert!(
        attach["error"].as_str().unwrap().starts_with("Error::Io("),
        "{attach}"
    );
    let denied = app.sql("other", &[("SELECT 1", json!([]))]).await;
    assert_eq!(denied["open_error"], "Error::AccessDenied");
    let bare = app
        .post(
            "/bare?op=sqlite",
            &json!({"db": "default", "statements": []}).to_string(),
        )
        .await
        .json();
    assert_eq!(bare["open_error"], "Error::AccessDenied");
    app.shutdown().await;
}

#[tokio::test]
async fn sqlite_transactions_are_real_and_abandoned_ones_roll_back() {
    let app = app("").start().await;
    app.sql("default", &[("CREATE TABLE acc (n INTEGER)", json!([]))])
        .await;
    let tx = app
        .sql(
            "default",
            &[
                ("BEGIN IMMEDIATE", json!([])),
                ("INSERT INTO acc VALUES (1)", json!([])),
                ("INSERT INTO acc VALUES (2)", json!([])),
                ("COMMIT", json!([])),
            ],
        )
        .await;
    assert!(tx.get("error").is_none(), "{tx}");
    // A transaction left open by the guest is rolled back when its
    // connection is released, and does not block the next request.
    let abandoned = app
        .sql(
            "default",
            &[
                ("BEGIN IMMEDIATE", json!([])),
                ("INSERT INTO acc VALUES (99)", json!([])),
            ],
        )
        .await;
    assert!(abandoned.get("error").is_none(), "{abandoned}");
    let count = app
        .sql(
            "default",
            &[("SELECT count(*), sum(n) FROM acc", json!([]))],
        )
        .await;
    assert_eq!(
        count["results"][0]["rows"][0],
        json!([{"integer": 2}, {"integer": 3}])
    );
    app.shutdown().await;
}

/// Spin opens a fresh connection per `open`; the runner pools them. State a
/// guest leaves on its connection — a TEMP table, a pragma setting — stays
/// with its handle, inside and after its transactions, and never reaches
/// another guest's: such a connection is closed, not pooled.
#[tokio::test]
async fn state_a_guest_leaves_on_its_connection_reaches_no_other_guest() {
    let app = app("").start().await;
    app.sql("default", &[("CREATE TABLE acc (n INTEGER)", json!([]))])
        .await;
    let ok = |r: &serde_json::Value| assert!(r.get("error").is_none(), "{r}");
    // Made inside the transaction, read after it.
    let inside = app
        .sql(
            "default",
            &[
                ("BEGIN IMMEDIATE", json!([])),
                ("CREATE TEMP TABLE scratch (n INTEGER)", json!([])),
                ("INSERT INTO scratch VALUES (7)", json!([])),
                ("INSERT INTO acc SELECT n FROM scratch", json!([])),
                ("COMMIT", json!([])),
                ("SELECT n FROM scratch", json!([])),
                ("PRAGMA foreign_keys", json!([])),
            ],
        )
        .await;
    ok(&inside);
    assert_eq!(inside["results"][5]["rows"], json!([[{"integer": 7}]]));
    // Made before the transaction, read inside and after it.
    let before = app
        .sql(
            "default",
            &[
                ("CREATE TEMP TABLE scratch (n INTEGER)", json!([])),
                ("PRAGMA foreign_keys = OFF", json!([])),
                ("BEGIN IMMEDIATE", json!([])),
                ("INSERT INTO scratch VALUES (8)", json!([])),
                ("INSERT INTO acc SELECT n FROM scratch", json!([])),
                ("PRAGMA foreign_keys", json!([])),
                ("COMMIT", json!([])),
                ("SELECT n FROM scratch", json!([])),
            ],
        )
        .await;
    ok(&before);
    assert_eq!(before["results"][5]["rows"], json!([[{"integer": 0}]]));
    assert_eq!(before["results"][7]["rows"], json!([[{"integer": 8}]]));
    // The next guests see none of it, in or out of a transaction, and
    // both transactions were committed.
    for _ in 0..3 {
        let next = app
            .sql(
                "default",
                &[
                    ("PRAGMA foreign_keys", json!([])),
                    ("BEGIN IMMEDIATE", json!([])),
                    ("PRAGMA foreign_keys", json!([])),
                    ("SELECT count(*) FROM sqlite_temp_master", json!([])),
                    ("SELECT sum(n) FROM acc", json!([])),
                    ("COMMIT", json!([])),
                    ("SELECT count(*) FROM sqlite_temp_master", json!([])),
                ],
            )
            .await;
        ok(&next);
        // Foreign keys are on by default (the bundled SQLite's build, as
        // Spin's); the pragma that turned them off stayed with its handle.
        assert_eq!(next["results"][0]["rows"], json!([[{"integer": 1}]]));
        assert_eq!(next["results"][2]["rows"], json!([[{"integer": 1}]]));
        assert_eq!(next["results"][3]["rows"], json!([[{"integer": 0}]]));
        assert_eq!(next["results"][4]["rows"], json!([[{"integer": 15}]]));
        assert_eq!(next["results"][6]["rows"], json!([[{"integer": 0}]]));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn sqlite_flags_run_before_serving_and_the_default_db_lives_in_the_state_dir() {
    let mut t = app("");
    let file = t.write(
        "seed.sql",
        "CREATE TABLE seeded (v TEXT); INSERT INTO seeded VALUES ('from-file');",
    );
    t.opts.sqlite = vec![
        format!("@{}", file.display()),
        "INSERT INTO seeded VALUES ('inline')".into(),
    ];
    let state = t.opts.state_dir.clone();
    let app = t.start().await;
    let r = app
        .sql("default", &[("SELECT v FROM seeded ORDER BY v", json!([]))])
        .await;
    assert_eq!(
        r["results"][0]["rows"],
        json!([[{"text": "from-file"}], [{"text": "inline"}]])
    );
    assert!(state.join("sqlite_db.db").exists());
    app.shutdown().await;
}

/// A clean stop leaves the database whole in its file: the checkpoint
/// thread stops, the connections close, and the last close folds the WAL
/// in and removes it (a killed process leaves the WAL, which the next
/// open replays: `tests/tests/crash.rs`).
#[tokio::test]
async fn a_clean_stop_leaves_no_wal_beside_the_database() {
    let t = app("");
    let state = t.opts.state_dir.clone();
    let app = t.start().await;
    let r = app
        .sql(
            "default",
            &[
                ("CREATE TABLE kept (v TEXT)", json!([])),
                ("INSERT INTO kept VALUES ('written')", json!([])),
            ],
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    let kv = app
        .post(
            "/probe?op=kv",
            &json!({"ops": [["set", "k", "v"]]}).to_string(),
        )
        .await;
    assert_eq!(kv.status, 200);
    assert!(state.join("sqlite_db.db-wal").exists(), "WAL mode, before");
    let _dir = app.shutdown().await;
    let left: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-wal"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let db = rusqlite::Connection::open(state.join("sqlite_db.db")).unwrap();
    let v: String = db
        .query_row("SELECT v FROM kept", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, "written");
}

#[tokio::test]
async fn runtime_config_places_databases_and_stores() {
    let mut t = TestApp::new(
        r#"
spin_manifest_version = 2
[application]
name = "rc"
[[trigger.http]]
route = "/probe/..."
component = "probe"
[component.probe]
source = "{probe}"
sqlite_databases = ["default", "reports"]
key_value_stores = ["default", "cache", "scratch"]
"#,
    );
    let rc = t.write(
        "runtime-config.toml",
        "[sqlite_database.reports]\ntype = \"spin\"\npath = \"data/reports.db\"\n\
         [key_value_store.cache]\ntype = \"spin\"\npath = \"data/cache.db\"\n\
         [key_value_store.scratch]\ntype = \"spin\"\n",
    );
    t.opts.runtime_config = Some(rc);
    let dir = t.dir.path().to_path_buf();
    let app = t.start().await;
    let r = app
        .sql("reports", &[("CREATE TABLE r (x)", json!([]))])
        .await;
    assert!(r.get("error").is_none(), "{r}");
    assert!(dir.join("data/reports.db").exists());
    for store in ["cache", "scratch"] {
        let kv = app
            .post(
                "/probe?op=kv",
                &json!({"store": store, "ops": [["set", "k", store], ["get", "k"]]}).to_string(),
            )
            .await
            .json();
        assert_eq!(kv[1]["ok"], store);
    }
    assert!(dir.join("data/cache.db").exists());
    app.shutdown().await;
}

#[tokio::test]
async fn key_value_semantics_match_spin() {
    let app = app("").start().await;
    let ops = json!({"store": "default", "ops": [
        ["get", "missing"],
        ["delete", "missing"],
        ["exists", "missing"],
        ["set", "a", "1"],
        ["set", "a", "2"],
        ["set", "b", "3"],
        ["get", "a"],
        ["exists", "a"],
        ["keys"],
        ["delete", "a"],
        ["keys"]
    ]});
    let r = app.post("/probe?op=kv", &ops.to_string()).await.json();
    assert_eq!(
        r,
        json!([
            {"ok": null}, {"ok": "ok"}, {"ok": false}, {"ok": "ok"}, {"ok": "ok"}, {"ok": "ok"},
            {"ok": "2"}, {"ok": true}, {"ok": ["a", "b"]}, {"ok": "ok"}, {"ok": ["b"]}
        ])
    );
    let denied = app
        .post(
            "/probe?op=kv",
            &json!({"store": "other", "ops": []}).to_string(),
        )
        .await
        .json();
    assert_eq!(denied["open_error"], "Error::AccessDenied");
    let bare = app
        .post(
            "/bare?op=kv",
            &json!({"store": "default", "ops": []}).to_string(),
        )
        .await
        .json();
    assert_eq!(bare["open_error"], "Error::AccessDenied");
    app.shutdown().await;
}

#[tokio::test]
async fn key_value_default_store_is_the_spin_table_in_the_state_dir() {
    let t = app("");
    let state = t.opts.state_dir.clone();
    let app = t.start().await;
    app.post(
        "/probe?op=kv",
        &json!({"store": "default", "ops": [["set", "k", "v"]]}).to_string(),
    )
    .await;
    let _dir = app.shutdown().await;
    let conn = rusqlite::Connection::open(state.join("sqlite_key_value.db")).unwrap();
    let (store, value): (String, Vec<u8>) = conn
        .query_row(
            "SELECT store, value FROM spin_key_value WHERE key = 'k'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (store.as_str(), value.as_slice()),
        ("default", b"v".as_slice())
    );
}

#[tokio::test]
async fn key_value_store_on_a_real_redis() {
    let redis = RedisServer::start();
    let mut t = TestApp::new(
        r#"
spin_manifest_version = 2
[application]
name = "kv-redis"
[[trigger.http]]
route = "/probe/..."
component = "probe"
[component.probe]
source = "{probe}"
key_value_stores = ["default"]
"#,
    );
    let rc = t.write(
        "rc.toml",
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ),
    );
    t.opts.runtime_config = Some(rc);
    let app = t.start().await;
    let r = app
        .post(
            "/probe?op=kv",
            &json!({"store": "default", "ops": [["set", "rk", "rv"], ["get", "rk"], ["exists", "rk"], ["get", "nope"], ["delete", "rk"], ["exists", "rk"]]}).to_string(),
        )
        .await
        .json();
    assert_eq!(
        r,
        json!([{"ok": "ok"}, {"ok": "rv"}, {"ok": true}, {"ok": null}, {"ok": "ok"}, {"ok": false}])
    );
    app.shutdown().await;
}

#[tokio::test]
async fn variables_resolve_templates_and_report_spin_errors() {
    let app = app("").start().await;
    let get = |name: &'static str| {
        let app = &app;
        async move { app.get(&format!("/probe?op=var&name={name}")).await.json() }
    };
    assert_eq!(get("greeting").await["ok"], "hello from eu");
    assert_eq!(get("key").await["ok"], "k-123");
    assert_eq!(get("plain").await["ok"], "literal");
    assert!(get("region").await["err"]
        .as_str()
        .unwrap()
        .starts_with("Error::Undefined("));
    assert!(get("Bad-Name").await["err"]
        .as_str()
        .unwrap()
        .starts_with("Error::InvalidName("));
    assert!(get("a__b").await["err"]
        .as_str()
        .unwrap()
        .starts_with("Error::InvalidName("));
    app.shutdown().await;
}

#[tokio::test]
async fn command_line_variables_beat_defaults() {
    let mut t = app("");
    t.opts.variables.push(("region".into(), "us".into()));
    let app = t.start().await;
    assert_eq!(
        app.get("/probe?op=var&name=greeting").await.json()["ok"],
        "hello from us"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn environment_and_files_are_visible_read_only() {
    let mut t = TestApp::new(
        r#"
spin_manifest_version = 2
[application]
name = "files"
[[trigger.http]]
route = "/probe/..."
component = "probe"
[component.probe]
source = "{probe}"
environment = { GREETING = "hi" }
files = ["static/*.txt", { source = "assets", destination = "/assets" }]
exclude_files = ["static/secret.txt"]
"#,
    );
    t.write("static/a.txt", "alpha");
    t.write("static/secret.txt", "hidden");
    t.write("assets/b.txt", "beta");
    t.opts.env_variables = false;
    let app = t.start().await;
    assert_eq!(
        app.get("/probe?op=env&name=GREETING").await.json()["value"],
        "hi"
    );
    assert_eq!(
        app.get("/probe?op=file&path=/static/a.txt").await.json()["content"],
        "alpha"
    );
    assert_eq!(
        app.get("/probe?op=file&path=/assets/b.txt").await.json()["content"],
        "beta"
    );
    assert!(app
        .get("/probe?op=file&path=/static/secret.txt")
        .await
        .json()["error"]
        .is_string());
    assert!(app
        .get("/probe?op=write-file&path=/assets/new.txt")
        .await
        .json()["error"]
        .is_string());
    app.shutdown().await;
}

/// Statements run on the request's worker thread unless they could wait
/// for a lock; one that meets a lock held by another process must still
/// wait for it (`busy_timeout`) as Spin's do, not fail at once: here a
/// second "process" (a plain SQLite connection on the runner's file) holds
/// the write lock for 600 ms while the guest begins a write transaction,
/// writes in a deferred one, and writes in autocommit mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_meeting_another_process_lock_wait_for_it() {
    let t = app("");
    let db_path = t.opts.state_dir.join("sqlite_db.db");
    let app = t.start().await;
    app.sql("default", &[("CREATE TABLE w (n INTEGER)", json!([]))])
        .await;
    for (case, statements) in [
        (
            "immediate",
            vec![
                ("BEGIN IMMEDIATE", json!([])),
                ("INSERT INTO w VALUES (1)", json!([])),
                ("COMMIT", json!([])),
            ],
        ),
        (
            "deferred",
            vec![
                ("BEGIN", json!([])),
                ("INSERT INTO w VALUES (1)", json!([])),
                ("COMMIT", json!([])),
            ],
        ),
        ("autocommit", vec![("INSERT INTO w VALUES (1)", json!([]))]),
    ] {
        let other = rusqlite::Connection::open(&db_path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(600));
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        let r = app.sql("default", &statements).await;
        assert!(r.get("error").is_none(), "{case}: {r}");
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(500),
            "{case}: the write cannot have gone through while the lock was held"
        );
        holder.join().unwrap();
    }
    let count = app
        .sql("default", &[("SELECT count(*) FROM w", json!([]))])
        .await;
    assert_eq!(count["results"][0]["rows"][0], json!([{"integer": 3}]));
    // Reads never wait for a writer (WAL), and do not fail either.
    let other = rusqlite::Connection::open(&db_path).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO w VALUES (9)")
        .unwrap();
    let read = app
        .sql("default", &[("SELECT count(*) FROM w", json!([]))])
        .await;
    assert_eq!(read["results"][0]["rows"][0], json!([{"integer": 3}]));
    other.execute_batch("ROLLBACK").unwrap();
    app.shutdown().await;
}

/// A query still running when the request's time is up is interrupted
/// (SQLite's progress handler), so it cannot hold a thread, a connection
/// or the write lock past the deadline: the request ends (500 at the
/// epoch deadline, or the guest sees the statement fail, whichever comes
/// first), its transaction is rolled back, and the next writer goes
/// through at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_running_past_the_deadline_is_interrupted() {
    let mut t = app("");
    t.opts.request_timeout = std::time::Duration::from_millis(300);
    let app = t.start().await;
    app.sql("default", &[("CREATE TABLE d (n INTEGER)", json!([]))])
        .await;
    let body = json!({"db": "default", "statements": [
        {"sql": "BEGIN IMMEDIATE", "params": []},
        {"sql": "INSERT INTO d VALUES (1)", "params": []},
        {"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                 SELECT count(*) FROM c", "params": []},
    ]});
    let started = std::time::Instant::now();
    let r = app.post("/probe?op=sqlite", &body.to_string()).await;
    let took = started.elapsed();
    assert!(
        r.status == 500
            || r.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("interrupted")),
        "{} {}",
        r.status,
        r.text()
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    let write = app
        .sql(
            "default",
            &[
                ("BEGIN IMMEDIATE", json!([])),
                ("INSERT INTO d VALUES (2)", json!([])),
                ("COMMIT", json!([])),
                ("SELECT group_concat(n) FROM d", json!([])),
            ],
        )
        .await;
    assert_eq!(
        write["results"][3]["rows"][0],
        json!([{"text": "2"}]),
        "{write}"
    );
    app.shutdown().await;
}
