//! The executor: walks a parsed tree with data, writing text.
//!
//! It follows Go's `text/template/exec.go` rule by rule, because charts
//! depend on the corners: a missing map key is a typed nil (`.a.b` on a
//! missing `a` fails with "nil pointer evaluating interface {}.b") while a
//! variable or parenthesized pipeline holding nil is untyped (`$x.b` is
//! quietly empty); `and`/`or` stop at the first deciding argument;
//! `range` walks maps in key order and integers from 0; a function's
//! arguments are checked against its declared Go types.

use std::collections::HashMap;
use std::rc::Rc;

use super::parse::{Arg, Branch, Command, Node, Pipe, Tree, line_of};
use super::value::{ListKind, Value};
use super::{Templates, gofmt};
use crate::funcs::{Env, Ty};

/// Go's limit on nested `template` calls.
const MAX_EXEC_DEPTH: usize = 100_000;

/// An execution error, printed as Go prints `template.ExecError`.
#[derive(Debug, Clone)]
pub struct ExecError {
    pub msg: String,
    /// The template being executed (for helm's "execution error at (…)").
    pub name: String,
    /// True for errors raised at a node (`template: X:L:C: executing …`).
    pub at_node: bool,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// Control flow out of a walk: an error, or `break`/`continue` in a range.
enum Flow {
    Err(ExecError),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

/// Where a value came from, for Go's nil rules: a field of a map is a
/// typed nil interface; a pipeline's result is unwrapped to untyped nil.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    Field,
    Untyped,
}

pub(crate) struct State<'a> {
    pub(crate) set: &'a Templates,
    tree: Rc<Tree>,
    name: String,
    vars: Vec<(String, Value)>,
    depth: usize,
    /// The node the executor is at (position and context for errors).
    at: (usize, String),
    /// Is the dot a typed nil (a nil item of a list being ranged over)?
    dot_typed_nil: bool,
    /// Was the receiver of the field being evaluated taken out of a map?
    receiver_via_map: bool,
    pub(crate) include_depth: Rc<std::cell::RefCell<HashMap<String, usize>>>,
}

