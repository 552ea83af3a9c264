//! `comp eval BENCHMARK ...`: measure how well compositions are sampled.

pub mod attr;
pub mod clevr;
pub mod toy2d;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(clap::Subcommand)]
enum Benchmark {
    /// RRR's 2D compositions under each sampler, against the exact targets
    Toy2d(toy2d::Args),
    /// Composed object positions, scored like Composable Diffusion's Table 1
    #[command(name = "clevr-pos")]
    ClevrPos(clevr::Args),
    /// Composed attributes (colour, shape, size) of one object, scored by the project's detector
    #[command(name = "clevr-attr")]
    ClevrAttr(attr::Args),
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.benchmark {
        Benchmark::Toy2d(a) => toy2d::run(a),
        Benchmark::ClevrPos(a) => clevr::run(a),
        Benchmark::ClevrAttr(a) => attr::run(a),
    }
}
