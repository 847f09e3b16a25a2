//! Spin application manifest (version 2), as `spin up` reads it.
//!
//! Every table denies unknown fields so that a typo in `spin.toml` stops the
//! start with the field's path instead of being silently ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Errors reading or validating a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("failed to read manifest {path}: {source}")]
    Read {
        /// Manifest path.
        path: String,
        /// I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown / mistyped field.
    #[error("invalid manifest {path}: field `{field}`: {message}")]
    Parse {
        /// Manifest path.
        path: String,
        /// Dotted path of the offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The manifest parsed but is not a valid application.
    #[error("invalid manifest {path}: {message}")]
    Invalid {
        /// Manifest path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The root of `spin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must be `2`.
    pub spin_manifest_version: u32,
    /// `[application]`.
    pub application: Application,
    /// `[variables]`: application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    /// `[[trigger.http]]`, `[[trigger.redis]]`.
    #[serde(default)]
    pub trigger: Triggers,
    /// `[component.<id>]`.
    #[serde(default)]
    pub component: BTreeMap<String, Component>,
}

/// `[application]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Application version.
    #[serde(default)]
    pub version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Deployment targets (ignored by the runner).
    #[serde(default)]
    pub targets: Vec<String>,
    /// `[application.trigger.*]` trigger-wide settings.
    #[serde(default)]
    pub trigger: ApplicationTriggers,
}

/// `[application.trigger]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTriggers {
    /// `[application.trigger.http]`.
    #[serde(default)]
    pub http: Option<ApplicationHttp>,
    /// `[application.trigger.redis]`.
    #[serde(default)]
    pub redis: Option<ApplicationRedis>,
}

/// `[application.trigger.http]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationHttp {
    /// Base path; Spin 2+ only accepts `/`.
    #[serde(default)]
    pub base: Option<String>,
}

/// `[application.trigger.redis]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRedis {
    /// Default Redis address for every `[[trigger.redis]]` (may be a template).
    #[serde(default)]
    pub address: Option<String>,
}

/// One `[variables]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// Value used when no provider has one.
    #[serde(default)]
    pub default: Option<String>,
    /// The start fails when no provider has a value.
    #[serde(default)]
    pub required: bool,
    /// Never logged.
    #[serde(default)]
    pub secret: bool,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[trigger]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// `[[trigger.http]]`.
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    /// `[[trigger.redis]]`.
    #[serde(default)]
    pub redis: Vec<RedisTrigger>,
}

/// `[[trigger.http]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// Optional trigger id.
    #[serde(default)]
    pub id: Option<String>,
    /// Route pattern or `{ private = true }`.
    pub route: HttpRoute,
    /// Component id.
    pub component: String,
    /// `{ type = "spin" }` or `{ type = "wasi" }`; only WASI 0.2 components are run.
    #[serde(default)]
    pub executor: Option<HttpExecutor>,
}

/// `executor` of an HTTP trigger.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExecutor {
    /// `spin`, `wasi` or `wagi` (only the first two are accepted).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A route: a pattern string, or `{ private = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum HttpRoute {
    /// `route = "/api/..."`.
    Pattern(String),
    /// `route = { private = true }`.
    Private(PrivateRoute),
}

/// `route = { private = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateRoute {
    /// Must be `true`.
    pub private: bool,
}

/// `[[trigger.redis]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTrigger {
    /// Optional trigger id.
    #[serde(default)]
    pub id: Option<String>,
    /// Channel (may be a template).
    pub channel: String,
    /// Redis address (may be a template); overrides the application default.
    #[serde(default)]
    pub address: Option<String>,
    /// Component id.
    pub component: String,
}

/// `[component.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Path of the `.wasm` (relative to the manifest), or `{ url, digest }`.
    pub source: ComponentSource,
    /// Files made visible to the guest, read-only.
    #[serde(default)]
    pub files: Vec<FileMount>,
    /// Glob patterns removed from `files`.
    #[serde(default)]
    pub exclude_files: Vec<String>,
    /// Environment variables of the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Outbound network allow list.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels the component may open.
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Component variables (values may be `{{ app_var }}` templates).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// `[component.<id>.build]`: used by `spin build`, ignored by the runner.
    #[serde(default)]
    pub build: Option<ComponentBuild>,
}

/// `source` of a component.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ComponentSource {
    /// A local path.
    Local(String),
    /// A remote source (not supported by the runner: no network).
    Remote(RemoteSource),
}

/// `source = { url = "...", digest = "..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSource {
    /// URL.
    pub url: String,
    /// Digest.
    pub digest: String,
}

/// One `files` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileMount {
    /// A glob pattern or path, mounted at the same relative path under `/`.
    Pattern(String),
    /// `{ source = "dir-or-file", destination = "/abs" }`.
    Placement(FilePlacement),
}

/// `{ source, destination }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePlacement {
    /// Host path relative to the manifest.
    pub source: String,
    /// Absolute guest path.
    pub destination: String,
}

/// `[component.<id>.build]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentBuild {
    /// Build command (string or list of strings).
    pub command: BuildCommand,
    /// Working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Watched globs.
    #[serde(default)]
    pub watch: Vec<String>,
}

