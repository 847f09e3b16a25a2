//! `deploy/` kept consistent with `spin.toml`: the SpinKube manifest and the
//! shared-state runtime config must provide what the application declares,
//! or a cluster deployment fails at start (or worse, runs on per-pod state).
//! No cluster here: these are checks of the files against the manifest.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use sales_e2e::workspace_root;
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    text.parse().unwrap()
}

fn spinkube_documents() -> Vec<Yaml> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/spinapp.yaml")).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Yaml::deserialize(doc).unwrap())
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    let found: Vec<_> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "deploy/spinapp.yaml holds one {kind}");
    found[0]
}

/// The labels of `key` (`key_value_stores`, `sqlite_databases`) over every
/// component of the manifest.
fn labels(manifest: &toml::Table, key: &str) -> BTreeSet<String> {
    manifest["component"]
        .as_table()
        .unwrap()
        .values()
        .filter_map(|c| c.get(key).and_then(|v| v.as_array()))
        .flatten()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &Yaml) -> BTreeSet<String> {
    list.as_sequence()
        .expect("a list")
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_spinapp_provides_every_required_variable_and_secrets_only_from_a_secret() {
    let manifest = manifest();
    let docs = spinkube_documents();
    let app = kind(&docs, "SpinApp");
    assert_eq!(app["apiVersion"], "core.spinkube.dev/v1alpha1");
    assert_eq!(app["spec"]["executor"], "containerd-shim-spin");
    let secret = kind(&docs, "Secret");
    let secret_name = secret["metadata"]["name"].as_str().unwrap();
    let secret_keys: BTreeSet<String> = secret["stringData"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();

    let declared = manifest["variables"].as_table().unwrap();
    let given = app["spec"]["variables"].as_sequence().unwrap();
    for v in given {
        let name = v["name"].as_str().unwrap();
        let decl = declared
            .get(name)
            .unwrap_or_else(|| panic!("SpinApp sets {name}, which spin.toml does not declare"));
        let is_secret = decl.get("secret").and_then(|s| s.as_bool()) == Some(true);
        let from = &v["valueFrom"]["secretKeyRef"];
        if is_secret {
            assert!(
                v.get("value").is_none() && !from.is_null(),
                "{name} is secret in spin.toml: it must come from a Secret, not a literal"
            );
        }
        if !from.is_null() {
            assert_eq!(from["name"], secret_name, "{name} refers to another Secret");
            let key = from["key"].as_str().unwrap();
            assert!(
                secret_keys.contains(key),
                "{name}: the Secret has no key {key}"
            );
        }
    }
    let given: BTreeSet<&str> = given.iter().map(|v| v["name"].as_str().unwrap()).collect();
    for (name, decl) in declared {
        if decl.get("required").and_then(|r| r.as_bool()) == Some(true) {
            assert!(
                given.contains(name.as_str()),
                "required variable {name} is not set"
            );
        }
    }
    // The jobs component's Redis trigger takes its address from a variable
    // whose default (empty) means the runner's embedded broker — which a
    // cluster does not have.
    assert!(
        given.contains("redis_address"),
        "a cluster needs a shared Redis address"
    );
}

#[test]
fn every_store_and_database_label_is_on_shared_state_in_both_configs() {
    let manifest = manifest();
    let kv = labels(&manifest, "key_value_stores");
    let sqlite = labels(&manifest, "sqlite_databases");
    assert!(kv.contains("default") && sqlite.contains("default"));

    let docs = spinkube_documents();
    let runtime = &kind(&docs, "SpinApp")["spec"]["runtimeConfig"];
    assert_eq!(names(&runtime["keyValueStores"]), kv);
    assert_eq!(names(&runtime["sqliteDatabases"]), sqlite);
    for store in runtime["keyValueStores"].as_sequence().unwrap() {
        assert_eq!(
            store["type"], "redis",
            "a per-pod key-value store is not shared"
        );
    }
    for db in runtime["sqliteDatabases"].as_sequence().unwrap() {
        assert_eq!(db["type"], "libsql", "a per-pod SQLite file is not shared");
        let options = names(&db["options"]);
        assert!(options.contains("url") && options.contains("token"));
    }

    let text =
        std::fs::read_to_string(workspace_root().join("deploy/runtime-config.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let section = |name: &str| -> BTreeSet<String> {
        config
            .get(name)
            .and_then(|s| s.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(section("key_value_store"), kv);
    assert_eq!(section("sqlite_database"), sqlite);
    for label in &kv {
        assert_eq!(
            config["key_value_store"][label]["type"].as_str(),
            Some("redis")
        );
    }
    for label in &sqlite {
        let db = &config["sqlite_database"][label];
        assert_eq!(db["type"].as_str(), Some("libsql"));
        assert!(db.get("url").is_some() && db.get("token").is_some());
    }
}

#[test]
fn the_tick_cronjob_publishes_on_the_jobs_triggers_channel() {
    let manifest = manifest();
    let channels: Vec<&str> = manifest["trigger"]["redis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channel"].as_str().unwrap())
        .collect();
    let docs = spinkube_documents();
    let cron = kind(&docs, "CronJob");
    let container = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<&str> = container["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let script = command.join(" ");
    assert!(
        channels
            .iter()
            .any(|c| script.contains(&format!("PUBLISH {c} tick"))),
        "the CronJob must publish `tick` on a channel the jobs trigger listens to ({channels:?}): {script}"
    );
}
