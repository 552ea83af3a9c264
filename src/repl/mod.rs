//! `comp repl`: explore compositions interactively. Interactive with rustyline on a terminal;
//! with stdin not a terminal it reads lines from stdin and behaves the same, without prompts or
//! colour, so sessions can be scripted and tested.

pub mod editor;
pub mod scatter;
pub mod session;

use crate::pipeline::MAX_SOURCE_BYTES;
use crate::Failure;
use editor::{ReplHelper, Vocabulary};
use rustyline::error::ReadlineError;
use session::Session;
use std::io::Read;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Args)]
pub struct Args {
    /// Start from this .comp file (as `:load FILE`)
    file: Option<String>,
    /// Where `:run` samples: `cpu`, `cuda` or `cuda:N`
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let models = comp_models::infos();
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let color = interactive && std::env::var_os("NO_COLOR").is_none();
    let runner = crate::cmd::run::Runner::new(&args.device)?;
    let mut session = Session::new(models, color, runner);
    let mut had_error = false;
    if let Some(file) = &args.file {
        let reply = session.handle(&format!(":load {file}"));
        print!("{}", reply.text);
        had_error |= reply.error;
    }
    if interactive {
        interactive_loop(&mut session)?;
        Ok(())
    } else {
        had_error |= scripted_loop(&mut session);
        if had_error {
            Err(Failure::Runtime(String::new()))
        } else {
            Ok(())
        }
    }
}

fn vocabulary(session: &Session) -> Vocabulary {
    let model = session.model();
    Vocabulary {
        concepts: model.map(|m| m.concepts.iter().map(|c| c.name.clone()).collect()).unwrap_or_default(),
        names: session.names(),
        models: session.models().iter().map(|m| m.name.clone()).collect(),
        settings: model.map(|m| m.extra_settings.iter().map(|p| p.name.clone()).collect()).unwrap_or_default(),
    }
}

fn history_path() -> Option<std::path::PathBuf> {
    let dir = dirs::cache_dir()?.join("comp");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history.txt"))
}

fn interactive_loop(session: &mut Session) -> Result<(), Failure> {
    let config = rustyline::Config::builder().auto_add_history(true).history_ignore_space(true).build();
    let mut rl: rustyline::Editor<ReplHelper, rustyline::history::DefaultHistory> =
        rustyline::Editor::with_config(config).map_err(|e| Failure::Runtime(format!("cannot start the line editor: {e}")))?;
    rl.set_helper(Some(ReplHelper::new(vocabulary(session))));
    // Ctrl-C while a `:run` samples stops it. At the prompt the editor reads Ctrl-C as a key
    // (it still just clears the line). Installed after the editor, which sets a SIGINT handler
    // of its own when it is created.
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    if ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed)).is_ok() {
        session.set_cancel(&INTERRUPTED);
    }
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h); // a first session has none
    }
    println!("comp {} — type an expression such as `ring AND bar`, `:help` for commands, Ctrl-D to leave", env!("CARGO_PKG_VERSION"));
    // Input continues over lines while parentheses are open, with a continuation prompt.
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "comp> " } else { "  ... " };
        match rl.readline(prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if editor::open_parens(&pending) > 0 {
                    continue;
                }
                let reply = session.handle(&std::mem::take(&mut pending));
                print!("{}", reply.text);
                let _ = std::io::stdout().flush();
                if reply.quit {
                    break;
                }
                if let Some(h) = rl.helper_mut() {
                    h.vocabulary = vocabulary(session);
                }
            }
            Err(ReadlineError::Interrupted) => pending.clear(), // Ctrl-C clears the input
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::Runtime(format!("reading input: {e}"))),
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(())
}

/// Reads stdin line by line (joining lines while parentheses are open); returns whether any
/// input failed.
fn scripted_loop(session: &mut Session) -> bool {
    let mut stdin = std::io::stdin().lock();
    let mut pending = String::new();
    let mut had_error = false;
    loop {
        // One line at a time, each at most MAX_SOURCE_BYTES: `comp repl < /dev/zero` stops.
        let mut bytes = Vec::new();
        match (&mut stdin).take(MAX_SOURCE_BYTES + 1).read_until(b'\n', &mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(_) if bytes.len() as u64 > MAX_SOURCE_BYTES => {
                println!("error: an input line is longer than {} MiB; stopping", MAX_SOURCE_BYTES >> 20);
                return true;
            }
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&bytes);
        pending.push_str(line.trim_end_matches(['\n', '\r']));
        pending.push('\n');
        if pending.len() as u64 > MAX_SOURCE_BYTES {
            println!("error: the input is longer than {} MiB; stopping", MAX_SOURCE_BYTES >> 20);
            return true;
        }
        if editor::open_parens(&pending) > 0 {
            continue;
        }
        let reply = session.handle(&pending);
        pending.clear();
        print!("{}", reply.text);
        had_error |= reply.error;
        if reply.quit {
            return had_error;
        }
    }
    if !pending.trim().is_empty() {
        let reply = session.handle(&pending);
        print!("{}", reply.text);
        had_error |= reply.error;
    }
    had_error
}