/// A build command.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BuildCommand {
    /// One command.
    One(String),
    /// Several commands.
    Many(Vec<String>),
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let shown = path.display().to_string();
        let de = toml::Deserializer::parse(text).map_err(|e| ManifestError::Parse {
            path: shown.clone(),
            field: String::new(),
            message: e.to_string(),
        })?;
        let manifest: Manifest = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            ManifestError::Parse {
                path: shown.clone(),
                field,
                message: e.into_inner().to_string().trim().to_string(),
            }
        })?;
        manifest
            .validate()
            .map_err(|message| ManifestError::Invalid {
                path: shown,
                message,
            })?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        if self.spin_manifest_version != 2 {
            return Err(format!(
                "spin_manifest_version must be 2, found {}",
                self.spin_manifest_version
            ));
        }
        if let Some(base) = self
            .application
            .trigger
            .http
            .as_ref()
            .and_then(|h| h.base.as_deref())
        {
            if base != "/" {
                return Err(format!(
                    "application.trigger.http.base: only \"/\" is supported, found {base:?}"
                ));
            }
        }
        for (name, decl) in &self.variables {
            crate::variables::validate_name(name).map_err(|e| format!("variables.{name}: {e}"))?;
            if decl.required && decl.default.is_some() {
                return Err(format!(
                    "variables.{name}: a variable cannot be both required and have a default"
                ));
            }
            if !decl.required && decl.default.is_none() {
                return Err(format!(
                    "variables.{name}: a variable must either be required or have a default"
                ));
            }
        }
        for (i, t) in self.trigger.http.iter().enumerate() {
            if !self.component.contains_key(&t.component) {
                return Err(format!(
                    "trigger.http[{i}].component: no component named {:?}",
                    t.component
                ));
            }
            if let HttpRoute::Private(p) = &t.route {
                if !p.private {
                    return Err(format!(
                        "trigger.http[{i}].route: must be a string pattern or {{ private = true }}"
                    ));
                }
            }
            if let Some(ex) = &t.executor {
                if ex.kind != "spin" && ex.kind != "wasi" {
                    return Err(format!(
                        "trigger.http[{i}].executor.type: {:?} is not supported (use \"spin\" or \"wasi\")",
                        ex.kind
                    ));
                }
            }
        }
        for (i, t) in self.trigger.redis.iter().enumerate() {
            if !self.component.contains_key(&t.component) {
                return Err(format!(
                    "trigger.redis[{i}].component: no component named {:?}",
                    t.component
                ));
            }
        }
        for (id, c) in &self.component {
            validate_id(id).map_err(|e| format!("component.{id}: {e}"))?;
            if let ComponentSource::Remote(r) = &c.source {
                return Err(format!(
                    "component.{id}.source: remote sources ({}) are not supported; build the component locally",
                    r.url
                ));
            }
            for name in c.variables.keys() {
                crate::variables::validate_name(name)
                    .map_err(|e| format!("component.{id}.variables.{name}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Spin's rule for component ids (`spin_serde::KebabId`): words joined by
/// `-`, each all lower-case or all upper-case ASCII letters and digits (`:`
/// allowed inside a word); the first word starts with a letter, later ones
/// with a letter or digit (`orders`, `sink-a`, `api-2`).
fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("component id must not be empty".into());
    }
    if id.contains('_') {
        return Err(format!(
            "invalid component id {id:?}: words must be separated with '-', not '_'"
        ));
    }
    for (i, word) in id.split('-').enumerate() {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            return Err(format!(
                "invalid component id {id:?}: '-'-separated words must not be empty"
            ));
        };
        if !(first.is_ascii_alphabetic() || (i > 0 && first.is_ascii_digit())) {
            return Err(format!("invalid component id {id:?}: words must start with an ASCII letter (or a digit after the first)"));
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if ch.is_ascii_digit() || ch == ':' {
                continue;
            }
            if !ch.is_ascii_alphanumeric() {
                return Err(format!("invalid component id {id:?}: only ASCII letters and digits are allowed, got {ch:?}"));
            }
            if ch.is_ascii_uppercase() != upper {
                return Err(format!(
                    "invalid component id {id:?}: word {word:?} mixes upper and lower case"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_ids_must_be_kebab_case() {
        for good in ["orders", "sink-a", "api-v2", "a1", "api-2", "HTTP-x"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["Orders", "sink_a", "-a", "a-", "a--b", "1a", "", "a.b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[[trigger.http]]
route = "/..."
component = "a"
[component.a]
source = "a.wasm"
"#;

    #[test]
    fn minimal_manifest_parses() {
        let m = Manifest::parse(MINIMAL, Path::new("spin.toml")).unwrap();
        assert_eq!(m.trigger.http.len(), 1);
    }

    #[test]
    fn unknown_field_is_reported_with_its_path() {
        let text = MINIMAL.replace("source = \"a.wasm\"", "source = \"a.wasm\"\nsorce = 1");
        let err = Manifest::parse(&text, Path::new("spin.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("component.a"), "{err}");
        assert!(err.contains("sorce"), "{err}");
    }

    #[test]
    fn trigger_naming_a_missing_component_is_rejected() {
        let text = MINIMAL.replace("component = \"a\"", "component = \"b\"");
        let err = Manifest::parse(&text, Path::new("spin.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("trigger.http[0].component"), "{err}");
    }
}
