# Shared by the scripts: run from the repository root, install what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*" >&2; }

# Installs the Rust wasm target and the Debian packages the suite needs, each
# only when missing, so a second run costs nothing.
ensure_tools() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (rustup: https://rustup.rs)" >&2
    exit 1
  fi
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
  fi
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  # The dashboard: Node.js + npm build it, Debian's Chromium runs its
  # browser test (tests/tests/dashboard.rs drives it with playwright-core).
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
      apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
}

# The component packages: every crate under components/.
component_packages() {
  for manifest in components/*/Cargo.toml; do
    sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1
  done
}

# Plugs the capability components into orders.wasm (see crates/compose);
# expects them built. The composer is a native binary of the workspace, built
# in the dev profile like everything `cargo test` builds, so nothing is built
# twice.
compose_orders() {
  local out=target/wasm32-wasip2/release
  log "composing $out/orders.composed.wasm"
  cargo run -q -p sales-compose -- \
    --socket "$out/orders.wasm" \
    --plug "$out/pricing.wasm" \
    --plug "$out/availability.wasm" \
    --plug "$out/approvals.wasm" \
    -o "$out/orders.composed.wasm"
}

# The dashboard's front-end (components/dashboard/web): installs its npm
# dependencies from package-lock.json when node_modules is missing or older
# than the lock file, then builds the hashed assets into web/dist, which
# the dashboard component compiles in (its build.rs).
build_web() {
  local web=components/dashboard/web
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    log "installing the dashboard's npm dependencies"
    npm --prefix "$web" ci --no-audit --no-fund
  fi
  log "building the dashboard's assets"
  npm --prefix "$web" run build --silent
}
