//! The REPL: one Rhai scope for the whole session, rustyline for editing (history in the
//! user's data directory, Ctrl-R search, completion, hints, multi-line input decided by
//! compiling with Rhai), `:` commands from one table, and results printed pretty.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use rhai::{Dynamic, Scope};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Context, Editor, Helper};
use serde_json::Value;

use crate::commands::script::scope_with_args;
use crate::error::Error;
use crate::host::session::Session;
use crate::host::{Host, Stop, all_docs, bulk, convert, stdlib};
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
        help: "list the functions and commands, or show one function or stdlib module (audit, audit::missing_tags)",
    },
    ReplCommand {
        name: ":dry-run",
        args: "on|off [FILE]",
        help: "record writes instead of sending them; `off` prints the plan (and writes it to FILE as a plan file)",
    },
    ReplCommand {
        name: ":load",
        args: "FILE",
        help: "run a script file in this session's scope",
    },
    ReplCommand {
        name: ":vars",
        args: "",
        help: "list the variables, functions and imported modules of this session",
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
    /// Functions the session defined.
    functions: Vec<String>,
    /// Imported module alias -> its functions.
    modules: BTreeMap<String, Vec<String>>,
}

struct ReplHelper {
    host_names: Rc<RefCell<std::collections::BTreeSet<String>>>,
    known: Rc<RefCell<Known>>,
    history: HistoryHinter,
    colour: bool,
}

/// The identifier that ends `text` (letters, digits, `_`), and where it starts.
fn trailing_word(text: &str) -> (usize, &str) {
    let start = text
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + c_len(text, i));
    (start, &text[start..])
}

/// The length in bytes of the character at byte `i` of `text`.
fn c_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

