//! The one error renderer of `run`, `eval` and the REPL: `file:line:col`, the source line
//! with a caret under the position, and `(Code) message`.

use rhai::{EvalAltResult, Position};

/// Where a script came from, to show its lines.
pub struct Source<'a> {
    /// Name shown before the position (`demo.rhai`, `<eval>`, `<repl>`).
    pub name: &'a str,
    /// The text.
    pub text: &'a str,
}

/// Renders an uncaught error; `module_source` finds the text of an imported module by path.
pub fn render(
    error: &EvalAltResult,
    source: &Source<'_>,
    module_source: &dyn Fn(&str) -> Option<String>,
) -> String {
    // Errors raised inside an imported module point into that module's text.
    if let EvalAltResult::ErrorInModule(path, inner, _) = error
        && let Some(text) = module_source(path)
    {
        return render(
            inner,
            &Source {
                name: path,
                text: &text,
            },
            module_source,
        );
    }
    let (inner, called_from, elsewhere) = innermost(error, source.name);
    let pos = if inner.position().is_none() || elsewhere {
        called_from
    } else {
        inner.position()
    };
    let message = message(inner);
    match (pos.line(), pos.position()) {
        (Some(line), col) => {
            let col = col.unwrap_or(1).max(1);
            let text = source.text.lines().nth(line - 1).unwrap_or("");
            let gutter = line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_pad: String = text
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            format!(
                "{}:{line}:{col}: {message}\n{gutter} | {text}\n{pad} | {caret_pad}^\n",
                source.name
            )
        }
        _ => format!("{}: {message}\n", source.name),
    }
}

/// The error inside calls of script-defined functions, with the outermost call site as a
/// fallback position. When the failing function lives in an imported module (a stdlib
/// module such as `cleanup`), its positions point into another text: the call site in this
/// one is returned instead, flagged by the `true`.
fn innermost<'a>(error: &'a EvalAltResult, name: &str) -> (&'a EvalAltResult, Position, bool) {
    let mut current = error;
    let mut pos = error.position();
    let mut elsewhere = false;
    while let EvalAltResult::ErrorInFunctionCall(_, fn_source, inner, call) = current {
        if !elsewhere && !fn_source.is_empty() && fn_source != name {
            elsewhere = true;
            pos = *call;
        }
        if pos.is_none() {
            pos = *call;
        }
        current = inner;
    }
    (current, pos, elsewhere)
}

/// `(Code) message` for raised ARM errors (`#{code, message}` maps), the text otherwise.
pub fn message(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => match value.read_lock::<rhai::Map>() {
            Some(map) if map.contains_key("code") && map.contains_key("message") => {
                format!("({}) {}", map["code"], map["message"])
            }
            _ => format!("(ScriptError) {value}"),
        },
        EvalAltResult::ErrorParsing(kind, _) => format!("(SyntaxError) {kind}"),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "(LimitExceeded) the script ran too many operations (see --max-operations)".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "(LimitExceeded) calls nest too deeply (see --max-call-depth)".into()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("(LimitExceeded) {what} is too large (see the --max-*-size options)")
        }
        EvalAltResult::ErrorTerminated(_, _) => "(Interrupted) the script was stopped".into(),
        other => {
            let text = other.to_string();
            // Rhai appends " (line l, position p)"; the position is shown above instead.
            let text = text
                .rsplit_once(" (line ")
                .map_or(text.as_str(), |(head, _)| head)
                .to_string();
            format!("(ScriptError) {text}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_column() {
        let engine = rhai::Engine::new();
        let text = "let a = 1;\nlet b = a + undefined_thing;\n";
        let err = engine.eval::<rhai::Dynamic>(text).unwrap_err();
        let out = render(
            &err,
            &Source {
                name: "t.rhai",
                text,
            },
            &|_| None,
        );
        assert_eq!(
            out,
            "t.rhai:2:13: (ScriptError) Variable not found: undefined_thing\n2 | let b = a + undefined_thing;\n  |             ^\n"
        );
    }

    #[test]
    fn raised_maps_show_code_and_message() {
        let engine = rhai::Engine::new();
        let text = "throw #{code: \"ResourceNotFound\", message: \"gone\", status: 404};";
        let err = engine.eval::<rhai::Dynamic>(text).unwrap_err();
        let out = render(&err, &Source { name: "x", text }, &|_| None);
        assert_eq!(
            out,
            "x:1:1: (ResourceNotFound) gone\n1 | throw #{code: \"ResourceNotFound\", message: \"gone\", status: 404};\n  | ^\n"
        );
    }
}
