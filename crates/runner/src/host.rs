//! `fermyon:spin/*@2.0.0` host implementations on [`HostState`].

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::app::{HostState, RedisHandle, SqliteHandle};
use crate::bindings::fermyon::spin as unversioned;
use crate::bindings::fermyon::spin2_0_0::{key_value, redis as spin_redis, sqlite, variables};
use crate::broker::EmbeddedValue;
use crate::sqlite::{SqlResult, SqlValue};

// ---------------------------------------------------------------- sqlite

impl sqlite::Host for HostState {}

fn to_sql(v: sqlite::Value) -> SqlValue {
    match v {
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(f) => SqlValue::Real(f),
        sqlite::Value::Text(s) => SqlValue::Text(s),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
        sqlite::Value::Null => SqlValue::Null,
    }
}

fn from_sql(v: SqlValue) -> sqlite::Value {
    match v {
        SqlValue::Integer(i) => sqlite::Value::Integer(i),
        SqlValue::Real(f) => sqlite::Value::Real(f),
        SqlValue::Text(s) => sqlite::Value::Text(s),
        SqlValue::Blob(b) => sqlite::Value::Blob(b),
        SqlValue::Null => sqlite::Value::Null,
    }
}

fn to_query_result(r: SqlResult) -> sqlite::QueryResult {
    sqlite::QueryResult {
        columns: r.columns,
        rows: r
            .rows
            .into_iter()
            .map(|row| sqlite::RowResult {
                values: row.into_iter().map(from_sql).collect(),
            })
            .collect(),
    }
}

