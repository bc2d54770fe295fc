//! The REPL: one Rhai scope for the whole session, rustyline for editing (history in the
//! user's data directory, Ctrl-R search, completion, hints, multi-line input decided by
//! compiling with Rhai), `:` commands from one table, and results printed pretty.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use rhai::{Dynamic, Scope};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use serde_json::Value;

use crate::commands::script::scope_with_args;
use crate::error::Error;
use crate::host::{Host, Stop, all_docs, convert};
use crate::output::{self, Format};

/// A `:` command: name, argument, what it does.
pub struct ReplCommand {
    /// The command, with its colon.
    pub name: &'static str,
    /// Its argument, if any.
    pub args: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// Every `:` command; help and completion read this table.
pub const COMMANDS: &[ReplCommand] = &[
    ReplCommand {
        name: ":help",
        args: "[NAME]",
        help: "list the functions and commands, or show one function",
    },
    ReplCommand {
        name: ":dry-run",
        args: "on|off",
        help: "record writes instead of sending them; `off` prints the plan",
    },
    ReplCommand {
        name: ":load",
        args: "FILE",
        help: "run a script file in this session's scope",
    },
    ReplCommand {
        name: ":vars",
        args: "",
        help: "list the variables in scope",
    },
    ReplCommand {
        name: ":quit",
        args: "",
        help: "leave (Ctrl-D does too)",
    },
];

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "throw", "try", "catch", "import", "export", "as", "true", "false", "print", "debug",
    "switch", "do", "until",
];

/// What completion knows besides the fixed tables; refreshed after every line.
#[derive(Default)]
struct Known {
    /// Variable name -> the field names of its map (or of its array's first map).
    vars: BTreeMap<String, Vec<String>>,
}

struct ReplHelper {
    host_names: Rc<RefCell<std::collections::BTreeSet<String>>>,
    known: Rc<RefCell<Known>>,
    engine_check: Box<dyn Fn(&str) -> bool>,
    history: HistoryHinter,
    colour: bool,
}