impl<'a> State<'a> {
    pub(crate) fn new(set: &'a Templates, tree: Rc<Tree>, data: &Value) -> State<'a> {
        State {
            set,
            name: tree.name.clone(),
            tree,
            vars: vec![("$".into(), data.clone())],
            depth: 0,
            at: (0, String::new()),
            dot_typed_nil: false,
            receiver_via_map: true,
            include_depth: Rc::default(),
        }
    }

    pub(crate) fn run(&mut self, data: &Value, out: &mut String) -> Result<(), ExecError> {
        let tree = self.tree.clone();
        match self.walk_list(data, &tree.root, out) {
            Ok(()) => Ok(()),
            Err(Flow::Err(e)) => Err(e),
            Err(_) => Ok(()),
        }
    }

    fn at(&mut self, pos: usize, ctx: impl ToString) {
        self.at = (pos, ctx.to_string());
    }

    /// An error at the current node: `template: FILE:L:C: executing "NAME" at <CTX>: MSG`.
    fn errorf<T>(&self, msg: impl std::fmt::Display) -> R<T> {
        let text = &self.tree.text;
        let pos = self.at.0.min(text.len());
        let line = line_of(text, pos);
        let col = match text[..pos].rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        let ctx = &self.at.1;
        let msg = if ctx.is_empty() {
            format!(
                "template: {}:{}:{}: executing {:?} at <>: {}",
                self.tree.parse_name, line, col, self.name, msg
            )
        } else {
            format!(
                "template: {}:{}:{}: executing {:?} at <{}>: {}",
                self.tree.parse_name, line, col, self.name, ctx, msg
            )
        };
        Err(Flow::Err(ExecError {
            msg,
            name: self.name.clone(),
            at_node: true,
        }))
    }

    fn walk_list(&mut self, dot: &Value, list: &[Node], out: &mut String) -> R<()> {
        for n in list {
            self.walk(dot, n, out)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &Node, out: &mut String) -> R<()> {
        match node {
            Node::Text(t) => {
                out.push_str(t);
                Ok(())
            }
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    print_value(&v, out);
                }
                Ok(())
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                let val = self.eval_pipeline(dot, &b.pipe)?;
                let r = if val.truth() {
                    if matches!(node, Node::With(_)) {
                        let saved = std::mem::replace(&mut self.dot_typed_nil, false);
                        let r = self.walk_list(&val, &b.list, out);
                        self.dot_typed_nil = saved;
                        r
                    } else {
                        self.walk_list(dot, &b.list, out)
                    }
                } else if let Some(e) = &b.else_list {
                    self.walk_list(dot, e, out)
                } else {
                    Ok(())
                };
                self.vars.truncate(mark);
                r
            }
            Node::Range(b) => self.walk_range(dot, b, out),
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
            Node::Template { pos, name, pipe } => {
                self.at(
                    *pos,
                    format!(
                        "{{{{template {:?}{}}}}}",
                        name,
                        pipe.as_ref().map(|p| format!(" {p}")).unwrap_or_default()
                    ),
                );
                let Some(tree) = self.set.tree(name) else {
                    return self.errorf(format!("template {name:?} not defined"));
                };
                if self.depth >= MAX_EXEC_DEPTH {
                    return self.errorf(format!(
                        "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
                    ));
                }
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let mut st = State {
                    set: self.set,
                    name: tree.name.clone(),
                    tree: tree.clone(),
                    vars: vec![("$".into(), new_dot.clone())],
                    depth: self.depth + 1,
                    at: (0, String::new()),
                    dot_typed_nil: false,
                    receiver_via_map: true,
                    include_depth: self.include_depth.clone(),
                };
                match st.walk_list(&new_dot, &tree.root, out) {
                    Ok(()) | Err(Flow::Break) | Err(Flow::Continue) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch, out: &mut String) -> R<()> {
        self.at(b.pos, "range");
        let mark_outer = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let decl = &b.pipe.decl;
        let mut ran = false;
        let items = match (self.set.range_items)(&val, decl.len()) {
            Ok(items) => items,
            Err(msg) => return self.errorf(msg),
        };
        for (index, elem) in items {
            ran = true;
            if !decl.is_empty() {
                if b.pipe.is_assign {
                    if decl.len() > 1 {
                        self.set_var(&decl[0], index.clone());
                        self.set_var(&decl[1], elem.clone());
                    } else {
                        self.set_var(&decl[0], elem.clone());
                    }
                } else {
                    let n = self.vars.len();
                    if decl.len() > 1 {
                        // `$i, $v :=`: the top variable is the element,
                        // the one below it the index.
                        self.vars[mark - 1].1 = elem.clone();
                        self.vars[mark - 2].1 = index.clone();
                    } else {
                        self.vars[mark - 1].1 = elem.clone();
                    }
                    let _ = n;
                }
            }
            let saved = std::mem::replace(&mut self.dot_typed_nil, elem.is_nil());
            let r = self.walk_list(&elem, &b.list, out);
            self.dot_typed_nil = saved;
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => {
                    self.vars.truncate(mark_outer);
                    return Err(e);
                }
            }
        }
        let r = if !ran {
            match &b.else_list {
                Some(e) => self.walk_list(dot, e, out),
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        self.vars.truncate(mark_outer);
        r
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var_value(&mut self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    // ANCHOR: pipeline
    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        self.at(pipe.pos, pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        // Go unwraps interface values here: a nil becomes untyped.
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(v, value.clone());
            } else {
                self.vars.push((v.clone(), value.clone()));
            }
        }
        Ok(value)
    }
    // ANCHOR_END: pipeline

    fn not_a_function(&mut self, cmd: &Command, fin: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return self.errorf(format!(
                "can't give argument to non-function {}",
                cmd.args[0]
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.at(*pos, first);
                let typed = self.dot_typed_nil;
                return self.eval_field_chain(dot, dot.clone(), typed, idents, cmd, fin);
            }
            Arg::Chain { pos, node, fields } => {
                self.at(*pos, first);
                let recv = self.eval_arg_untyped(dot, node)?;
                return self.eval_field_chain(dot, recv, false, fields, cmd, fin);
            }
            Arg::Identifier { pos, name } => {
                self.at(*pos, first);
                return self.eval_function(dot, name, cmd, fin);
            }
            Arg::Pipe { pipe, .. } => {
                self.not_a_function(cmd, &fin)?;
                return self.eval_pipeline(dot, pipe);
            }
            Arg::Variable { pos, idents } => {
                self.at(*pos, first);
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                return self.eval_field_chain(dot, v, false, &idents[1..], cmd, fin);
            }
            _ => {}
        }
        self.at(first.pos(), first);
        self.not_a_function(cmd, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.errorf("nil is not a command"),
            Arg::Number { num, .. } => self.ideal_constant(num),
            Arg::String { val, .. } => Ok(Value::str(val.as_str())),
            _ => self.errorf(format!("can't evaluate command {first:?}")),
        }
    }

    fn ideal_constant(&mut self, num: &super::parse::Number) -> R<Value> {
        let t = &num.text;
        let hex = t.starts_with("0x") || t.starts_with("0X") || t.starts_with("-0x");
        if let Some(f) = num.float
            && !hex
            && !num.is_char
            && t.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        match num.int {
            Some(i) => Ok(Value::Int(i)),
            None => self.errorf(format!("{t} overflows int")),
        }
    }

    /// `.a.b.c` from `recv`; the last field gets the command's arguments
    /// (a method call such as `.Files.Get "x"`).
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        recv: Value,
        recv_typed_nil: bool,
        idents: &[String],
        cmd: &Command,
        fin: Option<Value>,
    ) -> R<Value> {
        let mut cur = recv;
        let mut typed = recv_typed_nil;
        // Go names the receiver's static type in errors: a value taken out
        // of a map is an `interface {}`; a struct's field has its own type.
        let mut via_map = true;
        let n = idents.len();
        for (i, name) in idents.iter().enumerate() {
            let last = i == n - 1;
            let (args, fin_here): (&[Arg], Option<Value>) = if last {
                (&cmd.args[1..], fin.clone())
            } else {
                (&[], None)
            };
            self.receiver_via_map = via_map;
            let next_via_map = matches!(cur, Value::Map(..));
            cur = self.eval_field(dot, name, &cur, typed, args, fin_here)?;
            via_map = next_via_map;
            typed = true;
        }
        Ok(cur)
    }

    // ANCHOR: nil_rules
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        recv: &Value,
        typed_nil: bool,
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match recv {
            Value::Nil => {
                if typed_nil {
                    return self.errorf(format!("nil pointer evaluating interface {{}}.{name}"));
                }
                if self.set.missing_key_error {
                    return self.errorf(format!("nil data; no entry for key {name:?}"));
                }
                Ok(Value::Nil)
            }
            Value::Map(m, _) => {
                if has_args {
                    return self.errorf(format!("{name} is not a method but has arguments"));
                }
                match m.borrow().get(name) {
                    Some(v) => Ok(v.clone()),
                    None => {
                        if self.set.missing_key_error {
                            return self.errorf(format!("map has no entry for key {name:?}"));
                        }
                        Ok(Value::Nil)
                    }
                }
            }
            // ANCHOR_END: nil_rules
            Value::Object(o) => {
                if o.has_method(name) {
                    let params = o.method_params(name);
                    let got = args.len() + fin.is_some() as usize;
                    if got != params.len() {
                        return self.errorf(format!(
                            "wrong number of args for {name}: want {} got {got}",
                            params.len()
                        ));
                    }
                    let mut argv = Vec::new();
                    for (a, ty) in args.iter().zip(params) {
                        argv.push(self.eval_arg(dot, a, *ty)?.0);
                    }
                    if let Some(f) = fin {
                        argv.push(self.validate_type(f, Origin::Untyped, params[got - 1])?);
                    }
                    return match o.method(name, &argv) {
                        Some(Ok(v)) => Ok(v),
                        Some(Err(e)) => self.errorf(format!("error calling {name}: {e}")),
                        None => self.errorf(format!(
                            "can't evaluate field {name} in type {}",
                            o.type_name()
                        )),
                    };
                }
                match o.field(name) {
                    Some(v) => {
                        if has_args {
                            return self.errorf(format!(
                                "{name} has arguments but cannot be invoked as function"
                            ));
                        }
                        Ok(v)
                    }
                    None => {
                        let ty = if self.receiver_via_map {
                            "interface {}".to_string()
                        } else {
                            o.type_name()
                        };
                        self.errorf(format!("can't evaluate field {name} in type {ty}"))
                    }
                }
            }
            other => {
                let ty = if typed_nil || matches!(other, Value::Nil) {
                    "interface {}".to_string()
                } else {
                    other.type_name()
                };
                // Values held in maps are seen through interface {}.
                let _ = ty;
                self.errorf(format!(
                    "can't evaluate field {name} in type interface {{}}"
                ))
            }
        }
    }

    /// An argument evaluated without a declared type (method arguments,
    /// chain receivers).
    fn eval_arg_untyped(&mut self, dot: &Value, a: &Arg) -> R<Value> {
        self.eval_arg(dot, a, Ty::Any).map(|(v, _)| v)
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        cmd: &Command,
        fin: Option<Value>,
    ) -> R<Value> {
        let Some(f) = self.set.funcs.get(name).cloned() else {
            return self.errorf(format!("{name:?} is not a defined function"));
        };
        let args = &cmd.args[1..];
        let num_in = args.len() + fin.is_some() as usize;
        let fixed = f.params.len();
        if f.variadic.is_some() {
            if num_in < fixed {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least {fixed} got {num_in}"
                ));
            }
        } else if num_in != fixed {
            return self.errorf(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            ));
        }
        let ty_of = |i: usize| {
            if i < fixed {
                f.params[i]
            } else {
                f.variadic.unwrap_or(Ty::Any)
            }
        };
        // `and` and `or` short-circuit (Go 1.18+).
        if name == "and" || name == "or" {
            let mut v = Value::Nil;
            for a in args {
                v = self.eval_arg(dot, a, Ty::Any)?.0;
                if v.truth() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(fv) = fin {
                v = fv;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, a, ty_of(i))?.0);
        }
        if let Some(fv) = fin {
            let t = ty_of(num_in - 1);
            argv.push(self.validate_type(fv, Origin::Untyped, t)?);
        }
        // A literal nil reaches Go's `len` as reflect's zero Value, which
        // it cannot inspect; a nil from the data is "len of nil pointer".
        if name == "len" && matches!(args.first(), Some(Arg::Nil { .. })) {
            self.at(cmd.pos, cmd);
            return self.errorf(
                "error calling len: reflect: call of reflect.Value.Type on zero Value".to_string(),
            );
        }
        // Go inserts the callee's expression as `call`'s first argument.
        if name == "call" {
            let callee = match args.first() {
                // Go prints a parenthesised pipeline here without its parentheses
                Some(Arg::Pipe { pipe, .. }) => pipe.to_string(),
                Some(a) => a.to_string(),
                None => match argv[0].as_str() {
                    Some(s) => s.to_string(),
                    None => format!("<{} Value>", argv[0].type_name()),
                },
            };
            self.at(cmd.pos, cmd);
            let e = crate::funcs::builtin::call_error(&callee, &argv[0]);
            return self.errorf(format!("error calling call: {e}"));
        }
        let saved_at = self.at.clone();
        let r = (f.body)(self, &argv);
        self.at = saved_at;
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(cmd.pos, cmd);
                self.errorf(format!("error calling {name}: {e}"))
            }
        }
    }

    /// Evaluates an argument for a parameter of type `ty`, with Go's
    /// constant conversions and assignability checks.
    fn eval_arg(&mut self, dot: &Value, a: &Arg, ty: Ty) -> R<(Value, Origin)> {
        self.at(a.pos(), a);
        let (v, origin) = match a {
            Arg::Dot { .. } => (
                dot.clone(),
                if self.dot_typed_nil {
                    Origin::Field
                } else {
                    Origin::Untyped
                },
            ),
            Arg::Nil { .. } => {
                return match ty {
                    Ty::Any | Ty::List | Ty::StrList | Ty::Map | Ty::Bytes => {
                        Ok((Value::Nil, Origin::Untyped))
                    }
                    t => self.errorf(format!("cannot assign nil to {}", t.go_name())),
                };
            }
            Arg::Field { idents, .. } => {
                let empty = Command {
                    pos: a.pos(),
                    args: vec![a.clone()],
                };
                let typed = self.dot_typed_nil;
                (
                    self.eval_field_chain(dot, dot.clone(), typed, idents, &empty, None)?,
                    Origin::Field,
                )
            }
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    (v, Origin::Untyped)
                } else {
                    let empty = Command {
                        pos: a.pos(),
                        args: vec![a.clone()],
                    };
                    (
                        self.eval_field_chain(dot, v, false, &idents[1..], &empty, None)?,
                        Origin::Field,
                    )
                }
            }
            Arg::Pipe { pipe, .. } => (self.eval_pipeline(dot, pipe)?, Origin::Untyped),
            Arg::Identifier { name, .. } => {
                let cmd = Command {
                    pos: a.pos(),
                    args: vec![a.clone()],
                };
                (self.eval_function(dot, name, &cmd, None)?, Origin::Untyped)
            }
            Arg::Chain { node, fields, .. } => {
                let recv = self.eval_arg_untyped(dot, node)?;
                let empty = Command {
                    pos: a.pos(),
                    args: vec![a.clone()],
                };
                (
                    self.eval_field_chain(dot, recv, false, fields, &empty, None)?,
                    Origin::Field,
                )
            }
            // constants convert to the parameter's type
            Arg::Bool { val, .. } => {
                return match ty {
                    Ty::Bool | Ty::Any => Ok((Value::Bool(*val), Origin::Untyped)),
                    Ty::Str => self.errorf(format!("expected string; found {a}")),
                    Ty::Int | Ty::Int64 => self.errorf(format!("expected integer; found {a}")),
                    Ty::Float => self.errorf(format!("expected float; found {a}")),
                    t => self.errorf(format!("can't handle {a} for arg of type {}", t.go_name())),
                };
            }
            Arg::String { val, .. } => {
                return match ty {
                    Ty::Str | Ty::Any => Ok((Value::str(val.as_str()), Origin::Untyped)),
                    Ty::Bool => self.errorf(format!("expected bool; found {a}")),
                    Ty::Int | Ty::Int64 => self.errorf(format!("expected integer; found {a}")),
                    Ty::Float => self.errorf(format!("expected float; found {a}")),
                    t => self.errorf(format!("can't handle {a} for arg of type {}", t.go_name())),
                };
            }
            Arg::Number { num, .. } => {
                return match ty {
                    Ty::Any => Ok((self.ideal_constant(num)?, Origin::Untyped)),
                    Ty::Int | Ty::Int64 => match num.int {
                        Some(i) if num.float.is_none_or(|f| f.fract() == 0.0) => Ok((
                            if ty == Ty::Int {
                                Value::Int(i)
                            } else {
                                Value::Int64(i)
                            },
                            Origin::Untyped,
                        )),
                        _ => self.errorf(format!("expected integer; found {a}")),
                    },
                    Ty::Float => match num.float {
                        Some(f) => Ok((Value::Float(f), Origin::Untyped)),
                        None => self.errorf(format!("expected float; found {a}")),
                    },
                    Ty::Str => self.errorf(format!("expected string; found {a}")),
                    Ty::Bool => self.errorf(format!("expected bool; found {a}")),
                    t => self.errorf(format!("can't handle {a} for arg of type {}", t.go_name())),
                };
            }
        };
        // Go reports a type mismatch at the last node it evaluated (inside a
        // parenthesized pipeline, its last argument), not at `a` itself.
        Ok((self.validate_type(v, origin, ty)?, origin))
    }

    /// Go's validateType: is a value of this Go type assignable to `ty`?
    fn validate_type(&mut self, v: Value, origin: Origin, ty: Ty) -> R<Value> {
        if ty == Ty::Any {
            return Ok(v);
        }
        if v.is_nil() {
            let can_be_nil = matches!(ty, Ty::List | Ty::StrList | Ty::Map | Ty::Bytes);
            return match origin {
                Origin::Field => self.errorf(format!(
                    "wrong type for value; expected {}; got interface {{}}",
                    ty.go_name()
                )),
                Origin::Untyped if can_be_nil => Ok(Value::Nil),
                Origin::Untyped => self.errorf(format!("invalid value; expected {}", ty.go_name())),
            };
        }
        let ok = matches!(
            (ty, &v),
            (Ty::Str, Value::String(_))
                | (Ty::Int, Value::Int(_))
                | (Ty::Int64, Value::Int64(_))
                | (Ty::Float, Value::Float(_))
                | (Ty::Bool, Value::Bool(_))
                | (Ty::StrList, Value::List(_, ListKind::Str))
                | (Ty::List, Value::List(_, ListKind::Any))
                | (
                    Ty::Map,
                    Value::Map(_, super::MapKind::Any | super::MapKind::Values)
                )
                | (Ty::Time, Value::Time(_))
                | (Ty::Bytes, Value::Bytes(_))
        ) || (ty == Ty::Certificate
            && matches!(&v, Value::Object(o) if o.type_name() == ty.go_name()));
        if ok {
            return Ok(v);
        }
        self.errorf(format!(
            "wrong type for value; expected {}; got {}",
            ty.go_name(),
            v.type_name()
        ))
    }
}

