//! `comp models`: the models and their vocabularies.

use crate::Failure;
use comp_compiler::{DefaultBase, ModelInfo, ParamKind};

#[derive(clap::Args)]
pub struct Args {
    /// Print the model infos as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let models = comp_models::infos();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&models).expect("serialisable"));
        return Ok(());
    }
    for (i, m) in models.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", describe(m));
    }
    Ok(())
}

/// A model's entry in `comp models`.
pub fn describe(m: &ModelInfo) -> String {
    let mut out = format!("{}  {}\n", m.name, m.description);
    let shape: Vec<String> = m.data_shape.iter().map(|d| d.to_string()).collect();
    let base = match m.default_base {
        DefaultBase::None => "none",
        DefaultBase::Null => "null",
    };
    out += &format!(
        "  data [{}], energies: {}, text prompts: {}, defaults: scale {}, base {}, {} steps, {} samples\n",
        shape.join(", "),
        if m.energies { "yes" } else { "no" },
        if m.text { "yes" } else { "no" },
        m.default_scale,
        base,
        m.default_steps,
        m.default_samples
    );
    out += "  concepts:\n";
    for c in &m.concepts {
        let sig = if c.params.is_empty() {
            c.name.clone()
        } else {
            let ps: Vec<String> = c.params.iter().map(param_sig).collect();
            format!("{}({})", c.name, ps.join(", "))
        };
        out += &format!("    {sig:<28} {}\n", c.description);
    }
    if !m.extra_settings.is_empty() {
        out += "  settings:\n";
        for p in &m.extra_settings {
            out += &format!("    {:<28} {}\n", param_sig(p), p.description);
        }
    }
    out
}

fn param_sig(p: &comp_compiler::Param) -> String {
    match &p.kind {
        ParamKind::Number { min, max, integer } => {
            let ty = if *integer { "int" } else { "" };
            let default = p.default.map(|d| format!(" = {d}")).unwrap_or_default();
            format!("{}: {ty}{min}..{max}{default}", p.name)
        }
    }
}
