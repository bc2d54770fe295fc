//! Text matching for scripts: `matches(text, regex)` for naming policies and
//! `matches_glob(text, pattern)` for selections such as `ci-*`. Regular expressions are the
//! `regex` crate's (linear time, so a pattern from a policy file cannot hang a script); compiled
//! patterns are kept, since audits test the same pattern against thousands of names.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use regex::{Regex, RegexBuilder};
use rhai::{Engine, EvalAltResult};

use super::api::FnDoc;
use super::convert::arm_error;
use crate::arm::ArmError;

/// `matches(text, pattern)`.
pub const MATCHES: FnDoc = FnDoc {
    name: "matches",
    params: &["text: &str", "pattern: &str"],
    returns: "bool",
    doc: "Whether a regular expression matches somewhere in the text (anchor it with ^...$ to match the whole text).",
    example: r#"identity_list("rg").filter(|i| !i.name.matches("^[a-z][a-z0-9-]*$"))"#,
};

/// `matches_glob(text, pattern)`.
pub const MATCHES_GLOB: FnDoc = FnDoc {
    name: "matches_glob",
    params: &["text: &str", "pattern: &str"],
    returns: "bool",
    doc: "Whether the whole text matches a glob (* any run of characters, ? one character), ignoring case as ARM does for names.",
    example: r#"identity_list("rg").filter(|i| i.name.matches_glob("app-*"))"#,
};

/// Most compiled patterns kept before the cache starts again.
const CACHE_SIZE: usize = 64;

/// Compiled patterns by source text.
#[derive(Default)]
struct Cache(RefCell<HashMap<String, Regex>>);

impl Cache {
    fn get(&self, source: &str, given: &str) -> Result<Regex, ArmError> {
        if let Some(re) = self.0.borrow().get(source) {
            return Ok(re.clone());
        }
        let re = RegexBuilder::new(source)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| ArmError::invalid("pattern", given, summary(&e)))?;
        let mut cache = self.0.borrow_mut();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(source.to_string(), re.clone());
        Ok(re)
    }
}

/// The last line of the regex crate's multi-line message (the line that says what is wrong).
fn summary(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&text)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// A glob as an anchored, case-insensitive regular expression.
pub fn glob_regex(glob: &str) -> String {
    let mut out = String::from("(?is)^");
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    out
}

/// Registers `matches` and `matches_glob`.
pub fn register(engine: &mut Engine) {
    let cache = Rc::new(Cache::default());
    let c = cache.clone();
    MATCHES.registration().register_into_engine(
        engine,
        move |text: &str, pattern: &str| -> Result<bool, Box<EvalAltResult>> {
            Ok(c.get(pattern, pattern).map_err(arm_error)?.is_match(text))
        },
    );
    MATCHES_GLOB.registration().register_into_engine(
        engine,
        move |text: &str, pattern: &str| -> Result<bool, Box<EvalAltResult>> {
            let re = cache
                .get(&glob_regex(pattern), pattern)
                .map_err(arm_error)?;
            Ok(re.is_match(text))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_ignoring_case() {
        let cache = Cache::default();
        let cases = [
            ("ci-*", "ci-123", true),
            ("ci-*", "CI-123", true),
            ("ci-*", "app-ci-1", false),
            ("*-tmp", "build-tmp", true),
            ("app-?", "app-1", true),
            ("app-?", "app-12", false),
            ("a.b", "axb", false),
            ("a+b(c)", "a+b(c)", true),
        ];
        for (glob, text, expected) in cases {
            let re = cache.get(&glob_regex(glob), glob).unwrap();
            assert_eq!(re.is_match(text), expected, "{glob} {text}");
        }
    }

    #[test]
    fn a_bad_pattern_is_named_in_one_line() {
        let e = Cache::default().get("[a-", "[a-").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("invalid pattern '[a-': "), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
