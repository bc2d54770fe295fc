//! `html_page(spec)`: one self-contained HTML page from a report's sections — headline
//! numbers, bar charts drawn as inline SVG, tables that sort and filter in the page — with
//! no fetch of anything outside it (styles and the few lines of script are inline) and
//! every value escaped. `report::html(path, spec)` in the stdlib writes it to a file.

mod chart;
mod escape;
mod page;
mod table;

use std::rc::Rc;

use rhai::{Engine, EvalAltResult, Map};

use super::HostState;
use super::api::FnDoc;
use super::convert::{to_json, usage_error};

pub use page::{SpecError, render};

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
        |spec: Map| -> Result<String, Box<EvalAltResult>> {
            let value = to_json(&spec.into())?;
            render(&value).map_err(|e| usage_error(format!("html_page: {e}")))
        },
    );
}
