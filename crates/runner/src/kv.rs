//! Key-value stores (`fermyon:spin/key-value@2.0.0`): SQLite-backed like
//! Spin's default store, or a real Redis (`type = "redis"`, which ignores the
//! label, as Spin's does).

use std::sync::Arc;

use redis::AsyncCommands;
use tokio::sync::OnceCell;

use crate::sqlite::{SqliteDb, KV_SCHEMA};

/// One configured store.
pub enum KvBackend {
    /// Rows of `spin_key_value` with `store = label`.
    Sqlite {
        /// The database file holding the table.
        db: Arc<SqliteDb>,
        /// Value of the `store` column.
        store: String,
    },
    /// A Redis server.
    Redis {
        /// Client for the configured URL.
        client: Box<redis::Client>,
        /// Lazily opened multiplexed connection.
        conn: Box<OnceCell<redis::aio::MultiplexedConnection>>,
    },
}

impl std::fmt::Debug for KvBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvBackend::Sqlite { store, .. } => write!(f, "KvBackend::Sqlite({store})"),
            KvBackend::Redis { .. } => write!(f, "KvBackend::Redis"),
        }
    }
}

impl KvBackend {
    /// A SQLite-backed store; creates the table.
    pub fn sqlite(db: Arc<SqliteDb>, store: &str) -> Result<Self, String> {
        db.execute_batch(KV_SCHEMA)?;
        Ok(Self::Sqlite {
            db,
            store: store.to_string(),
        })
    }

    /// A Redis-backed store.
    pub fn redis(url: &str) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid redis url {url:?}: {e}"))?;
        Ok(Self::Redis {
            client: Box::new(client),
            conn: Box::new(OnceCell::new()),
        })
    }

    async fn redis_conn(
        client: &redis::Client,
        conn: &OnceCell<redis::aio::MultiplexedConnection>,
    ) -> Result<redis::aio::MultiplexedConnection, String> {
        conn.get_or_try_init(|| async {
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())
        })
        .await
        .cloned()
    }

    async fn sqlite_op<T: Send + 'static>(
        db: &Arc<SqliteDb>,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db.acquire()?;
            let r = f(&conn).map_err(|e| e.to_string());
            db.release(conn);
            r
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// On this thread with an idle pooled connection unless it meets a
    /// lock (see `crate::sqlite`), else on the blocking pool.
    async fn sqlite_now<T: Send + 'static>(
        db: &Arc<SqliteDb>,
        f: impl Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        if let Some(conn) = db.pooled() {
            let now = crate::sqlite::run_now(&conn, &f);
            db.release(conn);
            if let Some(r) = now {
                return r.map_err(|e| e.to_string());
            }
        }
        Self::sqlite_op(db, f).await
    }

    /// Value of `key`, `None` when missing.
    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, String> {
        match self {
            KvBackend::Sqlite { db, store } => {
                let store = store.clone();
                Self::sqlite_now(db, move |c| {
                    use rusqlite::OptionalExtension;
                    c.prepare_cached(
                        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    )?
                    .query_row((&store, &key), |r| r.get::<_, Vec<u8>>(0))
                    .optional()
                })
                .await
            }
            KvBackend::Redis { client, conn } => {
                let mut c = Self::redis_conn(client, conn).await?;
                c.get::<_, Option<Vec<u8>>>(key)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Sets `key`, overwriting.
    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        match self {
            KvBackend::Sqlite { db, store } => {
                let store = store.clone();
                Self::sqlite_now(db, move |c| {
                    c.prepare_cached(
                        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute((&store, &key, &value))
                    .map(|_| ())
                })
                .await
            }
            KvBackend::Redis { client, conn } => {
                let mut c = Self::redis_conn(client, conn).await?;
                c.set::<_, _, ()>(key, value)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Deletes `key`; missing keys are fine.
    pub async fn delete(&self, key: String) -> Result<(), String> {
        match self {
            KvBackend::Sqlite { db, store } => {
                let store = store.clone();
                Self::sqlite_now(db, move |c| {
                    c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                        .execute((&store, &key))
                        .map(|_| ())
                })
                .await
            }
            KvBackend::Redis { client, conn } => {
                let mut c = Self::redis_conn(client, conn).await?;
                c.del::<_, ()>(key).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: String) -> Result<bool, String> {
        match self {
            KvBackend::Sqlite { db, store } => {
                let store = store.clone();
                Self::sqlite_now(db, move |c| {
                    c.prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
                    )?
                    .query_row((&store, &key), |r| r.get::<_, bool>(0))
                })
                .await
            }
            KvBackend::Redis { client, conn } => {
                let mut c = Self::redis_conn(client, conn).await?;
                c.exists::<_, bool>(key).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Every key of the store.
    pub async fn get_keys(&self) -> Result<Vec<String>, String> {
        match self {
            KvBackend::Sqlite { db, store } => {
                let store = store.clone();
                Self::sqlite_now(db, move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key",
                    )?;
                    let rows = stmt.query_map([&store], |r| r.get::<_, String>(0))?;
                    rows.collect()
                })
                .await
            }
            KvBackend::Redis { client, conn } => {
                let mut c = Self::redis_conn(client, conn).await?;
                c.keys::<_, Vec<String>>("*")
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}
