//! HTTP test guest for sales-runner. `?op=` selects what it does; without
//! `op` it echoes the request (method, URL, headers) as JSON.

use serde_json::{json, Value as Json};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

fn query(req: &Request) -> Vec<(String, String)> {
    req.query()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> &'a str {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn json_response(status: u16, body: Json) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn to_sql(v: &Json) -> spin_sdk::sqlite::Value {
    use spin_sdk::sqlite::Value;
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(*b as i64),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(a) => Value::Blob(a.iter().map(|x| x.as_u64().unwrap_or(0) as u8).collect()),
        Json::Object(_) => Value::Null,
    }
}

fn from_sql(v: &spin_sdk::sqlite::Value) -> Json {
    use spin_sdk::sqlite::Value;
    match v {
        Value::Integer(i) => json!({"integer": i}),
        Value::Real(f) => json!({"real": f}),
        Value::Text(s) => json!({"text": s}),
        Value::Blob(b) => json!({"blob": b}),
        Value::Null => json!("null"),
    }
}

/// Body: `{"db": "default", "statements": [{"sql": "...", "params": [..]}]}`,
/// all on one connection. Answers the results, or the first error.
fn sqlite(body: &[u8]) -> Response {
    let input: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let db = input["db"].as_str().unwrap_or("default");
    let conn = match spin_sdk::sqlite::Connection::open(db) {
        Ok(c) => c,
        Err(e) => return json_response(200, json!({"open_error": format!("{e:?}")})),
    };
    let mut results = Vec::new();
    for st in input["statements"].as_array().cloned().unwrap_or_default() {
        let sql = st["sql"].as_str().unwrap_or("");
        let params: Vec<_> = st["params"]
            .as_array()
            .map(|a| a.iter().map(to_sql).collect())
            .unwrap_or_default();
        match conn.execute(sql, &params) {
            Ok(r) => results.push(json!({
                "columns": r.columns,
                "rows": r.rows.iter().map(|row| row.values.iter().map(from_sql).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })),
            Err(e) => {
                return json_response(200, json!({"results": results, "error": format!("{e:?}")}))
            }
        }
    }
    json_response(200, json!({"results": results}))
}

/// Body: `{"store": "default", "ops": [["set","k","v"], ["get","k"], ["delete","k"], ["exists","k"], ["keys"]]}`.
fn kv(body: &[u8]) -> Response {
    let input: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let label = input["store"].as_str().unwrap_or("default");
    let store = match spin_sdk::key_value::Store::open(label) {
        Ok(s) => s,
        Err(e) => return json_response(200, json!({"open_error": format!("{e:?}")})),
    };
    let mut out = Vec::new();
    for op in input["ops"].as_array().cloned().unwrap_or_default() {
        let name = op[0].as_str().unwrap_or("");
        let key = op[1].as_str().unwrap_or("");
        let r = match name {
            "set" => store
                .set(key, op[2].as_str().unwrap_or("").as_bytes())
                .map(|_| json!("ok")),
            "get" => store.get(key).map(|v| {
                v.map(|b| json!(String::from_utf8_lossy(&b)))
                    .unwrap_or(Json::Null)
            }),
            "delete" => store.delete(key).map(|_| json!("ok")),
            "exists" => store.exists(key).map(|b| json!(b)),
            "keys" => store.get_keys().map(|k| json!(k)),
            _ => Ok(json!("unknown op")),
        };
        out.push(match r {
            Ok(v) => json!({"ok": v}),
            Err(e) => json!({"err": format!("{e:?}")}),
        });
    }
    json_response(200, json!(out))
}

fn redis(q: &[(String, String)]) -> Response {
    let address = param(q, "address");
    let conn = match spin_sdk::redis::Connection::open(address) {
        Ok(c) => c,
        Err(e) => return json_response(200, json!({"open_error": format!("{e:?}")})),
    };
    let key = param(q, "key").to_string();
    let r = match param(q, "cmd") {
        "publish" => conn
            .publish(param(q, "channel"), param(q, "payload").as_bytes())
            .map(|_| json!("ok")),
        "set" => conn
            .set(&key, param(q, "value").as_bytes())
            .map(|_| json!("ok")),
        "get" => conn.get(&key).map(|v| {
            v.map(|b| json!(String::from_utf8_lossy(&b)))
                .unwrap_or(Json::Null)
        }),
        "incr" => conn.incr(&key).map(|n| json!(n)),
        "del" => conn.del(std::slice::from_ref(&key)).map(|n| json!(n)),
        "sadd" => conn
            .sadd(&key, &[param(q, "value").to_string()])
            .map(|n| json!(n)),
        "smembers" => conn.smembers(&key).map(|m| json!(m)),
        other => return json_response(400, json!({"error": format!("unknown cmd {other}")})),
    };
    json_response(
        200,
        match r {
            Ok(v) => json!({"ok": v}),
            Err(e) => json!({"err": format!("{e:?}")}),
        },
    )
}

async fn fetch(q: &[(String, String)]) -> Response {
    let url = param(q, "url");
    let req = Request::get(url).header("x-probe", "1").build();
    let result: Result<Response, _> = spin_sdk::http::send(req).await;
    match result {
        Ok(resp) => json_response(
            200,
            json!({
                "status": *resp.status(),
                "body": String::from_utf8_lossy(resp.body()),
            }),
        ),
        Err(e) => json_response(200, json!({"send_error": format!("{e:?}")})),
    }
}

fn echo(req: &Request) -> Response {
    let headers: serde_json::Map<String, Json> = req
        .headers()
        .map(|(k, v)| (k.to_string(), json!(v.as_str().unwrap_or(""))))
        .collect();
    json_response(
        200,
        json!({
            "component": std::env::var("COMPONENT").unwrap_or_default(),
            "method": format!("{:?}", req.method()),
            "uri": req.uri(),
            "path": req.path(),
            "headers": headers,
            "body": String::from_utf8_lossy(req.body()),
        }),
    )
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let q = query(&req);
    let resp = match param(&q, "op") {
        "" => echo(&req),
        "noop" => Response::new(200, ()),
        "counter" => {
            static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Response::new(200, n.to_string())
        }
        "sqlread" => {
            let conn = spin_sdk::sqlite::Connection::open_default()?;
            let r = conn.execute("SELECT 1", &[])?;
            Response::new(200, format!("{}", r.rows.len()))
        }
        "sqlite" => sqlite(req.body()),
        "kv" => kv(req.body()),
        "var" => match spin_sdk::variables::get(param(&q, "name")) {
            Ok(v) => json_response(200, json!({"ok": v})),
            Err(e) => json_response(200, json!({"err": format!("{e:?}")})),
        },
        "env" => json_response(200, json!({"value": std::env::var(param(&q, "name")).ok()})),
        "file" => match std::fs::read_to_string(param(&q, "path")) {
            Ok(s) => json_response(200, json!({"content": s})),
            Err(e) => json_response(200, json!({"error": e.to_string()})),
        },
        "write-file" => match std::fs::write(param(&q, "path"), b"x") {
            Ok(()) => json_response(200, json!({"written": true})),
            Err(e) => json_response(200, json!({"error": e.to_string()})),
        },
        "fetch" => fetch(&q).await,
        "redis" => redis(&q),
        "status" => Response::new(param(&q, "code").parse::<u16>().unwrap_or(200), "status"),
        "slow" => {
            let ms: u64 = param(&q, "ms").parse().unwrap_or(100);
            let start = std::time::Instant::now();
            while start.elapsed().as_millis() < ms as u128 {
                std::hint::spin_loop();
            }
            Response::new(200, "slow done")
        }
        "loop" =>
        {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        "alloc" => {
            let mb: usize = param(&q, "mb").parse().unwrap_or(1);
            let v = vec![1u8; mb << 20];
            Response::new(
                200,
                format!("{}", v.iter().map(|b| *b as usize).sum::<usize>()),
            )
        }
        "panic" => panic!("asked to panic"),
        "error" => anyhow::bail!("asked to fail"),
        other => json_response(400, json!({"error": format!("unknown op {other}")})),
    };
    Ok(resp)
}
