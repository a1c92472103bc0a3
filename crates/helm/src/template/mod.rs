//! Go's `text/template`, complete enough to run real charts byte for byte
//! like helm: the lexer turns text into items, the parser builds a tree of
//! nodes per template, the executor walks it with data and functions.
//!
//! Where to start reading: [`Templates`], then `lex`, `parse`, `exec`.

pub mod gofmt;
pub mod value;

pub use value::{ListKind, Map, MapKind, Object, Value};
