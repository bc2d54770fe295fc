//! The host functions the cleanup and audit workflows (`stdlib/`, `scripts/`) stand on: time
//! (`time.rs`), files behind `--allow-read`/`--allow-write` (`files.rs`), text matching
//! (`text.rs`), and what a script needs to know about its run (`is_local`, `is_dry_run`) and
//! to keep messages apart from data (`eprint`). `api::register` calls `register` once.

use std::rc::Rc;

use rhai::Engine;

use super::api::FnDoc;
use super::{HostState, files, text, time};

/// `is_local()`.
pub const IS_LOCAL: FnDoc = FnDoc {
    name: "is_local",
    params: &[],
    returns: "bool",
    doc: "Whether azid runs against the emulator it started itself (--local), rather than an ARM endpoint.",
    example: r#"if !is_local() { print("this is a real subscription") }"#,
};

/// `is_dry_run()`.
pub const IS_DRY_RUN: FnDoc = FnDoc {
    name: "is_dry_run",
    params: &[],
    returns: "bool",
    doc: "Whether writes are recorded into the plan instead of being sent (--dry-run).",
    example: r#"if is_dry_run() { print("nothing will change") }"#,
};

/// `eprint(text)`.
pub const EPRINT: FnDoc = FnDoc {
    name: "eprint",
    params: &["text: &str"],
    returns: "()",
    doc: "Prints a line to standard error, for messages that must not mix with data printed on standard output.",
    example: r#"eprint(`${identity_list("rg").len()} identities`)"#,
};

/// Registers every function of the workflows.
pub fn register(engine: &mut Engine, state: &Rc<HostState>) {
    time::register(engine);
    text::register(engine);
    files::register(engine, state);
    let local = state.local;
    IS_LOCAL
        .registration()
        .register_into_engine(engine, move || local);
    let s = state.clone();
    IS_DRY_RUN
        .registration()
        .register_into_engine(engine, move || s.dry_run.get());
    EPRINT
        .registration()
        .register_into_engine(engine, |text: &str| eprintln!("{text}"));
}