impl Helper for ReplHelper {}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let pair = |s: &str| Pair {
            display: s.to_string(),
            replacement: s.to_string(),
        };
        if before.trim_start().starts_with(':') && !before.contains(' ') {
            let start = before.len() - before.trim_start().len();
            let cands = COMMANDS
                .iter()
                .filter(|c| c.name.starts_with(before.trim_start()))
                .map(|c| pair(c.name))
                .collect();
            return Ok((start, cands));
        }
        // Inside a string literal: names of groups and identities seen in this session.
        if before.matches('"').count() % 2 == 1 {
            let start = before.rfind('"').map_or(0, |i| i + 1);
            let prefix = &before[start..];
            let names = self.host_names.borrow();
            return Ok((
                start,
                names
                    .iter()
                    .filter(|n| n.starts_with(prefix))
                    .map(|n| pair(n))
                    .collect(),
            ));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let known = self.known.borrow();
        // After `var.`: the fields of that variable's map.
        if start > 0 && before[..start].ends_with('.') {
            let head = &before[..start - 1];
            let var_start = head
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let fields = known
                .vars
                .get(&head[var_start..])
                .cloned()
                .unwrap_or_default();
            return Ok((
                start,
                fields
                    .iter()
                    .filter(|f| f.starts_with(word))
                    .map(|f| pair(f))
                    .collect(),
            ));
        }
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let mut cands: Vec<String> = all_docs().map(|d| d.name.to_string()).collect();
        cands.extend(known.vars.keys().cloned());
        cands.extend(KEYWORDS.iter().map(|k| k.to_string()));
        cands.sort();
        cands.dedup();
        Ok((
            start,
            cands
                .iter()
                .filter(|c| c.starts_with(word))
                .map(|c| pair(c))
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        // Right after `name(`: the parameters of its first overload.
        if pos == line.len() && line.ends_with('(') {
            let head = &line[..line.len() - 1];
            let start = head
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            if let Some(doc) = all_docs().find(|d| d.name == &head[start..]) {
                return Some(format!("{})", doc.params.join(", ")));
            }
        }
        self.history.hint(line, pos, ctx)
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.colour {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || (self.engine_check)(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

/// Whether Rhai would need more text to make sense of `input` (an unclosed block, call,
/// array or string), as opposed to input that is complete or simply wrong.
fn needs_more(engine: &rhai::Engine, input: &str) -> bool {
    match engine.compile(input) {
        Ok(_) => false,
        Err(e) => {
            use rhai::ParseErrorType as P;
            let at_end = e
                .position()
                .line()
                .is_none_or(|l| l >= input.lines().count().max(1));
            matches!(
                e.err_type(),
                P::UnexpectedEOF | P::MissingToken(..) | P::UnknownOperator(..)
            ) && at_end
                || matches!(
                    e.err_type(),
                    P::BadInput(rhai::LexError::UnterminatedString)
                )
        }
    }
}

/// Where the REPL keeps its history.
pub fn history_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("azid").join("history.txt"))
}

/// Runs the REPL until `:quit` or Ctrl-D.
pub fn run(host: &Host, banner: &str) -> Result<ExitCode, Error> {
    let colour = std::io::stdout().is_terminal();
    let known = Rc::new(RefCell::new(Known::default()));
    let engine = host.engine();
    let check = move |input: &str| !needs_more(&engine, input);
    let helper = ReplHelper {
        host_names: Rc::new(RefCell::new(host.state().seen.borrow().clone())),
        known: known.clone(),
        engine_check: Box::new(check),
        history: HistoryHinter::new(),
        colour,
    };
    let names = helper.host_names.clone();
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(helper));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("{banner}");
    let mut scope = scope_with_args(&[]);
    loop {
        let prompt = if host.dry_run() {
            "azid (dry-run)> "
        } else {
            "azid> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                if let Some(path) = &history {
                    save(&mut editor, path);
                }
                if line.trim_start().starts_with(':') {
                    if !command(host, &mut scope, line.trim(), colour) {
                        break;
                    }
                } else {
                    show(host.run(&mut scope, "<repl>", &line), colour);
                }
                *names.borrow_mut() = host.state().seen.borrow().clone();
                *known.borrow_mut() = snapshot(&scope);
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if host.dry_run() {
        print!("{}", host.take_plan());
    }
    Ok(ExitCode::SUCCESS)
}

fn save(editor: &mut Editor<ReplHelper, DefaultHistory>, path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(path) {
        eprintln!(
            "warning: could not save the history to {}: {e}",
            path.display()
        );
    }
}

/// Runs a `:` command; false means leave.
fn command(host: &Host, scope: &mut Scope<'static>, line: &str, colour: bool) -> bool {
    let (name, arg) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(n, a)| (n, a.trim()));
    match name {
        ":quit" | ":q" | ":exit" => return false,
        ":help" if arg.is_empty() => print!("{}", help_all()),
        ":help" => match help_one(arg) {
            Some(text) => print!("{text}"),
            None => eprintln!("no function or command named '{arg}'; :help lists them"),
        },
        ":dry-run" => match arg {
            "on" => {
                host.set_dry_run(true);
                println!("dry-run on: writes are recorded, not sent");
            }
            "off" => {
                print!("{}", host.take_plan());
                host.set_dry_run(false);
            }
            _ => eprintln!(":dry-run takes on or off"),
        },
        ":load" if !arg.is_empty() => match std::fs::read_to_string(arg) {
            Ok(text) => show(host.run(scope, arg, &text), colour),
            Err(e) => eprintln!("could not read {arg}: {e}"),
        },
        ":vars" => {
            for (var, constant, value) in scope.iter_raw() {
                let kind = if constant { "const" } else { "let" };
                let mut text = value.to_string();
                if text.len() > 60 {
                    text = format!("{}…", text.chars().take(60).collect::<String>());
                }
                println!("{kind} {var}: {} = {text}", value.type_name());
            }
        }
        _ => eprintln!("unknown command '{line}'; :help lists the commands"),
    }
    true
}

/// The list `:help` prints.
pub fn help_all() -> String {
    let mut out = String::from("Functions (:help NAME for details and an example):\n");
    for doc in all_docs() {
        out.push_str(&format!("  {}\n", doc.signature()));
    }
    out.push_str("Constants:\n  ARGS: Array  the script's arguments\nCommands:\n");
    for c in COMMANDS {
        out.push_str(&format!("  {:<10} {:<8} {}\n", c.name, c.args, c.help));
    }
    out
}

/// `:help NAME`: every overload of a function, or a command.
pub fn help_one(name: &str) -> Option<String> {
    let name = name.trim();
    if let Some(c) = COMMANDS
        .iter()
        .find(|c| c.name == name || c.name.trim_start_matches(':') == name)
    {
        return Some(format!("{} {}  {}\n", c.name, c.args, c.help));
    }
    let docs: Vec<_> = all_docs().filter(|d| d.name == name).collect();
    if docs.is_empty() {
        return None;
    }
    Some(
        docs.iter()
            .map(|d| {
                format!(
                    "{}\n    {}\n    example: {}\n",
                    d.signature(),
                    d.doc,
                    d.example
                )
            })
            .collect(),
    )
}

/// Prints a result: tables for arrays of maps, JSON for maps, plain text for scalars.
fn show(result: Result<Dynamic, Stop>, colour: bool) {
    match result {
        Ok(value) if value.is_unit() => {}
        Ok(value) => match convert::to_json(&value) {
            Ok(Value::String(s)) => println!("{s}"),
            Ok(json @ Value::Array(_))
                if json
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object)) =>
            {
                print!("{}", output::table_with(&json, None));
            }
            Ok(json) => {
                let format = if colour { Format::Jsonc } else { Format::Json };
                print!(
                    "{}",
                    output::render(&json, format).unwrap_or_else(|_| format!("{value}\n"))
                );
            }
            Err(_) => println!("{value}"),
        },
        Err(Stop::Failed(rendered)) => eprint!("{rendered}"),
        Err(Stop::Interrupted) => eprintln!("interrupted"),
        Err(Stop::Exit(code)) => eprintln!("exit({code}) ignored in the REPL; :quit leaves"),
    }
}

/// The field names completion offers after `var.`.
fn snapshot(scope: &Scope<'_>) -> Known {
    let mut vars = BTreeMap::new();
    for (name, _, value) in scope.iter_raw() {
        let fields = if let Some(map) = value.read_lock::<rhai::Map>() {
            map.keys().map(|k| k.to_string()).collect()
        } else if let Some(array) = value.read_lock::<rhai::Array>() {
            array
                .first()
                .and_then(|v| {
                    v.read_lock::<rhai::Map>()
                        .map(|m| m.keys().map(|k| k.to_string()).collect())
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        vars.insert(name.to_string(), fields);
    }
    Known { vars }
}

impl From<ReadlineError> for Error {
    fn from(e: ReadlineError) -> Self {
        Error::Io {
            context: "the line editor failed",
            source: std::io::Error::other(e.to_string()),
        }
    }
}
