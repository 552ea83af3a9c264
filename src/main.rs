//! `comp`: compose diffusion models. The command line: parsing arguments, dispatching to a
//! command, and turning failures into exit codes (0 ok, 1 errors in the input, 2 usage or I/O).

mod cmd;
mod error;
mod lsp;
mod pipeline;
mod progress;
mod prompts;
mod render;
mod repl;

pub use error::Failure;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "comp", version, about = "Compose diffusion models: AND, NOT, OR, weights, guidance and step windows")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check .comp files and report every problem (exit 1 on errors)
    Check(cmd::check::Args),
    /// Format .comp files in the canonical layout
    Fmt(cmd::fmt::Args),
    /// Turn a prompt written for AUTOMATIC1111 or the Composable Diffusion pipeline into a .comp file
    Import(cmd::import::Args),
    /// Show the stages of compilation: the syntax tree, the simplified terms, the plan
    Plan(cmd::plan::Args),
    /// Sample every `sample` of a .comp file and write the results
    Run(cmd::run::Args),
    /// Join the shards of a run (`comp run --shard`) into the outputs of one run
    Merge(cmd::merge::Args),
    /// List the models and their vocabularies
    Models(cmd::models::Args),
    /// Explore compositions interactively
    Repl(repl::Args),
    /// A language server for editors, on stdin/stdout (docs/editors.md)
    Lsp(lsp::Args),
    /// Train a learned model (toy2d, clevr-pos)
    Train(cmd::train::Args),
    /// Evaluate compositions against exact targets or a detector (toy2d, clevr-pos)
    Eval(cmd::eval::Args),
}

fn main() -> ExitCode {
    // A reader that goes away (`comp models | head -1`) ends comp quietly, as it ends `cat`.
    comp_runtime::default_sigpipe();
    let cli = Cli::parse();
    // candle's CPU thread pool busy-waits between elementwise ops; when the cores are shared
    // (another build, a second run) that collapses throughput several-fold, while a single
    // thread for elementwise work costs little (matrix multiplies still use every core).
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    // candle 0.11 asks for its matmul thread count at every matmul, and without
    // RAYON_NUM_THREADS it counts physical cores by reading /proc/cpuinfo each time: 82,000
    // reads in one 3,169-call HMC run of toy2d-mlp (a third of its time, in the kernel). Fixing
    // the variable to rayon's own default (the logical cores) leaves rayon's pool as it was and
    // makes candle's count a lookup; on this 2-core machine physical = logical, so matmuls
    // split as before.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = cpus_to_use(n, std::env::var("SLURM_CPUS_PER_TASK").ok().as_deref());
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    comp_runtime::tune_cpu_process();
    // Work on a thread with a generous stack: the front half is iterative where input can be
    // deep, but a large stack keeps any remaining recursion far from overflowing.
    let handle =
        std::thread::Builder::new().stack_size(64 * 1024 * 1024).spawn(move || dispatch(cli.command)).expect("spawning the main thread");
    let result = handle.join().unwrap_or_else(|_| Err(Failure::Runtime("internal error (a bug in comp: please report it)".into())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            ExitCode::from(1)
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Check(a) => cmd::check::run(a),
        Command::Fmt(a) => cmd::fmt::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Merge(a) => cmd::merge::run(a),
        Command::Models(a) => cmd::models::run(a),
        Command::Repl(a) => repl::run(a),
        Command::Lsp(a) => lsp::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
    }
}

/// The threads comp computes with: the CPUs this process may use, not all the machine has.
/// `available` is `std::thread::available_parallelism`, which on Linux already counts only
/// the CPUs of the affinity mask (`taskset`, Slurm's and Kubernetes' CPU binding) and the
/// cgroup CPU quota (a container's `limits.cpu`); a Slurm task's `SLURM_CPUS_PER_TASK` caps
/// it further where Slurm does not bind CPUs.
fn cpus_to_use(available: usize, slurm_cpus_per_task: Option<&str>) -> usize {
    let slurm = slurm_cpus_per_task.and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0);
    slurm.map_or(available, |n| n.min(available)).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_follow_the_cpus_this_process_may_use() {
        use super::cpus_to_use;
        assert_eq!(cpus_to_use(16, None), 16);
        assert_eq!(cpus_to_use(16, Some("4")), 4, "a Slurm task of 4 CPUs on a 16-CPU node");
        assert_eq!(cpus_to_use(2, Some("8")), 2, "never more than the process may use");
        assert_eq!(cpus_to_use(8, Some("0")), 8);
        assert_eq!(cpus_to_use(8, Some("four")), 8);
        assert_eq!(cpus_to_use(0, None), 1);
    }
}