/// What `{{range}}` walks over: `(index or key, element)` pairs in Go's
/// order, or the error Go reports. `variables` is how many variables the
/// range declares (`$v :=` is 1, `$i, $v :=` is 2).
///
/// Go's rules: a slice gives `(0, first) (1, second) …`; a map its entries
/// in key order; an integer `n` gives `0 … n-1` as both index and element
/// (and cannot fill two variables); nil gives nothing (the `{{else}}`
/// branch runs); anything else cannot be ranged over.
// ANCHOR: range_items
pub fn range_items(val: &Value, variables: usize) -> Result<Vec<(Value, Value)>, String> {
    let mut items = Vec::new();
    match val {
        Value::List(l, _) => {
            for (i, v) in l.iter().enumerate() {
                items.push((Value::Int(i as i64), v.clone()));
            }
        }
        Value::Bytes(bs) => {
            for (i, v) in bs.iter().enumerate() {
                items.push((Value::Int(i as i64), Value::Int(*v as i64)));
            }
        }
        Value::Map(m, _) => {
            for (k, v) in m.borrow().iter() {
                items.push((Value::str(k.as_str()), v.clone()));
            }
        }
        Value::Int(n) | Value::Int64(n) => {
            if variables > 1 {
                return Err(format!(
                    "can't use {} to iterate over more than one variable",
                    gofmt::sprint(val)
                ));
            }
            // the index has the integer's own Go type
            let typed = |i: i64| {
                if matches!(val, Value::Int(_)) {
                    Value::Int(i)
                } else {
                    Value::Int64(i)
                }
            };
            for i in 0..(*n).max(0) {
                items.push((typed(i), typed(i)));
            }
        }
        Value::Nil => {}
        // Go slice and map types with methods (helm's VersionSet, `.Files`)
        Value::Object(o) if matches!(o.to_data(), Value::List(..) | Value::Map(..)) => {
            return range_items(&o.to_data(), variables);
        }
        other => return Err(format!("range can't iterate over {}", gofmt::sprint(other))),
    }
    Ok(items)
}
// ANCHOR_END: range_items

