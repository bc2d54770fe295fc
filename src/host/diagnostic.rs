//! The one error renderer of `run`, `eval` and the REPL: `file:line:col`, the source line
//! with a caret under the position, and `(Code) message`.

use rhai::{EvalAltResult, Position};

use super::api::FnDoc;

/// Rhai's names of Rust types as a script writer knows them.
pub fn plain_types(text: &str) -> String {
    let mut out = text
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("&mut ", "")
        .replace("&str", "string")
        .replace("rhai::Map", "map")
        .replace("rhai::Array", "array")
        .replace("rhai::Dynamic", "any value")
        .replace("alloc::string::String", "string");
    for (rust, plain) in [
        ("i64", "int"),
        ("f64", "float"),
        ("INT", "int"),
        ("FLOAT", "float"),
    ] {
        out = regex::Regex::new(&format!(r"\b{rust}\b"))
            .map(|re| re.replace_all(&out, plain).into_owned())
            .unwrap_or(out);
    }
    out
}

/// What to say for Rhai's `Function not found: name (types)`: the function's real
/// signatures and the nearest function that takes such arguments, or the nearest name
/// when there is no such function.
pub fn no_such_function(signature: &str) -> String {
    let (name, args) = match signature.split_once(" (") {
        Some((name, rest)) => (name.trim(), rest.strip_suffix(')').unwrap_or(rest)),
        None => (signature.trim(), ""),
    };
    let args: Vec<String> = if args.trim().is_empty() {
        Vec::new()
    } else {
        args.split(", ").map(plain_types).collect()
    };
    let docs: Vec<&FnDoc> = super::all_docs().collect();
    let overloads: Vec<&&FnDoc> = docs.iter().filter(|d| d.name == name).collect();
    if overloads.is_empty() {
        let nearest = docs
            .iter()
            .map(|d| (strsim::damerau_levenshtein(name, d.name), d.name))
            .filter(|(distance, _)| *distance <= 2.max(name.len() / 3))
            .min();
        return match nearest {
            Some((_, near)) => format!("there is no function {name}; did you mean {near}?"),
            None => format!("there is no function {name}({})", args.join(", ")),
        };
    }
    let mut shapes: Vec<String> = overloads
        .iter()
        .map(|d| format!("({})", param_names(d).join(", ")))
        .collect();
    shapes.dedup();
    let expects = match shapes.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let mut out = format!("{name} expects {expects}");
    // A function of a near name that takes these arguments.
    let near = docs
        .iter()
        .filter(|d| d.name != name && accepts(d, &args))
        .map(|d| (strsim::damerau_levenshtein(name, d.name), *d))
        .filter(|(distance, _)| *distance <= name.len() / 2)
        .min_by_key(|(distance, d)| (*distance, d.name));
    if let Some((_, d)) = near {
        let call: Vec<String> = d
            .params
            .iter()
            .map(|p| match p.split_once(": ") {
                Some((n, "&str")) => format!("\"{n}\""),
                Some((n, _)) => n.to_string(),
                None => p.to_string(),
            })
            .collect();
        out.push_str(&format!("; did you mean {}({})?", d.name, call.join(", ")));
    }
    out
}

/// A method called on `()` read from a field a map lacks (`x.nosuch.len()`): says so,
/// instead of naming a function that does not take `()`; with the fields the map has when
/// `keys_of` can read the map from the variable path before the field.
fn missing_field(signature: &str, line: &str, keys_of: &KeysOf<'_>) -> Option<String> {
    let (method, args) = signature.split_once(" (")?;
    if !args.starts_with("()") {
        return None;
    }
    let method = method.trim();
    let pattern = format!(
        r"(?:([A-Za-z_][A-Za-z0-9_]*(?:\s*(?:\.\s*[A-Za-z_][A-Za-z0-9_]*|\[\s*[0-9]+\s*\]))*)\s*)?\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*{}\s*\(",
        regex::escape(method)
    );
    let found = regex::Regex::new(&pattern).ok()?.captures(line)?;
    let field = found.get(2)?.as_str();
    // A path that starts after `.`, `)` or `]` is a field of some other value, not a variable.
    let keys = found.get(1).and_then(|base| {
        let before = line[..base.start()].trim_end().chars().last();
        match before {
            Some('.' | ')' | ']') => None,
            _ => keys_of(base.as_str()),
        }
    });
    Some(match keys {
        Some(keys) if !keys.is_empty() => format!(
            "(ScriptError) the map has no field '{field}'; it has: {} (reading it gave (), so {method}() cannot be called on it)",
            keys.join(", ")
        ),
        Some(_) => format!(
            "(ScriptError) the map has no field '{field}'; it has none (reading it gave (), so {method}() cannot be called on it)"
        ),
        None => format!(
            "(ScriptError) the map has no field '{field}' (reading it gave ()), so {method}() cannot be called on it"
        ),
    })
}

