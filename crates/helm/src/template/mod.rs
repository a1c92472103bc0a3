//! Go's `text/template`, complete enough to run real charts byte for byte
//! like helm: the lexer turns text into items, the parser builds a tree of
//! nodes per template, the executor walks it with data and functions.
//!
//! Where to start reading: [`Templates`], then `lex`, `parse`, `exec`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::funcs::Funcs;

pub mod exec;
pub mod gofmt;
pub mod lex;
pub mod parse;
pub mod value;

pub use exec::ExecError;
pub use parse::{ParseError, Tree};
pub use value::{ListKind, Map, MapKind, Object, Value};

/// Helm's `lookup`: (apiVersion, kind, namespace, name) → the live object.
pub type Lookup = Rc<dyn Fn(&str, &str, &str, &str) -> Result<Value, String>>;

/// A set of named templates sharing one function map (Go's
/// `*template.Template` with its associated templates).
// ANCHOR: templates
#[derive(Clone)]
pub struct Templates {
    /// The set's own name (helm calls its set "gotpl").
    pub name: String,
    trees: HashMap<String, Rc<Tree>>,
    funcs: Rc<Funcs>,
    /// `missingkey=error` (helm's `--strict` lint) instead of `zero`.
    pub missing_key_error: bool,
    pub lookup: Option<Lookup>,
    /// How `{{range}}` enumerates a value ([`exec::range_items`]; lab 10
    /// plugs in the learner's).
    pub range_items: exec::RangeItemsFn,
}
// ANCHOR_END: templates

impl Templates {
    pub fn new(name: &str, funcs: Funcs) -> Templates {
        Templates {
            name: name.to_string(),
            trees: HashMap::new(),
            funcs: Rc::new(funcs),
            missing_key_error: false,
            lookup: None,
            range_items: exec::range_items,
        }
    }

    /// Parses `text` as the template `name`; its `define`s join the set.
    /// As in Go, a later definition replaces an earlier one unless its body
    /// is empty.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        self.parse_main(name, text).map(|_| ())
    }

    /// [`Templates::parse`], returning the tree parsed for `name` itself,
    /// which the set keeps only if it is not empty. (Go's `Parse` returns
    /// that template either way; `tpl` executes it, not the set's.)
    fn parse_main(&mut self, name: &str, text: &str) -> Result<Rc<Tree>, ParseError> {
        let (main, defined) = parse::parse(name, text, &self.funcs)?;
        let main = Rc::new(main);
        let trees = defined
            .into_iter()
            .map(Rc::new)
            .chain(std::iter::once(main.clone()));
        for t in trees {
            let empty = t
                .root
                .iter()
                .all(|n| matches!(n, parse::Node::Text(s) if s.trim().is_empty()));
            if empty && self.trees.contains_key(&t.name) {
                continue;
            }
            self.trees.insert(t.name.clone(), t);
        }
        Ok(main)
    }

    pub fn tree(&self, name: &str) -> Option<Rc<Tree>> {
        self.trees.get(name).cloned()
    }

    pub fn funcs(&self) -> &Funcs {
        &self.funcs
    }

    /// Executes the template `name` with `data` (Go's `ExecuteTemplate`).
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        self.execute_with(name, data, Rc::default())
    }

    pub(crate) fn execute_with(
        &self,
        name: &str,
        data: &Value,
        depth: Rc<RefCell<HashMap<String, usize>>>,
    ) -> Result<String, ExecError> {
        let Some(tree) = self.tree(name) else {
            return Err(ExecError {
                msg: format!(
                    "template: no template {name:?} associated with template {:?}",
                    self.name
                ),
                name: name.to_string(),
                at_node: false,
            });
        };
        let mut out = String::new();
        let mut st = exec::State::new(self, tree, data);
        st.include_depth = depth;
        st.run(data, &mut out)?;
        Ok(out)
    }

    /// Helm's `tpl`: parse `text` into a copy of this set (so its defines
    /// stay local) and execute it with `data`.
    pub(crate) fn tpl(
        &self,
        text: &str,
        data: &Value,
        depth: Rc<RefCell<HashMap<String, usize>>>,
    ) -> Result<String, String> {
        let mut copy = self.clone();
        let name = self.name.clone();
        let tree = copy
            .parse_main(&name, text)
            .map_err(|e| format!("cannot parse template {}: {e}", gofmt::quote(text)))?;
        // An empty text leaves the set's template of that name in place;
        // executing that one instead would run the caller again, forever.
        let mut out = String::new();
        let mut st = exec::State::new(&copy, tree, data);
        st.include_depth = depth;
        st.run(data, &mut out).map_err(|e| {
            format!(
                "error during tpl function execution for {}: {}",
                gofmt::quote(text),
                e.msg
            )
        })?;
        Ok(out.replace("<no value>", ""))
    }
}

#[cfg(test)]
mod tests;
