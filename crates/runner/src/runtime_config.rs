//! `--runtime-config-file`: where the stores named in the manifest live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parsed runtime config, with relative paths made absolute.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// `[key_value_store.<label>]`.
    pub key_value_stores: BTreeMap<String, KeyValueStoreConfig>,
    /// `[sqlite_database.<label>]`.
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
}

/// A key-value store backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValueStoreConfig {
    /// `type = "spin"`: SQLite file (in memory when `path` is absent).
    Spin {
        /// Absolute path of the SQLite file.
        path: Option<PathBuf>,
    },
    /// `type = "redis"`: a real Redis server.
    Redis {
        /// `redis://...` URL.
        url: String,
    },
}

/// A SQLite database backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteDatabaseConfig {
    /// `type = "spin"`: a local file (in memory when `path` is absent).
    Spin {
        /// Absolute path of the database file.
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawKv>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawSqlite>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RawKv {
    #[serde(rename = "spin")]
    Spin {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    #[serde(rename = "redis")]
    Redis { url: String },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RawSqlite {
    #[serde(rename = "spin")]
    Spin {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    #[serde(rename = "libsql")]
    Libsql {
        #[allow(dead_code)]
        url: String,
        #[allow(dead_code)]
        token: String,
    },
}

impl RuntimeConfig {
    /// Reads a runtime config file; relative paths are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("failed to read runtime config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
            .map_err(|e| format!("invalid runtime config {}: {e}", path.display()))
    }

    /// Parses runtime-config text; `base` anchors relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let de = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
        let raw: RawConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("field `{}`: {}", e.path(), e.inner().to_string().trim()))?;
        let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut cfg = RuntimeConfig::default();
        for (label, kv) in raw.key_value_store {
            let v = match kv {
                RawKv::Spin { path } => KeyValueStoreConfig::Spin {
                    path: path.map(abs),
                },
                RawKv::Redis { url } => KeyValueStoreConfig::Redis { url },
            };
            cfg.key_value_stores.insert(label, v);
        }
        for (label, db) in raw.sqlite_database {
            let v = match db {
                RawSqlite::Spin { path } => SqliteDatabaseConfig::Spin { path: path.map(abs) },
                RawSqlite::Libsql { .. } => {
                    return Err(format!(
                        "sqlite_database.{label}: type \"libsql\" is not supported by sales-runner (use real Spin); use type = \"spin\" locally"
                    ))
                }
            };
            cfg.sqlite_databases.insert(label, v);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let cfg = RuntimeConfig::parse(
            "[key_value_store.cache]\ntype = \"spin\"\npath = \"cache.db\"\n[sqlite_database.default]\ntype = \"spin\"\npath = \"/abs/x.db\"\n",
            Path::new("/etc/app"),
        )
        .unwrap();
        assert_eq!(
            cfg.key_value_stores["cache"],
            KeyValueStoreConfig::Spin {
                path: Some(PathBuf::from("/etc/app/cache.db"))
            }
        );
        assert_eq!(
            cfg.sqlite_databases["default"],
            SqliteDatabaseConfig::Spin {
                path: Some(PathBuf::from("/abs/x.db"))
            }
        );
    }

    #[test]
    fn unknown_fields_and_types_are_rejected() {
        assert!(RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"spin\"\npth = \"a\"\n",
            Path::new("/")
        )
        .is_err());
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"azure\"\n", Path::new("/"))
                .is_err()
        );
        assert!(RuntimeConfig::parse("[llm_compute]\ntype = \"spin\"\n", Path::new("/")).is_err());
    }
}
