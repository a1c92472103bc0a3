//! The functions templates call: Go's builtins, Sprig's, and Helm's own.
//!
//! In Go a template function is any Go function; `text/template` checks and
//! converts its arguments through reflection against the function's
//! signature. Here each function declares the Go types of its parameters
//! ([`Ty`]) and the executor does the same checks and conversions before
//! the call, with Go's words ("wrong type for value; expected string; got
//! int64", "wrong number of args for upper: want 1 got 2"). A function body
//! therefore receives arguments already of the declared type.
//!
//! Families, one file each: [`builtin`] (Go's), and Sprig's strings, lists,
//! dicts, math, conversion, semver, regex, encoding, crypto and dates, and
//! [`helm`] (include, tpl, toYaml, required, lookup …).

use std::collections::HashMap;

use crate::template::Value;

pub mod builtin;
pub mod certs;
pub mod conv;
pub mod conversion;
pub mod crypto;
pub mod dates;
pub mod dicts;
pub mod encoding;
pub mod helm;
pub mod lists;
pub mod math;
pub mod passwords;
pub mod paths;
pub mod regex;
pub mod semver;
pub mod strings;
pub mod templates;

/// A Go parameter type, as far as argument checking needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `interface {}`: anything, nil included.
    Any,
    /// `string` (a `json.Number` is *not* assignable).
    Str,
    /// `int`
    Int,
    /// `int64`
    Int64,
    /// `float64`
    Float,
    /// `bool`
    Bool,
    /// `[]string`
    StrList,
    /// `[]interface {}`
    List,
    /// `map[string]interface {}`
    Map,
    /// `time.Time`
    Time,
    /// `[]byte`
    Bytes,
    /// Sprig's `certificate` struct (what `genCA` returns)
    Certificate,
}

impl Ty {
    /// The Go spelling, for error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Int64 => "int64",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::StrList => "[]string",
            Ty::List => "[]interface {}",
            Ty::Map => "map[string]interface {}",
            Ty::Time => "time.Time",
            Ty::Bytes => "[]uint8",
            Ty::Certificate => "sprig.certificate",
        }
    }
}

/// What a function can reach besides its arguments: the executing template
/// set (for `include` and `tpl`) and the cluster (for `lookup`).
pub trait Env {
    /// Executes the named template with `data` (Helm's `include`).
    fn include(&mut self, name: &str, data: Value) -> Result<String, String>;
    /// Parses `text` as a template in the current set and executes it
    /// (Helm's `tpl`).
    fn tpl(&mut self, text: &str, data: Value) -> Result<String, String>;
    /// Helm's `lookup apiVersion kind namespace name`: the live object, or
    /// an empty map when there is no cluster (`helm template`).
    fn lookup(
        &mut self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Value, String>;
}

/// A function body: arguments already checked and converted.
pub type Body = fn(&mut dyn Env, &[Value]) -> Result<Value, String>;

/// One template function.
#[derive(Clone)]
pub struct Func {
    pub params: &'static [Ty],
    /// The type of the trailing `...` parameter, if variadic.
    pub variadic: Option<Ty>,
    pub body: Body,
}

/// The function map of a template set (Go's `template.FuncMap`).
#[derive(Clone, Default)]
pub struct Funcs {
    map: HashMap<&'static str, Func>,
}

impl Funcs {
    /// Go's builtins only (`and`, `or`, `eq`, `len`, `printf` …).
    pub fn go() -> Funcs {
        let mut f = Funcs::default();
        builtin::register(&mut f);
        f
    }

    /// Helm's function map: Go's builtins, Sprig's (which replace Go's
    /// `slice`), then Helm's own (`include`, `tpl`, `toYaml` …).
    pub fn helm() -> Funcs {
        let mut f = Funcs::go();
        strings::register(&mut f);
        regex::register(&mut f);
        encoding::register(&mut f);
        crypto::register(&mut f);
        lists::register(&mut f);
        dicts::register(&mut f);
        math::register(&mut f);
        conversion::register(&mut f);
        semver::register(&mut f);
        dates::register(&mut f);
        paths::register(&mut f);
        passwords::register(&mut f);
        certs::register(&mut f);
        helm::register(&mut f);
        templates::register(&mut f);
        f
    }

    /// Adds (or replaces) a function of fixed arity.
    pub fn add(&mut self, name: &'static str, params: &'static [Ty], body: Body) {
        self.map.insert(
            name,
            Func {
                params,
                variadic: None,
                body,
            },
        );
    }

    /// Adds a variadic function: `params` then any number of `rest`.
    pub fn add_variadic(
        &mut self,
        name: &'static str,
        params: &'static [Ty],
        rest: Ty,
        body: Body,
    ) {
        self.map.insert(
            name,
            Func {
                params,
                variadic: Some(rest),
                body,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&Func> {
        self.map.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &&'static str> {
        self.map.keys()
    }
}

/// An [`Env`] without templates or cluster, for calling functions directly
/// (unit tests; the notebook).
pub struct NoEnv;

impl Env for NoEnv {
    fn include(&mut self, name: &str, _data: Value) -> Result<String, String> {
        Err(format!("no template {name:?}"))
    }
    fn tpl(&mut self, _text: &str, _data: Value) -> Result<String, String> {
        Err("tpl needs a template set".into())
    }
    fn lookup(&mut self, _: &str, _: &str, _: &str, _: &str) -> Result<Value, String> {
        Ok(Value::empty_map())
    }
}

/// Calls function `name` of `funcs` directly with already-typed arguments
/// (no conversion): for tests of function bodies.
pub fn call(funcs: &Funcs, name: &str, args: &[Value]) -> Result<Value, String> {
    let f = funcs
        .get(name)
        .ok_or_else(|| format!("function {name:?} not defined"))?;
    (f.body)(&mut NoEnv, args)
}
