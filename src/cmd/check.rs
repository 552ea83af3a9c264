//! `comp check FILE...`: report every problem in each file.

use crate::pipeline::{self, SourceFile};
use crate::{render, Failure};
use comp_grammar::Severity;

#[derive(clap::Args)]
pub struct Args {
    /// The .comp files to check (`-` for standard input)
    #[arg(required = true)]
    files: Vec<String>,
    /// `human` (rendered under the source, on stderr) or `json` (an array on stdout, for editors)
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Treat warnings as errors: `--deny warnings`
    #[arg(long, value_name = "warnings", value_parser = ["warnings"])]
    deny: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let models = comp_models::infos();
    let deny_warnings = args.deny.is_some();
    let (mut errors, mut warnings, mut io_errors) = (0usize, 0usize, Vec::new());
    let mut json = Vec::new();
    for path in &args.files {
        let source = match SourceFile::read(path) {
            Ok(s) => s,
            Err(msg) => {
                if let Format::Json = args.format {
                    // Editors read stdout only: an unreadable file is a diagnostic too.
                    json.push(serde_json::json!({
                        "file": path, "line": 1, "column": 1, "end_line": 1, "end_column": 1,
                        "severity": "error", "code": "E0005", "message": msg,
                    }));
                }
                io_errors.push(msg);
                continue;
            }
        };
        let checked = pipeline::check(&source, &models);
        for d in &checked.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
        match args.format {
            Format::Human => super::print_diagnostics(&source, &checked),
            Format::Json => {
                let lines = render::line_starts(&source.text);
                for d in &checked.diagnostics {
                    json.push(serde_json::to_value(render::json(&source.name, &source.text, &lines, d)).expect("serialisable"));
                }
            }
        }
    }
    if let Format::Json = args.format {
        println!("{}", serde_json::to_string_pretty(&json).expect("serialisable"));
    }
    if !io_errors.is_empty() {
        return Err(Failure::Usage(io_errors.join("\nerror: ")));
    }
    if let Format::Human = args.format {
        let files = args.files.len();
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        eprintln!("checked {}: {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"));
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        Err(Failure::Input)
    } else {
        Ok(())
    }
}
