//! What stops the start, and the `sales-runner up` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::TestApp;

fn base(extra: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "startup"
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{{probe}}"
{extra}
"#
    )
}

#[tokio::test]
async fn unknown_manifest_field_is_reported_with_its_path() {
    let err = TestApp::new(&base("sqlite_databse = [\"default\"]"))
        .start_err()
        .await;
    assert!(err.contains("component.probe"), "{err}");
    assert!(err.contains("sqlite_databse"), "{err}");
}

#[tokio::test]
async fn unconfigured_store_labels_stop_the_start() {
    let err = TestApp::new(&base("sqlite_databases = [\"reports\"]"))
        .start_err()
        .await;
    assert!(err.contains("reports"), "{err}");
    let err = TestApp::new(&base("key_value_stores = [\"cache\"]"))
        .start_err()
        .await;
    assert!(
        err.contains("unknown key_value_stores label \"cache\""),
        "{err}"
    );
}

#[tokio::test]
async fn missing_required_variable_stops_the_start() {
    let text = base("").replace(
        "[[trigger.http]]",
        "[variables]\ntoken = { required = true }\n[[trigger.http]]",
    );
    let err = TestApp::new(&text).start_err().await;
    assert!(err.contains("token"), "{err}");
}

#[tokio::test]
async fn component_variable_naming_an_undeclared_app_variable_stops_the_start() {
    let err = TestApp::new(&base("[component.probe.variables]\nx = \"{{ nope }}\""))
        .start_err()
        .await;
    assert!(err.contains("nope"), "{err}");
}

#[tokio::test]
async fn redis_trigger_on_an_http_only_component_stops_the_start() {
    let text = base("") + "[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"probe\"\n";
    let err = TestApp::new(&text).start_err().await;
    assert!(err.contains("inbound-redis"), "{err}");
}

#[tokio::test]
async fn missing_component_file_stops_the_start() {
    let text = base("").replace("source = \"{probe}\"", "source = \"nope.wasm\"");
    let err = TestApp::new(&text).start_err().await;
    assert!(err.contains("nope.wasm"), "{err}");
}

#[tokio::test]
async fn binary_prints_one_line_and_stops_on_sigterm() {
    let t = TestApp::new(&base(""));
    let manifest = t.dir.path().join("spin.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sales-runner"))
        .args(["up", "--from"])
        .arg(&manifest)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(t.dir.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (first, mut reader) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (line, reader)
    })
    .await
    .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("first line")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first:?}");
    let health =
        crate::helpers::send("GET", &format!("{url}/.well-known/spin/health"), &[], "").await;
    assert_eq!(health.status, 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        for _ in 0..300 {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        None
    })
    .await
    .unwrap();
    assert!(exit.expect("runner did not stop on SIGTERM").success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "stdout must hold exactly one line, got more: {rest:?}"
    );
}
