//! Tokens of the Kusto Query Language subset that Resource Graph queries use.

use super::error::QueryError;

/// One token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tok,
    pub pos: usize,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: an operator, a function, a column, a keyword (`and`, `by`, `asc`, ...).
    Ident(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A real literal.
    Real(f64),
    /// Punctuation and operators: `| ( ) [ ] { } , . : = == != =~ !~ <> < <= > >= + - * / %`.
    Sym(&'static str),
    /// The end of the query.
    End,
}

const SYMBOLS: [&str; 25] = [
    "==", "!=", "=~", "!~", "<=", ">=", "<>", "|", "(", ")", "[", "]", "{", "}", ",", ".", ":",
    "=", "<", ">", "+", "-", "*", "/", "%",
];

/// Splits a query into tokens; the last one is always `End`.
pub fn tokenize(src: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // `//` comments run to the end of the line.
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'\'' || c == b'"' {
            let (text, next) = string(src, i, false)?;
            out.push(Token {
                kind: Tok::Str(text),
                pos: start,
            });
            i = next;
            continue;
        }
        if c == b'@' && matches!(bytes.get(i + 1), Some(b'\'') | Some(b'"')) {
            let (text, next) = string(src, i + 1, true)?;
            out.push(Token {
                kind: Tok::Str(text),
                pos: start,
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let mut real = false;
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                real = true;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text = &src[start..i];
            let kind = if real {
                Tok::Real(
                    text.parse()
                        .map_err(|_| QueryError::syntax(start, "a number"))?,
                )
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| QueryError::syntax(start, "a number that fits 64 bits"))?,
                )
            };
            out.push(Token { kind, pos: start });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            // Operator names with a dash (`project-away`, `mv-expand`) are one token.
            while i + 1 < bytes.len()
                && bytes[i] == b'-'
                && bytes[i + 1].is_ascii_alphabetic()
                && is_dashed_prefix(&src[start..i])
            {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            // `in~` is one word too.
            if &src[start..i] == "in" && bytes.get(i) == Some(&b'~') {
                i += 1;
            }
            out.push(Token {
                kind: Tok::Ident(src[start..i].to_string()),
                pos: start,
            });
            continue;
        }
        if c == b'!' {
            // `!in`, `!has`, `!contains`, ... are one word; `!=` and `!~` are symbols.
            if let Some(n) = bytes.get(i + 1)
                && n.is_ascii_alphabetic()
            {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'~') {
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Ident(src[start..i].to_string()),
                    pos: start,
                });
                continue;
            }
        }
        let Some(sym) = SYMBOLS.iter().find(|s| src[i..].starts_with(**s)) else {
            return Err(QueryError::syntax(start, "a token"));
        };
        i += sym.len();
        out.push(Token {
            kind: Tok::Sym(sym),
            pos: start,
        });
    }
    out.push(Token {
        kind: Tok::End,
        pos: src.len(),
    });
    Ok(out)
}

/// The words that start a dashed operator name.
fn is_dashed_prefix(word: &str) -> bool {
    matches!(word, "project" | "mv")
}

/// Reads a quoted string starting at `open` (the quote); a verbatim string has no escapes.
fn string(src: &str, open: usize, verbatim: bool) -> Result<(String, usize), QueryError> {
    let quote = src.as_bytes()[open] as char;
    let mut text = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        if ch == quote {
            return Ok((text, open + 1 + off + 1));
        }
        if ch == '\\' && !verbatim {
            let Some((_, esc)) = chars.next() else { break };
            text.push(match esc {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => other,
            });
            continue;
        }
        text.push(ch);
    }
    Err(QueryError::syntax(open, "a closing quote"))
}
