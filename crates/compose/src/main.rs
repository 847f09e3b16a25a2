//! `sales-compose --socket orders.wasm --plug pricing.wasm --plug
//! availability.wasm --plug approvals.wasm -o orders.composed.wasm`
//!
//! Plugs the capability components into the orders component and writes
//! the composed component (see the library docs). `scripts/build-wasm`
//! runs it after building the components.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use sales_compose::{compose, Input};

#[derive(Debug, Parser)]
#[command(name = "sales-compose", version, about)]
struct Args {
    /// The component whose imports are filled (orders.wasm).
    #[arg(long)]
    socket: PathBuf,
    /// A component whose exports fill the socket's imports; repeat for each.
    #[arg(long = "plug", required = true)]
    plugs: Vec<PathBuf>,
    /// Where to write the composed component.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Socket imports starting with this must be filled by a plug; repeat
    /// for several. The rest (WASI, Spin) are left to the host.
    #[arg(long = "require", default_value = "sales:orchestration/")]
    require: Vec<String>,
}

fn read(path: &Path) -> anyhow::Result<Input> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    Ok(Input::new(path.display().to_string(), bytes))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let socket = read(&args.socket)?;
    let plugs = args
        .plugs
        .iter()
        .map(|p| read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let composed = compose(&socket, &plugs, &args.require)
        .with_context(|| format!("failed to compose `{}`", args.socket.display()))?;

    // Written next to the target and renamed, so a reader (the runner, a
    // concurrent build) never sees half a file.
    let tmp = args.output.with_extension("wasm.tmp");
    std::fs::write(&tmp, &composed.bytes)
        .with_context(|| format!("failed to write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, &args.output)
        .with_context(|| format!("failed to write `{}`", args.output.display()))?;

    for fill in &composed.fills {
        eprintln!("  {} <- {}", fill.import, fill.plug);
    }
    eprintln!(
        "composed {} ({} bytes)",
        args.output.display(),
        composed.bytes.len()
    );
    Ok(())
}