/// The variable an expression before a `.` starts from: `x` in `x`, `x[0]` or `x[i][1]`.
fn base_variable(head: &str) -> Option<&str> {
    let mut head = head;
    while let Some(stripped) = head.strip_suffix(']') {
        let open = stripped.rfind('[')?;
        head = &stripped[..open];
    }
    let (_, word) = trailing_word(head);
    (!word.is_empty()).then_some(word)
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
        let (start, word) = trailing_word(before);
        let known = self.known.borrow();
        // After `module::`: the functions of an imported or shipped module.
        if let Some(head) = before[..start].strip_suffix("::") {
            let (_, module) = trailing_word(head);
            let names = known
                .modules
                .get(module)
                .cloned()
                .or_else(|| {
                    stdlib::source(module)
                        .map(|text| module_functions(text).into_iter().map(|f| f.name).collect())
                })
                .unwrap_or_default();
            let mut names: Vec<String> =
                names.into_iter().filter(|f| f.starts_with(word)).collect();
            names.dedup();
            return Ok((start, names.iter().map(|f| pair(f)).collect()));
        }
        // After `var.` or `var[0].`: the fields of that variable's map (or first item).
        if let Some(head) = before[..start].strip_suffix('.') {
            let fields = base_variable(head)
                .and_then(|v| known.vars.get(v))
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
        cands.extend(known.functions.iter().cloned());
        cands.extend(known.modules.keys().cloned());
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
                let params: Vec<String> = doc
                    .params
                    .iter()
                    .map(|p| p.replace("&str", "String"))
                    .collect();
                return Some(format!("{})", params.join(", ")));
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

// Each line is accepted as typed; the loop decides whether a block needs more lines and
// asks for them with the continuation prompt.
impl Validator for ReplHelper {
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(ValidationResult::Valid(None))
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

/// The prompt of a line that continues an unfinished block.
pub const CONTINUATION_PROMPT: &str = "  ...> ";

/// Runs the REPL until `:quit` or Ctrl-D.
/// With `plan_out`, the plan of a dry-run still on at the end is also written there.
pub fn run(
    host: &Host,
    banner: &str,
    plan_out: Option<&std::path::Path>,
) -> Result<ExitCode, Error> {
    let colour = std::io::stdout().is_terminal();
    host.state().completing.set(true);
    let known = Rc::new(RefCell::new(Known::default()));
    let engine = host.engine();
    let helper = ReplHelper {
        host_names: Rc::new(RefCell::new(host.state().seen.borrow().clone())),
        known: known.clone(),
        history: HistoryHinter::new(),
        colour,
    };
    let names = helper.host_names.clone();
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .completion_type(CompletionType::List)
        .completion_show_all_if_ambiguous(true)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(helper));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("{banner}");
    let mut scope = scope_with_args(&[]);
    let mut session = Session::new(host);
    // The lines of a block typed so far, while it is unfinished.
    let mut pending = String::new();
    loop {
        let prompt = if !pending.is_empty() {
            CONTINUATION_PROMPT
        } else if host.dry_run() {
            "azid (dry-run)> "
        } else {
            "azid> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if pending.is_empty() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    if line.trim_start().starts_with(':') {
                        remember(&mut editor, history.as_deref(), &line);
                        let width = width(&mut editor);
                        if !command(host, &mut session, &mut scope, line.trim(), colour, width) {
                            break;
                        }
                        refresh(host, &session, &scope, &names, &known);
                        continue;
                    }
                } else {
                    pending.push('\n');
                }
                pending.push_str(&line);
                if needs_more(&engine, &pending) {
                    continue;
                }
                let entry = std::mem::take(&mut pending);
                remember(&mut editor, history.as_deref(), &entry);
                let width = width(&mut editor);
                let result = evaluate(host, &mut session, &mut scope, "<repl>", &entry);
                show(result, colour, width);
                refresh(host, &session, &scope, &names, &known);
            }
            // Ctrl-C drops the line, or the whole unfinished block, being typed.
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if host.dry_run() {
        let plan = host.take_plan();
        print!("{plan}");
        if let Some(path) = plan_out {
            crate::commands::script::write_plan(host, &plan, path, repl_source())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a plan file made in the REPL says produced it.
fn repl_source() -> crate::plan::file::Source {
    crate::plan::file::Source {
        command: "repl".into(),
        script: None,
        args: Vec::new(),
    }
}

/// Adds an entry to the history and saves it.
fn remember(editor: &mut Editor<ReplHelper, DefaultHistory>, path: Option<&Path>, entry: &str) {
    let _ = editor.add_history_entry(entry);
    if let Some(path) = path {
        save(editor, path);
    }
}

/// The terminal's width in columns, when stdout is one.
fn width(editor: &mut Editor<ReplHelper, DefaultHistory>) -> Option<usize> {
    editor.dimensions().map(|(w, _)| usize::from(w))
}

/// What completion offers, read again after an entry ran.
fn refresh(
    host: &Host,
    session: &Session,
    scope: &Scope<'_>,
    names: &RefCell<std::collections::BTreeSet<String>>,
    known: &RefCell<Known>,
) {
    *names.borrow_mut() = host.state().seen.borrow().clone();
    let mut next = snapshot(scope);
    next.functions = session.functions().into_iter().map(|f| f.name).collect();
    next.functions.dedup();
    next.modules = session.modules().into_iter().collect();
    *known.borrow_mut() = next;
}

/// Runs an entry; when Ctrl-C cut it short, says what was done and keeps the results of an
/// array call it interrupted in `last_results`.
fn evaluate(
    host: &Host,
    session: &mut Session,
    scope: &mut Scope<'static>,
    name: &str,
    text: &str,
) -> Result<Dynamic, Stop> {
    let before = host.done();
    host.state().cut_short.take();
    let result = host.run_in(session, scope, name, text);
    // An entry whose last step was the interrupted call ends without another operation
    // to stop at; it was cut short all the same.
    let cut = matches!(result, Err(Stop::Interrupted))
        || host
            .interrupt_flag()
            .load(std::sync::atomic::Ordering::SeqCst);
    if cut {
        let after = host.done();
        let done = crate::host::Done {
            created: after.created.saturating_sub(before.created),
            updated: after.updated.saturating_sub(before.updated),
            deleted: after.deleted.saturating_sub(before.deleted),
            not_started: after.not_started.saturating_sub(before.not_started),
        };
        eprintln!("{}", bulk::interruption_report(done));
        if let Some(results) = host.state().cut_short.take() {
            scope.set_value("last_results", results);
            eprintln!("the results of the interrupted call are in last_results");
        }
    }
    result
}

fn save(editor: &mut Editor<ReplHelper, DefaultHistory>, path: &Path) {
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
fn command(
    host: &Host,
    session: &mut Session,
    scope: &mut Scope<'static>,
    line: &str,
    colour: bool,
    width: Option<usize>,
) -> bool {
    let (name, arg) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(n, a)| (n, a.trim()));
    match name {
        ":quit" | ":q" | ":exit" => return false,
        ":help" if arg.is_empty() => print!("{}", help_all()),
        ":help" => match help_one(arg) {
            Some(text) => print!("{text}"),
            None => eprintln!("no function, module or command named '{arg}'; :help lists them"),
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
            // `:dry-run off FILE` also writes the plan as a plan file.
            _ if arg.starts_with("off ") && host.dry_run() => {
                let plan = host.take_plan();
                print!("{plan}");
                let path = std::path::Path::new(arg["off ".len()..].trim());
                if let Err(e) =
                    crate::commands::script::write_plan(host, &plan, path, repl_source())
                {
                    eprintln!("ERROR: {}", crate::error::render(&e));
                }
                host.set_dry_run(false);
            }
            _ => eprintln!(":dry-run takes on, off, or off FILE (to write the plan file)"),
        },
        ":load" if !arg.is_empty() => match std::fs::read_to_string(arg) {
            Ok(text) => show(evaluate(host, session, scope, arg, &text), colour, width),
            Err(e) => eprintln!("could not read {arg}: {e}"),
        },
        ":vars" => print!("{}", vars(session, scope)),
        _ => eprintln!("unknown command '{line}'; :help lists the commands"),
    }
    true
}

/// What `:vars` prints: variables, then the session's functions and imported modules.
fn vars(session: &Session, scope: &Scope<'_>) -> String {
    let mut out = String::new();
    for (var, constant, value) in scope.iter_raw() {
        let kind = if constant { "const" } else { "let" };
        let mut text = value.to_string();
        if text.chars().count() > 60 {
            text = format!("{}…", text.chars().take(60).collect::<String>());
        }
        out.push_str(&format!(
            "{kind} {var}: {} = {}\n",
            value.type_name(),
            output::printable(&text)
        ));
    }
    for f in session.functions() {
        out.push_str(&format!("fn {}({})\n", f.name, f.params.join(", ")));
    }
    for (alias, functions) in session.modules() {
        out.push_str(&format!(
            "import {alias}: {} functions ({})\n",
            functions.len(),
            functions.join(", ")
        ));
    }
    out
}

/// The list `:help` prints.
pub fn help_all() -> String {
    let mut out = String::from("Functions (:help NAME for details and an example):\n");
    for doc in all_docs() {
        out.push_str(&format!("  {}\n", doc.signature()));
    }
    out.push_str("Constants:\n  ARGS: Array  the script's arguments\n");
    out.push_str("Modules (import \"NAME\" as NAME; :help NAME lists its functions):\n");
    for (name, _) in stdlib::MODULES {
        out.push_str(&format!("  {name}\n"));
    }
    out.push_str("Commands:\n");
    for c in COMMANDS {
        out.push_str(&format!("  {:<10} {:<8} {}\n", c.name, c.args, c.help));
    }
    out
}

/// A public function of a stdlib module: name, parameters, doc comment.
struct ModuleFn {
    name: String,
    params: Vec<String>,
    doc: String,
}

/// The public functions of a module's source, in the order they are defined, each with the
/// `///` lines above it.
fn module_functions(text: &str) -> Vec<ModuleFn> {
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix("///") {
            doc.push(comment.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix("fn ")
            && let Some((name, rest)) = rest.split_once('(')
            && let Some((params, _)) = rest.split_once(')')
        {
            out.push(ModuleFn {
                name: name.trim().to_string(),
                params: params
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
                doc: doc.join("\n    "),
            });
        }
        doc.clear();
    }
    out
}

/// `:help NAME`: every overload of a function, a stdlib module's functions, a module's
/// function (`audit::missing_tags`), or a command.
pub fn help_one(name: &str) -> Option<String> {
    let name = name.trim();
    if let Some(c) = COMMANDS
        .iter()
        .find(|c| c.name == name || c.name.trim_start_matches(':') == name)
    {
        return Some(format!("{} {}  {}\n", c.name, c.args, c.help));
    }
    if let Some((module, function)) = name.split_once("::") {
        let text = stdlib::source(module)?;
        let found: String = module_functions(text)
            .iter()
            .filter(|f| f.name == function)
            .map(|f| {
                format!(
                    "{module}::{}({})\n    {}\n",
                    f.name,
                    f.params.join(", "),
                    f.doc
                )
            })
            .collect();
        return (!found.is_empty()).then_some(found);
    }
    if let Some(text) = stdlib::source(name) {
        let mut out = format!(
            "Module {name} (import \"{name}\" as {name}; :help {name}::FUNCTION for details):\n"
        );
        for f in module_functions(text) {
            out.push_str(&format!("  {name}::{}({})\n", f.name, f.params.join(", ")));
        }
        return Some(out);
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

/// Prints a result: identities as a table that fits the terminal, other arrays of maps as
/// tables, maps as JSON, scalars as text.
fn show(result: Result<Dynamic, Stop>, colour: bool, width: Option<usize>) {
    match result {
        Ok(value) if value.is_unit() => {}
        Ok(value) => match convert::to_json(&value) {
            Ok(Value::String(s)) => println!("{s}"),
            Ok(Value::Array(items))
                if !items.is_empty() && items.iter().all(crate::output::is_identity) =>
            {
                print!("{}", crate::output::identity_table(&items, width));
            }
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
        // The report was printed when the entry stopped.
        Err(Stop::Interrupted) => {}
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
    Known {
        vars,
        ..Known::default()
    }
}

impl From<ReadlineError> for Error {
    fn from(e: ReadlineError) -> Self {
        Error::Io {
            context: "the line editor failed",
            source: std::io::Error::other(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_modules_list_their_functions() {
        for (name, text) in stdlib::MODULES {
            let functions = module_functions(text);
            assert!(!functions.is_empty(), "{name}");
            assert!(functions.iter().all(|f| !f.doc.is_empty()), "{name}");
        }
        let help = help_one("audit::missing_tags").expect("found");
        assert!(
            help.starts_with("audit::missing_tags(identities, required)\n"),
            "{help}"
        );
    }
}
