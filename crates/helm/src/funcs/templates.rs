//! Helm's functions that reach beyond their arguments: `include` and `tpl`
//! (the template set), `lookup` (the cluster), and `required`/`fail`,
//! whose messages helm lifts out of Go's error chain ("execution error at
//! (file:line:col): message").

use super::{Funcs, Ty};
use crate::template::Value;

/// Markers around `fail`/`required` messages; the engine finds them in the
/// final error and prints only the message, as helm does.
pub const WARN_START: &str = "HELM_ERR_START";
pub const WARN_END: &str = "HELM_ERR_END";

pub fn register(f: &mut Funcs) {
    f.add("include", &[Ty::Str, Ty::Any], |env, a| {
        env.include(a[0].as_str().unwrap_or(""), a[1].clone())
            .map(Value::str)
    });
    f.add("tpl", &[Ty::Str, Ty::Any], |env, a| {
        env.tpl(a[0].as_str().unwrap_or(""), a[1].clone())
            .map(Value::str)
    });
    f.add("required", &[Ty::Str, Ty::Any], |_, a| {
        let missing = match &a[1] {
            Value::Nil => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if missing {
            return Err(format!(
                "{WARN_START}{}{WARN_END}",
                a[0].as_str().unwrap_or("")
            ));
        }
        Ok(a[1].clone())
    });
    f.add("fail", &[Ty::Str], |_, a| {
        Err(format!(
            "{WARN_START}{}{WARN_END}",
            a[0].as_str().unwrap_or("")
        ))
    });
    f.add("lookup", &[Ty::Str, Ty::Str, Ty::Str, Ty::Str], |env, a| {
        let s = |i: usize| a[i].as_str().unwrap_or("").to_string();
        env.lookup(&s(0), &s(1), &s(2), &s(3))
    });
}