impl sqlite::HostConnection for HostState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<sqlite::Connection>, sqlite::Error> {
        if !self.component.sqlite_databases.contains(&database) {
            return Err(sqlite::Error::AccessDenied);
        }
        let Some(db) = self.app.sqlite.get(&database).cloned() else {
            return Err(sqlite::Error::NoSuchDatabase);
        };
        let conn = match db.pooled() {
            Some(conn) => conn,
            None => {
                let db = db.clone();
                tokio::task::spawn_blocking(move || db.acquire())
                    .await
                    .map_err(|e| sqlite::Error::Io(e.to_string()))?
                    .map_err(sqlite::Error::Io)?
            }
        };
        match self.sqlite.push(SqliteHandle::new(db.clone(), conn)) {
            Some(id) => Ok(Resource::new_own(id)),
            None => Err(sqlite::Error::Io("too many connections opened".into())),
        }
    }

    async fn execute(
        &mut self,
        self_: Resource<sqlite::Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let handle = self
            .sqlite
            .get_mut(self_.rep())
            .ok_or(sqlite::Error::InvalidConnection)?;
        if handle.needs_turn(&statement) {
            let db = handle.db.clone();
            let turn = db.writer_turn().await.map_err(sqlite::Error::Io)?;
            self.sqlite
                .get_mut(self_.rep())
                .ok_or(sqlite::Error::InvalidConnection)?
                .take_turn(turn);
        }
        let deadline = Some(self.deadline);
        let handle = self
            .sqlite
            .get_mut(self_.rep())
            .ok_or(sqlite::Error::InvalidConnection)?;
        handle.before(&statement);
        let params: Vec<SqlValue> = parameters.into_iter().map(to_sql).collect();
        // On this thread unless the statement meets a lock; then on the
        // blocking pool, where it may wait (see `crate::sqlite`).
        let conn = handle
            .conn
            .as_ref()
            .ok_or(sqlite::Error::InvalidConnection)?;
        let (conn, result) = match crate::sqlite::with_deadline(deadline, || {
            crate::sqlite::execute_now(conn, &statement, &params)
        }) {
            Some(result) => (None, result),
            None => {
                let conn = handle.conn.take().ok_or(sqlite::Error::InvalidConnection)?;
                let joined = tokio::task::spawn_blocking(move || {
                    let r = crate::sqlite::with_deadline(deadline, || {
                        crate::sqlite::execute(&conn, &statement, &params)
                    });
                    (conn, r)
                })
                .await;
                let (conn, result) = joined.map_err(|e| sqlite::Error::Io(e.to_string()))?;
                (Some(conn), result)
            }
        };
        if let Some(handle) = self.sqlite.get_mut(self_.rep()) {
            if let Some(conn) = conn {
                handle.conn = Some(conn);
            }
            handle.after();
        }
        result.map(to_query_result).map_err(sqlite::Error::Io)
    }

    async fn drop(&mut self, rep: Resource<sqlite::Connection>) -> wasmtime::Result<()> {
        if let Some(handle) = self.sqlite.remove(rep.rep()) {
            if handle.in_transaction() {
                // The rollback may write: on the blocking pool.
                let _ = tokio::task::spawn_blocking(move || handle.close()).await;
            } else {
                handle.close();
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- key-value

impl key_value::Host for HostState {}

impl HostState {
    fn store(
        &mut self,
        r: &Resource<key_value::Store>,
    ) -> Result<Arc<crate::kv::KvBackend>, key_value::Error> {
        self.kv
            .get_mut(r.rep())
            .cloned()
            .ok_or_else(|| key_value::Error::Other("invalid store handle".into()))
    }
}

impl key_value::HostStore for HostState {
    async fn open(
        &mut self,
        label: String,
    ) -> Result<Resource<key_value::Store>, key_value::Error> {
        if !self.component.key_value_stores.contains(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        let Some(store) = self.app.kv.get(&label).cloned() else {
            return Err(key_value::Error::NoSuchStore);
        };
        match self.kv.push(store) {
            Some(id) => Ok(Resource::new_own(id)),
            None => Err(key_value::Error::StoreTableFull),
        }
    }

    async fn get(
        &mut self,
        self_: Resource<key_value::Store>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        self.store(&self_)?
            .get(key)
            .await
            .map_err(key_value::Error::Other)
    }

    async fn set(
        &mut self,
        self_: Resource<key_value::Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        self.store(&self_)?
            .set(key, value)
            .await
            .map_err(key_value::Error::Other)
    }

    async fn delete(
        &mut self,
        self_: Resource<key_value::Store>,
        key: String,
    ) -> Result<(), key_value::Error> {
        self.store(&self_)?
            .delete(key)
            .await
            .map_err(key_value::Error::Other)
    }

    async fn exists(
        &mut self,
        self_: Resource<key_value::Store>,
        key: String,
    ) -> Result<bool, key_value::Error> {
        self.store(&self_)?
            .exists(key)
            .await
            .map_err(key_value::Error::Other)
    }

    async fn get_keys(
        &mut self,
        self_: Resource<key_value::Store>,
    ) -> Result<Vec<String>, key_value::Error> {
        self.store(&self_)?
            .get_keys()
            .await
            .map_err(key_value::Error::Other)
    }

    async fn drop(&mut self, rep: Resource<key_value::Store>) -> wasmtime::Result<()> {
        self.kv.remove(rep.rep());
        Ok(())
    }
}

// ---------------------------------------------------------------- variables

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        crate::variables::validate_name(&name).map_err(variables::Error::InvalidName)?;
        self.component
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| variables::Error::Undefined(format!("no variable for {name:?}")))
    }
}

// ---------------------------------------------------------------- redis

impl unversioned::redis_types::Host for HostState {}
impl spin_redis::Host for HostState {}

fn redis_err(e: redis::RedisError) -> spin_redis::Error {
    let text = e.to_string();
    if e.kind() == redis::ErrorKind::UnexpectedReturnType
        || text.contains("WRONGTYPE")
        || text.contains("not an integer")
    {
        spin_redis::Error::TypeError
    } else {
        spin_redis::Error::Other(text)
    }
}

/// Whether `e` means the connection itself is gone (not a command error).
fn connection_lost(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}

fn embedded_only(op: &str) -> spin_redis::Error {
    spin_redis::Error::Other(format!(
        "{op} is not supported by the embedded broker (no Redis address configured)"
    ))
}

impl HostState {
    fn redis_handle(
        &mut self,
        r: &Resource<spin_redis::Connection>,
    ) -> Result<(String, bool), spin_redis::Error> {
        self.redis
            .get_mut(r.rep())
            .map(|h| (h.address.clone(), h.real))
            .ok_or_else(|| spin_redis::Error::Other("invalid connection handle".into()))
    }

    /// The process's shared connection to `address` (opened on first use)
    /// and whether it was already open.
    async fn redis_conn(
        &mut self,
        address: &str,
    ) -> Result<(redis::aio::MultiplexedConnection, bool), spin_redis::Error> {
        let mut conns = self.app.redis_conns.lock().await;
        if let Some(c) = conns.get(address) {
            return Ok((c.clone(), true));
        }
        let client = redis::Client::open(address).map_err(|_| spin_redis::Error::InvalidAddress)?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| spin_redis::Error::Other(e.to_string()))?;
        conns.insert(address.to_string(), conn.clone());
        Ok((conn, false))
    }

    /// Runs `cmd` on the shared connection to `address`. A shared
    /// connection does not reconnect by itself: after Redis restarted (an
    /// outage, a failover) every command on it would fail for the rest of
    /// the process's life. So a connection that turns out dead is dropped
    /// from the cache, and a command that found a cached connection dead is
    /// sent once more on a fresh one — what Spin does anyway, which opens a
    /// connection per `open`.
    async fn redis_run<T: redis::FromRedisValue>(
        &mut self,
        address: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, spin_redis::Error> {
        let (mut c, cached) = self.redis_conn(address).await?;
        match cmd.query_async::<T>(&mut c).await {
            Err(e) if connection_lost(&e) => {
                self.app.redis_conns.lock().await.remove(address);
                if !cached {
                    return Err(redis_err(e));
                }
                tracing::info!(%address, "redis connection lost ({e}); reconnecting");
                let (mut c, _) = self.redis_conn(address).await?;
                let r = cmd.query_async::<T>(&mut c).await;
                if let Err(e) = &r {
                    if connection_lost(e) {
                        self.app.redis_conns.lock().await.remove(address);
                    }
                }
                r.map_err(redis_err)
            }
            r => r.map_err(redis_err),
        }
    }

    fn with_embedded<T>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<String, EmbeddedValue>) -> T,
    ) -> Result<T, spin_redis::Error> {
        let mut map = self
            .app
            .embedded_redis
            .lock()
            .map_err(|_| spin_redis::Error::Other("embedded store poisoned".into()))?;
        Ok(f(&mut map))
    }
}

