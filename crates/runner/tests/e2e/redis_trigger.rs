//! The Redis trigger on a real Redis server and on the embedded broker,
//! outbound `fermyon:spin/redis`, and `--tick`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, RedisServer, Running, TestApp};

/// Manifest with two sinks on `orders` and the probe for HTTP access.
/// `address_line` goes into `[application.trigger.redis]`.
fn manifest(app_address: &str, allowed: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "redis"
[application.trigger.redis]
{app_address}
[variables]
redis_url = {{ default = "" }}
[[trigger.http]]
route = "/probe/..."
component = "probe"
[[trigger.redis]]
channel = "orders"
component = "sink-a"
[[trigger.redis]]
channel = "orders"
component = "sink-b"
[[trigger.redis]]
channel = "sales-jobs"
component = "sink-a"
[component.probe]
source = "{{probe}}"
sqlite_databases = ["default"]
allowed_outbound_hosts = [{allowed}]
[component.sink-a]
source = "{{sink}}"
sqlite_databases = ["default"]
[component.sink-a.variables]
tag = "a"
[component.sink-b]
source = "{{sink}}"
sqlite_databases = ["default"]
[component.sink-b.variables]
tag = "b"
"#
    )
}

async fn received(app: &Running, min: usize) -> Option<Vec<(String, String)>> {
    eventually(Duration::from_secs(10), || async {
        let r = app
            .sql(
                "default",
                &[(
                    "SELECT tag, payload FROM messages ORDER BY tag, payload",
                    json!([]),
                )],
            )
            .await;
        let rows = r["results"][0]["rows"].as_array()?.clone();
        let rows: Vec<(String, String)> = rows
            .iter()
            .map(|row| {
                (
                    row[0]["text"].as_str().unwrap_or("").to_string(),
                    row[1]["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        (rows.len() >= min).then_some(rows)
    })
    .await
}

fn pair(tag: &str, payload: &str) -> (String, String) {
    (tag.to_string(), payload.to_string())
}

#[tokio::test]
async fn real_redis_messages_reach_every_component_on_the_channel() {
    let redis = RedisServer::start();
    let mut t = TestApp::new(&manifest(
        r#"address = "{{ redis_url }}""#,
        r#""redis://127.0.0.1:*""#,
    ));
    t.opts.variables.push(("redis_url".into(), redis.url()));
    let app = t.start().await;

    // A publish from outside the app.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PUBLISH")
        .arg("orders")
        .arg("from-outside")
        .query_async::<i64>(&mut conn)
        .await
        .unwrap();
    let rows = received(&app, 2)
        .await
        .expect("both sinks should record the message");
    assert_eq!(
        rows,
        vec![pair("a", "from-outside"), pair("b", "from-outside")]
    );

    // A publish from a guest through fermyon:spin/redis.
    let r = app
        .get(&format!(
            "/probe?op=redis&cmd=publish&address={}&channel=orders&payload=from-guest",
            redis.url()
        ))
        .await
        .json();
    assert_eq!(r["ok"], "ok", "{r}");
    let rows = received(&app, 4)
        .await
        .expect("guest publish should be delivered");
    assert!(
        rows.contains(&pair("a", "from-guest")) && rows.contains(&pair("b", "from-guest")),
        "{rows:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn outbound_redis_commands_and_address_checks() {
    let redis = RedisServer::start();
    let mut t = TestApp::new(&manifest("", r#""redis://127.0.0.1:*""#));
    t.opts.variables.push(("redis_url".into(), redis.url()));
    let app = t.start().await;
    let url = redis.url();
    let call = |q: String| {
        let (app, url) = (&app, &url);
        async move {
            app.get(&format!("/probe?op=redis&address={url}&{q}"))
                .await
                .json()
        }
    };
    assert_eq!(call("cmd=set&key=k&value=v".into()).await["ok"], "ok");
    assert_eq!(call("cmd=get&key=k".into()).await["ok"], "v");
    assert_eq!(
        call("cmd=get&key=missing".into()).await["ok"],
        serde_json::Value::Null
    );
    assert_eq!(call("cmd=incr&key=n".into()).await["ok"], 1);
    assert_eq!(call("cmd=incr&key=n".into()).await["ok"], 2);
    assert_eq!(
        call("cmd=incr&key=k".into()).await["err"],
        "Error::TypeError"
    );
    assert_eq!(call("cmd=sadd&key=s&value=x".into()).await["ok"], 1);
    assert_eq!(call("cmd=smembers&key=s".into()).await["ok"], json!(["x"]));
    assert_eq!(call("cmd=del&key=k".into()).await["ok"], 1);
    // An address outside allowed_outbound_hosts is an invalid address.
    let denied = app
        .get("/probe?op=redis&cmd=get&key=k&address=redis://10.1.2.3:6379")
        .await
        .json();
    assert_eq!(denied["open_error"], "Error::InvalidAddress");
    app.shutdown().await;
}

/// The process shares one outbound connection per address; after Redis
/// restarted, that connection is dead, and the first command must already
/// go through on a fresh one (before the fix every command failed until
/// the runner restarted).
#[tokio::test]
async fn outbound_redis_reconnects_after_a_redis_restart() {
    let mut redis = RedisServer::start();
    let mut t = TestApp::new(&manifest("", r#""redis://127.0.0.1:*""#));
    t.opts.variables.push(("redis_url".into(), redis.url()));
    let app = t.start().await;
    let url = redis.url();
    let set = |v: &str| format!("/probe?op=redis&address={url}&cmd=set&key=k&value={v}");
    assert_eq!(app.get(&set("before")).await.json()["ok"], "ok");
    redis.restart();
    let r = app.get(&set("after")).await.json();
    assert_eq!(r["ok"], "ok", "{r}");
    let got = app
        .get(&format!("/probe?op=redis&address={url}&cmd=get&key=k"))
        .await
        .json();
    assert_eq!(got["ok"], "after", "{got}");
    app.shutdown().await;
}

#[tokio::test]
async fn embedded_broker_delivers_the_apps_own_publishes_without_redis() {
    let app = TestApp::new(&manifest("", r#""redis://127.0.0.1:6379""#))
        .start()
        .await;
    // Whatever address the guest opens, the embedded broker serves channels
    // that have no Redis address configured.
    for address in ["", "redis://127.0.0.1:6379"] {
        let r = app
            .get(&format!(
                "/probe?op=redis&cmd=publish&address={address}&channel=orders&payload=p{}",
                address.len()
            ))
            .await
            .json();
        assert_eq!(r["ok"], "ok", "{r}");
    }
    let rows = received(&app, 4)
        .await
        .expect("embedded broker should deliver");
    assert_eq!(
        rows,
        vec![
            pair("a", "p0"),
            pair("a", "p22"),
            pair("b", "p0"),
            pair("b", "p22")
        ]
    );
    // Plain commands work against the embedded store when there is no Redis.
    let set = app
        .get("/probe?op=redis&cmd=incr&key=c&address=")
        .await
        .json();
    assert_eq!(set["ok"], 1);
    app.shutdown().await;
}

#[tokio::test]
async fn tick_publishes_periodically_on_the_embedded_broker() {
    let mut t = TestApp::new(&manifest("", r#""redis://127.0.0.1:6379""#));
    t.opts.tick = Some(sales_runner::TickOptions::every(Duration::from_millis(200)));
    let app = t.start().await;
    let rows = received(&app, 2).await.expect("ticks should arrive");
    assert!(rows.iter().all(|r| *r == pair("a", "tick")), "{rows:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn tick_goes_through_a_real_redis_when_the_channel_has_one() {
    let redis = RedisServer::start();
    let mut t = TestApp::new(&manifest(
        r#"address = "{{ redis_url }}""#,
        r#""redis://127.0.0.1:*""#,
    ));
    t.opts.variables.push(("redis_url".into(), redis.url()));
    t.opts.tick = Some(sales_runner::TickOptions {
        interval: Duration::from_millis(200),
        channel: "orders".into(),
    });
    let app = t.start().await;
    let rows = received(&app, 2)
        .await
        .expect("ticks should arrive through redis");
    assert!(
        rows.contains(&pair("a", "tick")) && rows.contains(&pair("b", "tick")),
        "{rows:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn failing_and_looping_handlers_are_logged_not_fatal() {
    let mut t = TestApp::new(&manifest("", r#""redis://127.0.0.1:6379""#));
    t.opts.request_timeout = Duration::from_millis(300);
    let app = t.start().await;
    for payload in ["fail", "loop", "after"] {
        app.get(&format!(
            "/probe?op=redis&cmd=publish&address=&channel=orders&payload={payload}"
        ))
        .await;
    }
    let rows = received(&app, 2)
        .await
        .expect("later messages still delivered");
    assert_eq!(rows, vec![pair("a", "after"), pair("b", "after")]);
    app.shutdown().await;
}

#[tokio::test]
async fn unreachable_redis_address_stops_the_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut t = TestApp::new(&manifest(r#"address = "{{ redis_url }}""#, ""));
    t.opts
        .variables
        .push(("redis_url".into(), format!("redis://127.0.0.1:{port}")));
    let err = t.start_err().await;
    assert!(err.contains("redis"), "{err}");
}
