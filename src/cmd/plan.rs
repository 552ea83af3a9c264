//! `comp plan FILE [--emit ast|simplified|plan|json] [--seed N] [--samples N] [--dtype D]`: the
//! stages of compilation, with `comp run`'s overrides compiled in as it compiles them.

use crate::pipeline::{self, SourceFile};
use crate::Failure;
use comp_compiler::RenderHuman;

#[derive(clap::Args)]
pub struct Args {
    /// The .comp file (`-` for standard input)
    file: String,
    /// What to show: the syntax tree (JSON), the simplified terms, the plan for people, or the
    /// plan as JSON (the shape is in docs/plan.md)
    #[arg(long, value_enum, default_value = "plan")]
    emit: Emit,
    /// The settings `comp run` takes from its command line, for the plan it would run
    #[command(flatten)]
    overrides: super::OverrideArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Emit {
    Ast,
    Simplified,
    Plan,
    Json,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let models = comp_models::infos();
    let source = SourceFile::read(&args.file).map_err(Failure::Usage)?;
    let overrides = args.overrides.overrides();
    let checked = pipeline::check_with(&source, &models, &overrides);
    super::print_all_diagnostics(&source, &checked, &overrides);
    if let (Emit::Ast, Some(program)) = (args.emit, &checked.program) {
        // The tree is useful even when names do not resolve.
        println!("{}", serde_json::to_string_pretty(program).expect("serialisable"));
        return if checked.has_errors() { super::compiled(checked).map(|_| ()) } else { Ok(()) };
    }
    let compiled = super::compiled(checked)?;
    match args.emit {
        Emit::Ast => unreachable!("handled above"),
        Emit::Simplified => {
            for s in &compiled.simplified {
                println!("{s}");
            }
        }
        Emit::Plan => print!("{}", compiled.plan.render_human()),
        Emit::Json => println!("{}", serde_json::to_string_pretty(&compiled.plan).expect("serialisable")),
    }
    Ok(())
}
