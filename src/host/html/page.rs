//! The page: its head (inline styles, a policy that forbids every fetch), the sections in
//! order, and the inline script that makes tables sortable and filterable.

use serde_json::Value;

use super::table::RowSource;
use super::{chart, escape, table};

/// What is wrong with a report's specification.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    /// A field the page or a section needs is absent or of the wrong type.
    #[error("{at}: `{field}` must be {expected}")]
    Field {
        /// Where: `spec` or `section N`.
        at: String,
        /// The field's name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A section's kind is none of those the page draws.
    #[error("{at}: kind `{kind}` is not one of numbers, bars, table, text")]
    Kind {
        /// Where: `section N`.
        at: String,
        /// The kind given.
        kind: String,
    },
}

/// Styles: readable on screen and on paper, no web fonts.
const STYLE: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1b1b1b}\
h1{margin:.2em 0}h2{margin:1.6em 0 .5em;border-bottom:1px solid #ccc}.sub{color:#555;margin:0}\
.numbers{display:flex;flex-wrap:wrap;gap:.8em}.num{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:9em}\
.num .v{display:block;font-size:1.8em;font-weight:600}.num.warn{border-color:#c62828}.num.warn .v{color:#c62828}\
table.data{border-collapse:collapse;width:100%;font-size:12px}table.data th,table.data td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}\
table.data th{white-space:nowrap;background:#f2f2f2;cursor:pointer;position:sticky;top:0}th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\
.filter{margin:.3em 0 .5em;padding:4px;width:20em}.count{color:#555;margin:.2em 0}svg text{font:12px sans-serif}\
@media print{.filter{display:none}table.data th{position:static}tr{break-inside:avoid}body{max-width:none;padding:0}}";

/// Sorting and filtering of every `div.table`; without it the tables are shown whole.
const SCRIPT: &str = "(function(){document.querySelectorAll('div.table').forEach(function(box){\
var t=box.querySelector('table'),b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),c=box.querySelector('.count');\
var keys=rows.map(function(r){return r.textContent.toLowerCase();});\
var f=document.createElement('input');f.type='search';f.className='filter';f.placeholder='Filter rows';\
f.addEventListener('input',function(){var q=f.value.toLowerCase(),n=0;rows.forEach(function(r,i){var s=!q||keys[i].indexOf(q)>=0;r.hidden=!s;if(s)n++;});\
if(c)c.textContent=n+' of '+rows.length+' rows';});box.insertBefore(f,t);\
var hs=t.tHead.rows[0].cells;Array.prototype.forEach.call(hs,function(h,i){h.tabIndex=0;h.addEventListener('click',function(){\
var asc=h.getAttribute('aria-sort')!=='ascending';Array.prototype.forEach.call(hs,function(x){x.removeAttribute('aria-sort');});\
h.setAttribute('aria-sort',asc?'ascending':'descending');var idx=rows.map(function(r,j){return j;});\
idx.sort(function(p,q){var x=rows[p].cells[i].textContent,y=rows[q].cells[i].textContent,nx=Number(x),ny=Number(y);\
var d=(x!==''&&y!==''&&!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?d:-d;});\
var frag=document.createDocumentFragment();var nr=[],nk=[];idx.forEach(function(j){frag.appendChild(rows[j]);nr.push(rows[j]);nk.push(keys[j]);});\
rows=nr;keys=nk;b.appendChild(frag);});});});})();";

/// The page for `spec` (`#{title, subtitle, sections}`).
pub fn render(spec: &Value) -> Result<String, SpecError> {
    render_with(spec, Vec::new())
}

/// The page for `spec`, the rows of table section N taken from `tables[N]` when it is given.
pub fn render_with(spec: &Value, tables: Vec<Option<RowSource<'_>>>) -> Result<String, SpecError> {
    let mut tables = tables.into_iter();
    let title = text_field(spec, "spec", "title")?;
    let sections = spec
        .get("sections")
        .and_then(Value::as_array)
        .ok_or_else(|| field("spec", "sections", "an array of section maps"))?;
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    // Nothing may be fetched: no network, no files beside the page.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
    escape::push(&mut out, title);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><header><h1>");
    escape::push(&mut out, title);
    out.push_str("</h1>");
    if let Some(sub) = spec.get("subtitle").and_then(Value::as_str) {
        out.push_str("<p class=\"sub\">");
        escape::push(&mut out, sub);
        out.push_str("</p>");
    }
    out.push_str("</header><main>");
    for (i, section) in sections.iter().enumerate() {
        let at = format!("section {}", i + 1);
        section_html(&mut out, &at, i, section, tables.next().flatten())?;
    }
    out.push_str("</main><script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    Ok(out)
}

fn section_html(
    out: &mut String,
    at: &str,
    index: usize,
    section: &Value,
    rows: Option<RowSource<'_>>,
) -> Result<(), SpecError> {
    if !section.is_object() {
        return Err(field(at, "section", "a map"));
    }
    let kind = text_field(section, at, "kind")?;
    let title = text_field(section, at, "title")?;
    out.push_str(&format!("<section id=\"s{}\" class=\"", index + 1));
    escape::push(out, kind);
    out.push_str("\"><h2>");
    escape::push(out, title);
    out.push_str("</h2>");
    if let Some(note) = section.get("note").and_then(Value::as_str) {
        out.push_str("<p class=\"sub\">");
        escape::push(out, note);
        out.push_str("</p>");
    }
    match kind {
        "numbers" => numbers(out, at, section)?,
        "bars" => {
            let bars = section
                .get("bars")
                .and_then(Value::as_array)
                .ok_or_else(|| field(at, "bars", "an array of #{label, value}"))?;
            let mut pairs = Vec::with_capacity(bars.len());
            for bar in bars {
                let label = bar.get("label").map(table::cell_text).unwrap_or_default();
                let value = bar
                    .get("value")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| field(at, "value", "a number in every bar"))?;
                pairs.push((label, value));
            }
            let limit = section.get("limit").and_then(Value::as_f64);
            chart::bars(out, title, &pairs, limit);
        }
        "table" => table::table(out, at, section, rows)?,
        "text" => {
            let text = text_field(section, at, "text")?;
            for para in text.split("\n\n") {
                out.push_str("<p>");
                escape::push(out, para);
                out.push_str("</p>");
            }
        }
        other => {
            return Err(SpecError::Kind {
                at: at.to_string(),
                kind: other.to_string(),
            });
        }
    }
    out.push_str("</section>");
    Ok(())
}

fn numbers(out: &mut String, at: &str, section: &Value) -> Result<(), SpecError> {
    let items = section
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| field(at, "items", "an array of #{label, value}"))?;
    out.push_str("<div class=\"numbers\">");
    for item in items {
        let label = text_field(item, at, "label")?;
        let value = item.get("value").map(table::cell_text).unwrap_or_default();
        let warn = item.get("warn").and_then(Value::as_bool).unwrap_or(false);
        out.push_str(if warn {
            "<div class=\"num warn\"><span class=\"v\">"
        } else {
            "<div class=\"num\"><span class=\"v\">"
        });
        escape::push(out, &value);
        out.push_str("</span><span class=\"l\">");
        escape::push(out, label);
        out.push_str("</span></div>");
    }
    out.push_str("</div>");
    Ok(())
}

/// The string at `key`, or an error naming it.
pub(super) fn text_field<'a>(
    value: &'a Value,
    at: &str,
    key: &'static str,
) -> Result<&'a str, SpecError> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| field(at, key, "a string"))
}

pub(super) fn field(at: &str, key: &'static str, expected: &'static str) -> SpecError {
    SpecError::Field {
        at: at.to_string(),
        field: key,
        expected,
    }
}
