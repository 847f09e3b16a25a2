//! The process-wide wasmtime `Engine` and the compiled-component caches.
//!
//! One `Engine` per process: every app started in the process (the e2e tests
//! start many) shares it, so a component compiled once stays valid for all of
//! them. Compiled components are cached twice:
//!
//! * in memory, keyed by the SHA-256 of the `.wasm` bytes;
//! * on disk under `$SALES_RUNNER_CACHE` (or `~/.cache/sales-runner`), as the
//!   output of `Component::serialize`, keyed by the wasm hash plus a hash of
//!   the wasmtime version and the engine's compilation settings, so a cache
//!   written by another wasmtime or another configuration is never loaded.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Epoch tick: deadlines are counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Upper bound the pooling allocator reserves per linear memory; the
/// configurable per-instance limit (`UpOptions::memory_limit`) is enforced
/// per store below this.
const POOL_MAX_MEMORY: usize = 1 << 30;

struct Shared {
    engine: Engine,
    pooling: bool,
    cache_key: String,
}

static SHARED: OnceLock<std::result::Result<Shared, String>> = OnceLock::new();
static COMPILED: OnceLock<Mutex<HashMap<[u8; 32], Component>>> = OnceLock::new();

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // No component-model-async (WASI 0.3) support in the store: the runner
    // links only WASI 0.2 and Spin's 0.2-era interfaces, whose guests make
    // synchronous calls. With it on (wasmtime's default) every export call
    // ran through the store's concurrent event loop
    // (`run_concurrent_trap_on_idle`) and every host call created and
    // deleted a host task; off, a call runs on a fiber (`on_fiber`) and a
    // host call only marks the store as entered. ~15 µs of CPU per no-op
    // request (BENCHMARKS.md, Runner, session 6). A component that uses the
    // async ABI fails to load, with wasmtime's validation error.
    config.concurrency_support(false);
    config
}

/// Spin's probe: the pooling allocator needs a large address space; try to
/// reserve a 42-bit memory and fall back to on-demand allocation if it fails.
fn pooling_supported() -> bool {
    const BITS_TO_TEST: u32 = 42;
    let mut config = Config::new();
    config.wasm_memory64(true);
    config.memory_reservation(1 << BITS_TO_TEST);
    let Ok(engine) = Engine::new(&config) else {
        return false;
    };
    let mut store = wasmtime::Store::new(&engine, ());
    let ty = wasmtime::MemoryType::new64(0, None);
    wasmtime::Memory::new(&mut store, ty).is_ok()
}

/// How much of a slot's linear memory and tables may stay mapped when an
/// instance ends. With `PAGEMAP_SCAN` (see [`pooling_config`]) only the
/// pages the instance actually dirtied, up to this many bytes, are reset
/// with a `memset` and stay resident; the rest go back to the kernel with
/// `madvise`. Without it wasmtime `memset`s the whole low `KEEP_RESIDENT`
/// bytes of every memory on every request (our guests' 1 MiB shadow stack
/// sits below their data, so all of it), which cost ~30 µs of CPU per
/// request.
const KEEP_RESIDENT: usize = 2 << 20;

/// Warm slots affine to other components that the pool keeps before it
/// takes one over; bounds the memory kept resident by slots not in use
/// (wasmtime's default is 100).
const MAX_UNUSED_WARM_SLOTS: u32 = 32;

/// Component instances the pool holds at once; `SALES_RUNNER_POOL_INSTANCES`
/// sets another number (a test exhausts a small pool with it).
fn pool_instances() -> u32 {
    std::env::var("SALES_RUNNER_POOL_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn pooling_config() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(pool_instances())
        .total_core_instances(2_000)
        .total_memories(1_000)
        .total_tables(2_000)
        .total_stacks(1_000)
        .max_core_instances_per_component(200)
        .max_memories_per_component(32)
        .max_tables_per_component(32)
        .max_component_instance_size(10 << 20)
        .table_elements(100_000)
        .max_memory_size(POOL_MAX_MEMORY)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .max_unused_warm_slots(MAX_UNUSED_WARM_SLOTS)
        // Linux ≥ 6.7: reset only the dirty pages of a slot (falls back to
        // the plain `memset` + `madvise` reset where the ioctl is missing).
        .pagemap_scan(Enabled::Auto);
    pool
}

fn build_shared() -> std::result::Result<Shared, String> {
    let mut pooling = false;
    let engine = if !std::env::var("SALES_RUNNER_NO_POOLING")
        .is_ok_and(|v| !v.is_empty() && v != "0")
        && pooling_supported()
    {
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config()));
        match Engine::new(&config) {
            Ok(e) => {
                pooling = true;
                Some(e)
            }
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                None
            }
        }
    } else {
        None
    };
    let engine = match engine {
        Some(e) => e,
        None => Engine::new(&base_config()).map_err(|e| format!("failed to create engine: {e}"))?,
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let cache_key = format!("wasmtime48-{:016x}", hasher.finish());

    // The epoch ticker: one thread per process, like Spin's.
    let ticker = engine.clone();
    std::thread::Builder::new()
        .name("sales-runner-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            ticker.increment_epoch();
        })
        .map_err(|e| format!("failed to start the epoch thread: {e}"))?;
    Ok(Shared {
        engine,
        pooling,
        cache_key,
    })
}

