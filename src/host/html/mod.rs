//! `html_page(spec)`: one self-contained HTML page from a report's sections — headline
//! numbers, bar charts drawn as inline SVG, tables that sort and filter in the page — with
//! no fetch of anything outside it (styles and the few lines of script are inline) and
//! every value escaped. `report::html(path, spec)` in the stdlib writes it to a file.

mod chart;
mod escape;
mod page;
mod table;

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::HostState;
use super::api::FnDoc;
use super::convert::{to_json, usage_error};

pub use page::{SpecError, render};
use table::RowSource;

/// `html_page(spec)`.
pub const HTML_PAGE: FnDoc = FnDoc {
    name: "html_page",
    params: &["spec: Map"],
    returns: "String",
    doc: "One self-contained HTML page from #{title, subtitle, sections}: each section is #{kind: \"numbers\", items: [#{label, value}]}, #{kind: \"bars\", bars: [#{label, value}], limit}, #{kind: \"table\", columns, rows} or #{kind: \"text\", text}, each with a title.",
    example: r#"html_page(#{title: "Identities", sections: [#{kind: "table", title: "All", columns: ["name", "resourceGroup"], rows: identity_list("rg")}]})"#,
};

/// Registers `html_page`.
pub fn register(engine: &mut Engine, _state: &Rc<HostState>) {
    HTML_PAGE.registration().register_into_engine(
        engine,
        |spec: &mut Map| -> Result<String, Box<EvalAltResult>> {
            // Taken by reference (`spec.html_page()` copies nothing), the tables' rows are
            // lent to the page and put back.
            let tables = split_rows(spec);
            let page = page_of(spec, &tables);
            restore_rows(spec, tables);
            page
        },
    );
}

/// The page of a spec whose tables' rows were split from it.
fn page_of(spec: &Map, tables: &[Option<Array>]) -> Result<String, Box<EvalAltResult>> {
    let value = to_json(&Dynamic::from_map(spec.clone()))?;
    let failed: RefCell<Option<Box<EvalAltResult>>> = RefCell::new(None);
    let sources = tables
        .iter()
        .map(|rows| {
            let failed = &failed;
            rows.as_ref().map(|rows| RowSource {
                len: rows.len(),
                rows: Box::new(rows.iter().map_while(move |row| match to_json(row) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        failed.borrow_mut().get_or_insert(e);
                        None
                    }
                })),
            })
        })
        .collect();
    let page =
        page::render_with(&value, sources).map_err(|e| usage_error(format!("html_page: {e}")))?;
    match failed.into_inner() {
        Some(e) => Err(e),
        None => Ok(page),
    }
}

/// Puts back the rows `split_rows` took, each into its section.
fn restore_rows(spec: &mut Map, tables: Vec<Option<Array>>) {
    let Some(mut sections) = spec
        .get_mut("sections")
        .and_then(|s| s.write_lock::<Array>())
    else {
        return;
    };
    for (section, rows) in sections.iter_mut().zip(tables) {
        if let (Some(rows), Some(mut section)) = (rows, section.write_lock::<Map>()) {
            section.insert("rows".into(), rows.into());
        }
    }
}

/// Takes the rows out of every table section (when they are an array), one entry per
/// section: they are converted row by row as the page is written, not all at once.
fn split_rows(spec: &mut Map) -> Vec<Option<Array>> {
    let Some(mut sections) = spec
        .get_mut("sections")
        .and_then(|s| s.write_lock::<Array>())
    else {
        return Vec::new();
    };
    sections
        .iter_mut()
        .map(|section| {
            let mut section = section.write_lock::<Map>()?;
            let is_table = section.get("kind").is_some_and(|k| {
                k.clone()
                    .into_immutable_string()
                    .is_ok_and(|k| k == "table")
            });
            if !is_table || !section.get("rows").is_some_and(Dynamic::is_array) {
                return None;
            }
            section
                .remove("rows")
                .and_then(|rows| rows.try_cast::<Array>())
        })
        .collect()
}
