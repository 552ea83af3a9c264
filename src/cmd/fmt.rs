//! `comp fmt [--check] FILE...`: rewrite files in the canonical layout (comments kept).
//! Files are rewritten in place safely (symlinks, hard links and permissions kept; see
//! `comp_output::write_in_place`).

use crate::pipeline::SourceFile;
use crate::{render, Failure};

#[derive(clap::Args)]
pub struct Args {
    /// The .comp files to format (`-` formats standard input to standard output)
    #[arg(required = true)]
    files: Vec<String>,
    /// Change nothing; exit 1 if any file is not formatted
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (mut unformatted, mut broken, mut io_errors) = (Vec::new(), 0usize, Vec::new());
    for path in &args.files {
        let source = match SourceFile::read(path) {
            Ok(s) => s,
            Err(msg) => {
                io_errors.push(msg);
                continue;
            }
        };
        let parsed = match &source.decode_error {
            Some(d) => Err(vec![d.clone()]),
            None => comp_grammar::parse(&source.text),
        };
        let program = match parsed {
            Ok(p) => p,
            Err(diagnostics) => {
                // Never rewrite a file we could not parse: report and leave it as it is.
                let color = render::stderr_color();
                for d in &diagnostics {
                    eprint!("{}", render::human(&source.name, &source.text, d, color));
                }
                broken += 1;
                continue;
            }
        };
        let formatted = comp_compiler::format(&source.text, &program);
        if path == "-" {
            print!("{formatted}");
        } else if formatted != source.text {
            if args.check {
                eprintln!("would reformat {path}");
                unformatted.push(path.clone());
            } else if let Err(e) = comp_output::write_in_place(std::path::Path::new(path), formatted.as_bytes()) {
                io_errors.push(format!("cannot write `{path}`: {e}"));
            } else {
                eprintln!("formatted {path}");
            }
        }
    }
    if !io_errors.is_empty() {
        return Err(Failure::Usage(io_errors.join("\nerror: ")));
    }
    if broken > 0 || !unformatted.is_empty() {
        return Err(Failure::Input);
    }
    Ok(())
}