fn shared() -> Result<&'static Shared> {
    SHARED
        .get_or_init(build_shared)
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The process-wide engine.
pub fn engine() -> Result<&'static Engine> {
    Ok(&shared()?.engine)
}

/// Stops library error values from capturing backtraces unless
/// `RUST_LIB_BACKTRACE` asks for them; panics keep theirs (`RUST_BACKTRACE`).
///
/// wasmtime 48 creates an `Error` while it drops every component `Store`
/// (`ComponentStoreData::drop_fibers_and_futures`); with `RUST_BACKTRACE=1`
/// in the environment std then unwinds the stack for each one, which cost
/// ~6 % of the CPU of a no-op request in the runner benchmark. Call this
/// first thing in `main`, before any other thread exists (changing the
/// environment is not thread-safe).
pub fn quiet_error_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// The pooling allocator's slot counts, when it is in use: for the
/// benchmark's memory report.
pub fn pool_metrics() -> Option<wasmtime::PoolingAllocatorMetrics> {
    shared().ok()?.engine.pooling_allocator_metrics()
}

/// Whether the pooling allocator is in use.
pub fn uses_pooling() -> bool {
    shared().map(|s| s.pooling).unwrap_or(false)
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SALES_RUNNER_CACHE") {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("sales-runner"))
}

/// Loads (compiling at most once per process and once per machine) the
/// component at `path`.
pub fn load_component(path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("failed to read component {}", path.display()))?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let memory = COMPILED.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(c) = memory.lock().ok().and_then(|m| m.get(&digest).cloned()) {
        return Ok(c);
    }
    let shared = shared()?;
    let file_name = format!("{}-{}.cwasm", hex::encode(digest), shared.cache_key);
    let cached = cache_dir().map(|d| d.join(file_name));
    let mut component = None;
    if let Some(file) = cached.as_ref().filter(|f| f.exists()) {
        // SAFETY: the file was written by `Component::serialize` of this very
        // wasmtime version and engine configuration (both are in its name) into
        // the user's own cache directory; wasmtime still checks the header and
        // rejects incompatible artifacts, in which case we recompile.
        match unsafe { Component::deserialize_file(&shared.engine, file) } {
            Ok(c) => component = Some(c),
            Err(e) => tracing::warn!("ignoring unusable cached component {}: {e}", file.display()),
        }
    }
    let component = match component {
        Some(c) => c,
        None => {
            let started = std::time::Instant::now();
            let c = Component::new(&shared.engine, &bytes)
                .map_err(|e| anyhow::anyhow!("{e:?}"))
                .with_context(|| format!("failed to compile component {}", path.display()))?;
            tracing::info!(
                component = %path.display(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "compiled component"
            );
            if let Some(file) = &cached {
                if let Err(e) = write_cache(file, &c) {
                    tracing::warn!("failed to write component cache {}: {e:#}", file.display());
                }
            }
            c
        }
    };
    if let Ok(mut m) = memory.lock() {
        m.insert(digest, component.clone());
    }
    Ok(component)
}

fn write_cache(file: &Path, component: &Component) -> Result<()> {
    let dir = file.parent().context("cache file has no parent")?;
    std::fs::create_dir_all(dir).context("failed to create the cache directory")?;
    let bytes = component
        .serialize()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("failed to serialize component")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("component"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).context("failed to write the cache file")?;
    std::fs::rename(&tmp, file).context("failed to move the cache file into place")?;
    Ok(())
}