/// The signature of [`range_items`], as [`Templates`] holds it (lab 10
/// plugs its own in).
pub type RangeItemsFn = fn(&Value, usize) -> Result<Vec<(Value, Value)>, String>;

/// How an action prints its value: Go's `printValue` (nil is `<no value>`,
/// which helm then removes from the output).
fn print_value(v: &Value, out: &mut String) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::String(s) | Value::Number(s) => out.push_str(s),
        v => out.push_str(&gofmt::sprint(v)),
    }
}

impl Env for State<'_> {
    fn include(&mut self, name: &str, data: Value) -> Result<String, String> {
        {
            let mut d = self.include_depth.borrow_mut();
            let n = d.entry(name.to_string()).or_insert(0);
            if *n > 1000 {
                return Err(format!(
                    "rendering template has a nested reference name: {name}: unable to execute template"
                ));
            }
            *n += 1;
        }
        let r = self
            .set
            .execute_with(name, &data, self.include_depth.clone());
        *self.include_depth.borrow_mut().get_mut(name).unwrap() -= 1;
        r.map_err(|e| e.msg)
    }

    fn tpl(&mut self, text: &str, data: Value) -> Result<String, String> {
        self.set.tpl(text, &data, self.include_depth.clone())
    }

    fn lookup(
        &mut self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Value, String> {
        match &self.set.lookup {
            Some(f) => f(api_version, kind, ns, name),
            None => Ok(Value::empty_map()),
        }
    }
}