impl spin_redis::HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
    ) -> Result<Resource<spin_redis::Connection>, spin_redis::Error> {
        let parsed =
            redis::Client::open(address.as_str()).is_ok() && url::Url::parse(&address).is_ok();
        if parsed {
            if !self.component.allowed_hosts.allows_url(&address) {
                tracing::warn!(component = %self.component.id, %address, "redis address denied: not in allowed_outbound_hosts");
                return Err(spin_redis::Error::InvalidAddress);
            }
        } else if self.app.broker.embedded.is_empty() {
            return Err(spin_redis::Error::InvalidAddress);
        }
        match self.redis.push(RedisHandle {
            address,
            real: parsed,
        }) {
            Some(id) => Ok(Resource::new_own(id)),
            None => Err(spin_redis::Error::TooManyConnections),
        }
    }

    async fn publish(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if self.app.broker.is_embedded(&channel) {
            crate::broker::publish_embedded(&self.app, &channel, &payload);
            return Ok(());
        }
        if !real {
            // No Redis and nobody listening: the message goes nowhere, as a
            // PUBLISH to a channel without subscribers would.
            return Ok(());
        }
        let cmd = redis::cmd("PUBLISH").arg(channel).arg(payload).clone();
        self.redis_run::<i64>(&address, &cmd).await.map(|_| ())
    }

    async fn get(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| match m.get(&key) {
                Some(EmbeddedValue::Bytes(b)) => Ok(Some(b.clone())),
                Some(EmbeddedValue::Set(_)) => Err(spin_redis::Error::TypeError),
                None => Ok(None),
            })?;
        }
        let cmd = redis::cmd("GET").arg(key).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn set(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| {
                m.insert(key, EmbeddedValue::Bytes(value));
            });
        }
        let cmd = redis::cmd("SET").arg(key).arg(value).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn incr(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
    ) -> Result<i64, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| {
                let current = match m.get(&key) {
                    None => 0,
                    Some(EmbeddedValue::Bytes(b)) => std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .ok_or(spin_redis::Error::TypeError)?,
                    Some(EmbeddedValue::Set(_)) => return Err(spin_redis::Error::TypeError),
                };
                let next = current.checked_add(1).ok_or(spin_redis::Error::TypeError)?;
                m.insert(key, EmbeddedValue::Bytes(next.to_string().into_bytes()));
                Ok(next)
            })?;
        }
        let cmd = redis::cmd("INCRBY").arg(key).arg(1).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn del(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        keys: Vec<String>,
    ) -> Result<u32, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self
                .with_embedded(|m| keys.iter().filter(|k| m.remove(*k).is_some()).count() as u32);
        }
        let cmd = redis::cmd("DEL").arg(keys).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn sadd(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| {
                let entry = m
                    .entry(key)
                    .or_insert_with(|| EmbeddedValue::Set(Default::default()));
                match entry {
                    EmbeddedValue::Set(s) => {
                        Ok(values.into_iter().filter(|v| s.insert(v.clone())).count() as u32)
                    }
                    EmbeddedValue::Bytes(_) => Err(spin_redis::Error::TypeError),
                }
            })?;
        }
        let cmd = redis::cmd("SADD").arg(key).arg(values).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn smembers(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
    ) -> Result<Vec<String>, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| match m.get(&key) {
                None => Ok(Vec::new()),
                Some(EmbeddedValue::Set(s)) => Ok(s.iter().cloned().collect()),
                Some(EmbeddedValue::Bytes(_)) => Err(spin_redis::Error::TypeError),
            })?;
        }
        let cmd = redis::cmd("SMEMBERS").arg(key).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn srem(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return self.with_embedded(|m| match m.get_mut(&key) {
                None => Ok(0),
                Some(EmbeddedValue::Set(s)) => {
                    Ok(values.iter().filter(|v| s.remove(*v)).count() as u32)
                }
                Some(EmbeddedValue::Bytes(_)) => Err(spin_redis::Error::TypeError),
            })?;
        }
        let cmd = redis::cmd("SREM").arg(key).arg(values).clone();
        self.redis_run(&address, &cmd).await
    }

    async fn execute(
        &mut self,
        self_: Resource<spin_redis::Connection>,
        command: String,
        arguments: Vec<spin_redis::RedisParameter>,
    ) -> Result<Vec<spin_redis::RedisResult>, spin_redis::Error> {
        let (address, real) = self.redis_handle(&self_)?;
        if !real {
            return Err(embedded_only("execute"));
        }
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                spin_redis::RedisParameter::Int64(i) => cmd.arg(i),
                spin_redis::RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: redis::Value = self.redis_run(&address, &cmd).await?;
        let mut out = Vec::new();
        flatten(value, &mut out)?;
        Ok(out)
    }

    async fn drop(&mut self, rep: Resource<spin_redis::Connection>) -> wasmtime::Result<()> {
        self.redis.remove(rep.rep());
        Ok(())
    }
}

fn flatten(
    value: redis::Value,
    out: &mut Vec<spin_redis::RedisResult>,
) -> Result<(), spin_redis::Error> {
    use spin_redis::RedisResult as R;
    match value {
        redis::Value::Nil => out.push(R::Nil),
        redis::Value::Int(i) => out.push(R::Int64(i)),
        redis::Value::BulkString(b) => out.push(R::Binary(b)),
        redis::Value::SimpleString(s) => out.push(R::Status(s)),
        redis::Value::Okay => out.push(R::Status("OK".into())),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            for v in items {
                flatten(v, out)?;
            }
        }
        other => {
            return Err(spin_redis::Error::Other(format!(
                "unsupported redis reply: {other:?}"
            )))
        }
    }
    Ok(())
}
