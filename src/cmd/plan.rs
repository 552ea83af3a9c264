//! `comp plan FILE [--emit ast|simplified|plan|json]`: the stages of compilation.

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
    let checked = pipeline::check(&source, &models);
    super::print_diagnostics(&source, &checked);
    if let (Emit::Ast, Some(program)) = (args.emit, &checked.program) {
        // The tree is useful even when names do not resolve.
        println!("{}", serde_json::to_string_pretty(program).expect("serialisable"));
        return if checked.has_errors() { Err(Failure::Input) } else { Ok(()) };
    }
    let Some(compiled) = checked.compiled else {
        return Err(Failure::Input);
    };
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