/// Reads the keys of the map a variable path (`x`, `x.tags`, `x[0]`) names, where it can.
pub type KeysOf<'a> = dyn Fn(&str) -> Option<Vec<String>> + 'a;

/// The keys of the map that `path` (a variable, then `.field` and `[index]` steps) names in
/// `scope`; `None` when it names no map. Nothing is evaluated: the path is walked.
pub fn map_keys_in(scope: &rhai::Scope<'_>, path: &str) -> Option<Vec<String>> {
    let steps =
        regex::Regex::new(r"\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*([0-9]+)\s*\])").ok()?;
    let root_end = path
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    let mut value: rhai::Dynamic = scope.get(&path[..root_end])?.clone().flatten();
    for step in steps.captures_iter(&path[root_end..]) {
        value = if let Some(field) = step.get(1) {
            value
                .read_lock::<rhai::Map>()?
                .get(field.as_str())?
                .clone()
                .flatten()
        } else {
            let index: usize = step.get(2)?.as_str().parse().ok()?;
            value
                .read_lock::<rhai::Array>()?
                .get(index)?
                .clone()
                .flatten()
        };
    }
    let map = value.read_lock::<rhai::Map>()?;
    Some(map.keys().map(|k| k.to_string()).collect())
}

fn param_names(doc: &FnDoc) -> Vec<&str> {
    doc.params
        .iter()
        .map(|p| p.split_once(':').map_or(*p, |(n, _)| n.trim()))
        .collect()
}

/// Whether a function's parameters take arguments of these (plain) types.
fn accepts(doc: &FnDoc, args: &[String]) -> bool {
    doc.params.len() == args.len()
        && doc.params.iter().zip(args).all(|(p, a)| {
            let ty = p.split_once(": ").map_or("", |(_, t)| t);
            match ty {
                "&str" | "String" => a == "string",
                "i64" => a == "int",
                "bool" => a == "bool",
                "Map" => a == "map",
                "Array" => a == "array",
                _ => true,
            }
        })
}

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
    render_in(error, source, module_source, &|_| None)
}

/// As [`render`], with `keys_of` reading the maps of the script's top-level variables, so
/// that a field read from a map that lacks it can name the fields the map has.
pub fn render_in(
    error: &EvalAltResult,
    source: &Source<'_>,
    module_source: &dyn Fn(&str) -> Option<String>,
    keys_of: &KeysOf<'_>,
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
    let line_text = pos
        .line()
        .and_then(|l| source.text.lines().nth(l.saturating_sub(1)));
    let message = match (inner, line_text) {
        (EvalAltResult::ErrorFunctionNotFound(signature, _), Some(line)) => {
            // Variables inside a called function are not the top level's: read none there.
            let top_level = std::ptr::eq(inner, error);
            let none = |_: &str| None;
            let keys: &KeysOf<'_> = if top_level { keys_of } else { &none };
            missing_field(signature, line, keys).unwrap_or_else(|| message(inner))
        }
        _ => message(inner),
    };
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
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("(ScriptError) {}", no_such_function(signature))
        }
        other => {
            let text = other.to_string();
            // Rhai appends " (line l, position p)"; the position is shown above instead.
            let text = text
                .rsplit_once(" (line ")
                .map_or(text.as_str(), |(head, _)| head)
                .to_string();
            format!("(ScriptError) {}", plain_types(&text))
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
    fn a_wrong_call_names_the_signatures_and_the_nearest_function() {
        assert_eq!(
            no_such_function("identity_show (&str | ImmutableString | String)"),
            "identity_show expects (rg, name); did you mean identity_list(\"rg\")?"
        );
        assert_eq!(
            no_such_function("identiy_list ()"),
            "there is no function identiy_list; did you mean identity_list?"
        );
        assert_eq!(
            plain_types("Data type incorrect: i64 (expecting &str | ImmutableString | String)"),
            "Data type incorrect: int (expecting string)"
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

    #[test]
    fn a_missing_field_lists_the_fields_of_a_variable_only() {
        let keys = |path: &str| (path == "a" || path == "x.tags").then(|| vec!["k".to_string()]);
        let listed = missing_field("len (())", "x.tags.nosuch.len()", &keys);
        assert!(listed.is_some_and(|m| m.contains("no field 'nosuch'; it has: k (")));
        // `a` here is a field of what foo() returned, not the variable `a`.
        let unlisted = missing_field("len (())", "foo().a.nosuch.len()", &keys);
        assert!(unlisted.is_some_and(|m| m.contains("no field 'nosuch' (reading it gave ())")));
    }
}
