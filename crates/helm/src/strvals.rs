//! Helm's `--set` syntax (its `strvals` package): `a.b=c`, `a=1,b=2`,
//! lists `a={x,y}`, indexes `a[0].b=1`, `\` escapes (`a\.b=1`, `a=x\,y`).
//!
//! How a value is typed depends on the flag:
//! - `--set`: `true`/`false` (any case) are bools, `null` is nil, integers
//!   without a leading zero are `int64` (`0x10`, `010`, `1.5`, `1e3` stay
//!   strings);
//! - `--set-string`: always strings;
//! - `--set-file`: the named file's contents;
//! - `--set-json`: a JSON value (numbers are float64);
//! - `--set-literal`: everything after the first `=` as one string, no
//!   escapes or commas.
//!
//! Errors use helm's words (`key "a" has no value`); the CLI prefixes them
//! with `failed parsing --set data: `.

use std::collections::BTreeMap;

use crate::template::Value;

/// The largest list index `--set` accepts.
pub const MAX_INDEX: i64 = 65536;
/// The deepest nesting of names (`a.b.c…`) `--set` accepts.
pub const MAX_NESTED: usize = 30;

/// Which flag a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Set,
    SetString,
    SetFile,
    SetJson,
    SetLiteral,
}

enum Stop {
    Eof,
    At(char),
}

enum Fail {
    /// The input ended (`io.EOF`): not an error at the top.
    Eof,
    Msg(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Msg(s)
    }
}

struct P<'a> {
    s: Vec<char>,
    i: usize,
    mode: Mode,
    read_file: &'a dyn Fn(&str) -> Result<String, String>,
}

type Data = BTreeMap<String, Value>;

fn set(data: &mut Data, k: &str, v: Value) {
    if !k.is_empty() {
        data.insert(k.to_string(), v);
    }
}

fn go_type(v: &Value) -> String {
    if v.is_nil() {
        "nil".into()
    } else {
        v.type_name()
    }
}

/// Go's `%q` of a rune slice: `['a' 'b']`.
fn quote_runes(k: &str) -> String {
    let parts: Vec<String> = k
        .chars()
        .map(|c| match c {
            '\'' => "'\\''".to_string(),
            '\\' => "'\\\\'".to_string(),
            '\n' => "'\\n'".to_string(),
            '\t' => "'\\t'".to_string(),
            c => format!("'{c}'"),
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

impl P<'_> {
    fn literal(&self) -> bool {
        self.mode == Mode::SetLiteral
    }

    /// Reads up to one of `stop` (`\` escapes the next character, except
    /// in literal mode).
    fn until(&mut self, stop: &[char]) -> (String, Stop) {
        let mut out = String::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if stop.contains(&c) {
                return (out, Stop::At(c));
            }
            if c == '\\' && !self.literal() {
                if self.i < self.s.len() {
                    out.push(self.s[self.i]);
                    self.i += 1;
                }
                continue;
            }
            out.push(c);
        }
        (out, Stop::Eof)
    }

    fn typed(&self, v: &str) -> Result<Value, String> {
        Ok(match self.mode {
            Mode::SetString | Mode::SetLiteral => Value::str(v),
            Mode::SetFile => Value::str((self.read_file)(v)?),
            _ => {
                if v.eq_ignore_ascii_case("true") {
                    Value::Bool(true)
                } else if v.eq_ignore_ascii_case("false") {
                    Value::Bool(false)
                } else if v.eq_ignore_ascii_case("null") {
                    Value::Nil
                } else if v == "0" {
                    Value::Int64(0)
                } else if !v.is_empty()
                    && !v.starts_with('0')
                    && let Some(i) = parse_dec_i64(v)
                {
                    Value::Int64(i)
                } else {
                    Value::str(v)
                }
            }
        })
    }

    fn key(&mut self, data: &mut Data, level: usize) -> Result<(), Fail> {
        if level > MAX_NESTED {
            return Err(Fail::Msg(format!(
                "value name nested level is greater than maximum supported nested level of {MAX_NESTED}"
            )));
        }
        let stop: &[char] = if self.literal() {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (k, last) = self.until(stop);
        match last {
            Stop::Eof => {
                if k.is_empty() {
                    Err(Fail::Eof)
                } else {
                    Err(Fail::Msg(format!(
                        "key {} has no value",
                        crate::template::gofmt::quote(&k)
                    )))
                }
            }
            Stop::At(',') => {
                set(data, &k, Value::str(""));
                Err(Fail::Msg(format!(
                    "key {} has no value (cannot end with ,)",
                    crate::template::gofmt::quote(&k)
                )))
            }
            Stop::At('=') => self.assign(data, &k),
            Stop::At('[') => {
                let idx = self.index()?;
                let list = match data.get(&k) {
                    None => vec![],
                    Some(Value::List(l, _)) => l.as_ref().clone(),
                    Some(other) => {
                        return Err(Fail::Msg(format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not []interface {{}}",
                            go_type(other)
                        )));
                    }
                };
                let (list, r) = self.list_item(list, idx, level);
                set(data, &k, Value::list(list));
                r
            }
            Stop::At(_) => {
                // '.'
                let mut inner = match data.get(&k) {
                    None => Data::new(),
                    Some(Value::Map(m, _)) => m.borrow().clone(),
                    Some(other) => {
                        return Err(Fail::Msg(format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                            go_type(other)
                        )));
                    }
                };
                let r = self.key(&mut inner, level + 1);
                if r.is_ok() && inner.is_empty() {
                    return Err(Fail::Msg(format!(
                        "key map {} has no value",
                        crate::template::gofmt::quote(&k)
                    )));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::map(inner));
                }
                r
            }
        }
    }

    fn rest(&mut self) -> String {
        let r: String = self.s[self.i..].iter().collect();
        self.i = self.s.len();
        r
    }

    /// Skips blanks and one comma; true at the end or after a comma.
    fn empty_val(&mut self) -> bool {
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if c == ',' {
                return true;
            }
            if !c.is_whitespace() {
                self.i -= 1;
                return false;
            }
        }
        true
    }

    fn json_val(&mut self) -> Result<Value, Fail> {
        if self.empty_val() {
            return Ok(Value::Nil);
        }
        let rest: String = self.s[self.i..].iter().collect();
        let mut it = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        let v = match it.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(Fail::Msg(e.to_string())),
            None => return Err(Fail::Msg("EOF".into())),
        };
        let used = rest[..it.byte_offset()].chars().count();
        self.i += used;
        self.empty_val();
        crate::yaml::parse_json(&v.to_string(), false).map_err(Fail::Msg)
    }

    fn assign(&mut self, data: &mut Data, k: &str) -> Result<(), Fail> {
        match self.mode {
            Mode::SetLiteral => {
                let v = self.rest();
                set(data, k, Value::str(v));
                Ok(())
            }
            Mode::SetJson => {
                let v = self.json_val()?;
                set(data, k, v);
                Ok(())
            }
            _ => match self.val_list() {
                ListRead::List(l) => {
                    set(data, k, Value::list(l));
                    Ok(())
                }
                ListRead::Eof => {
                    set(data, k, Value::str(""));
                    Err(Fail::Eof)
                }
                ListRead::Err(e) => Err(Fail::Msg(e)),
                ListRead::NotList => {
                    let (v, _) = self.until(&[',']);
                    let v = self.typed(&v)?;
                    set(data, k, v);
                    Ok(())
                }
            },
        }
    }

    fn val_list(&mut self) -> ListRead {
        if self.i >= self.s.len() {
            return ListRead::Eof;
        }
        if self.s[self.i] != '{' {
            return ListRead::NotList;
        }
        self.i += 1;
        let mut list = vec![];
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                Stop::Eof => return ListRead::Err("list must terminate with '}'".into()),
                Stop::At('}') => {
                    if self.i < self.s.len() && self.s[self.i] == ',' {
                        self.i += 1;
                    }
                    match self.typed(&rs) {
                        Ok(v) => list.push(v),
                        Err(e) => return ListRead::Err(e),
                    }
                    return ListRead::List(list);
                }
                Stop::At(_) => match self.typed(&rs) {
                    Ok(v) => list.push(v),
                    Err(e) => return ListRead::Err(e),
                },
            }
        }
    }

    fn index(&mut self) -> Result<i64, Fail> {
        let (v, last) = self.until(&[']']);
        if matches!(last, Stop::Eof) {
            return Err(Fail::Msg("error parsing index: EOF".into()));
        }
        parse_dec_i64(&v).ok_or_else(|| {
            Fail::Msg(format!(
                "error parsing index: strconv.Atoi: parsing {}: invalid syntax",
                crate::template::gofmt::quote(&v)
            ))
        })
    }

    fn list_item(
        &mut self,
        mut list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> (Vec<Value>, Result<(), Fail>) {
        if i < 0 {
            return (
                list,
                Err(Fail::Msg(format!("negative {i} index not allowed"))),
            );
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                Err(Fail::Msg(format!(
                    "unexpected data at end of array index: {}",
                    quote_runes(&k)
                ))),
            );
        }
        match last {
            Stop::Eof => (list, Err(Fail::Eof)),
            Stop::At('=') => {
                let v = match self.mode {
                    Mode::SetLiteral => Ok(Value::str(self.rest())),
                    Mode::SetJson => match self.json_val() {
                        Ok(v) => Ok(v),
                        Err(e) => return (list, Err(e)),
                    },
                    _ => match self.val_list() {
                        ListRead::List(l) => Ok(Value::list(l)),
                        ListRead::Eof => Ok(Value::str("")),
                        ListRead::Err(e) => return (list, Err(Fail::Msg(e))),
                        ListRead::NotList => {
                            let (v, _) = self.until(&[',']);
                            self.typed(&v)
                        }
                    },
                };
                match v {
                    Ok(v) => {
                        let r = set_index(&mut list, i, v);
                        (list, r)
                    }
                    Err(e) => (list, Err(Fail::Msg(e))),
                }
            }
            Stop::At('[') => {
                let next = match self.index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let cur = match list.get(i as usize) {
                    Some(Value::List(l, _)) => l.as_ref().clone(),
                    Some(Value::Nil) | None => vec![],
                    Some(other) => {
                        let msg = format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not []interface {{}}",
                            go_type(other)
                        );
                        return (list, Err(Fail::Msg(msg)));
                    }
                };
                let (l2, r) = self.list_item(cur, next, level);
                if r.is_err() && !matches!(r, Err(Fail::Eof)) {
                    return (list, r);
                }
                let r2 = set_index(&mut list, i, Value::list(l2));
                (list, if r2.is_err() { r2 } else { r })
            }
            Stop::At(_) => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Map(m, _)) => m.borrow().clone(),
                    _ => Data::new(),
                };
                if let Err(e) = self.key(&mut inner, level + 1) {
                    if !matches!(e, Fail::Eof) {
                        return (list, Err(e));
                    }
                    let r = set_index(&mut list, i, Value::map(inner));
                    return (list, r.and(Err(Fail::Eof)));
                }
                let r = set_index(&mut list, i, Value::map(inner));
                (list, r)
            }
        }
    }
}

enum ListRead {
    List(Vec<Value>),
    Eof,
    NotList,
    Err(String),
}

fn set_index(list: &mut Vec<Value>, i: i64, v: Value) -> Result<(), Fail> {
    if i < 0 {
        return Err(Fail::Msg(format!("negative {i} index not allowed")));
    }
    if i > MAX_INDEX {
        return Err(Fail::Msg(format!(
            "index of {i} is greater than maximum supported index of {MAX_INDEX}"
        )));
    }
    let i = i as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    Ok(())
}

/// Go's `strconv.ParseInt(s, 10, 64)` (a sign allowed, no underscores).
fn parse_dec_i64(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Parses one flag argument into `data` (helm's `strvals.ParseInto` and
/// friends). `read_file` reads `--set-file` paths.
pub fn parse_into_with(
    arg: &str,
    data: &mut Value,
    mode: Mode,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    let mut map = match data {
        Value::Map(m, _) => m.borrow().clone(),
        _ => Data::new(),
    };
    let mut p = P {
        s: arg.chars().collect(),
        i: 0,
        mode,
        read_file,
    };
    let r = loop {
        match p.key(&mut map, 0) {
            Ok(()) => continue,
            Err(Fail::Eof) => break Ok(()),
            Err(Fail::Msg(m)) => break Err(m),
        }
    };
    // helm's parser mutates the map as it goes, so a failed argument
    // still leaves what it set.
    match data {
        Value::Map(m, _) => *m.borrow_mut() = map,
        d => *d = Value::map(map),
    }
    r
}

fn read_file_std(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            format!("open {path}: {reason}")
        })
}

/// `strvals.ParseInto` (`--set`) and its siblings, reading `--set-file`
/// paths from disk.
pub fn parse_into(arg: &str, data: &mut Value, mode: Mode) -> Result<(), String> {
    parse_into_with(arg, data, mode, &read_file_std)
}

/// Parses one argument into a fresh map (`strvals.Parse`).
pub fn parse(arg: &str, mode: Mode) -> Result<Value, String> {
    let mut v = Value::empty_map();
    parse_into(arg, &mut v, mode)?;
    Ok(v)
}

/// The flag name helm uses in its error (`failed parsing --set data: …`).
pub fn flag_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Set => "--set",
        Mode::SetString => "--set-string",
        Mode::SetFile => "--set-file",
        Mode::SetJson => "--set-json",
        Mode::SetLiteral => "--set-literal",
    }
}

/// helm's CLI error for a bad argument. (For `--set-json` helm prints only
/// the argument, not the cause.)
pub fn cli_error(mode: Mode, arg: &str, err: &str) -> String {
    match mode {
        Mode::SetJson => format!("failed parsing --set-json data {arg}"),
        m => format!("failed parsing {} data: {err}", flag_name(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(arg: &str, mode: Mode) -> String {
        match parse(arg, mode) {
            Ok(v) => crate::yaml::to_json(&v).unwrap(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn set_like_helm() {
        let s = |a: &str| j(a, Mode::Set);
        assert_eq!(s("a=1"), r#"{"a":1}"#);
        assert_eq!(
            parse("a=1", Mode::Set)
                .unwrap()
                .get("a")
                .unwrap()
                .type_name(),
            "int64"
        );
        assert_eq!(s("a=1.5"), r#"{"a":"1.5"}"#);
        assert_eq!(s("a=true"), r#"{"a":true}"#);
        assert_eq!(s("a=null"), r#"{"a":null}"#);
        assert_eq!(s("a.b=c"), r#"{"a":{"b":"c"}}"#);
        assert_eq!(s(r"a=x\,y"), r#"{"a":"x,y"}"#);
        assert_eq!(s(r"a\.b=1"), r#"{"a.b":1}"#);
        assert_eq!(s("a={x,y}"), r#"{"a":["x","y"]}"#);
        assert_eq!(s("a[0].b=1"), r#"{"a":[{"b":1}]}"#);
        assert_eq!(s("a[1]=x"), r#"{"a":[null,"x"]}"#);
        assert_eq!(s("a="), r#"{"a":""}"#);
        assert_eq!(
            s("a=0x10,b=010,c=+5,d=-0,e=00"),
            r#"{"a":"0x10","b":"010","c":5,"d":0,"e":"00"}"#
        );
        assert_eq!(s("a=9223372036854775808"), r#"{"a":"9223372036854775808"}"#);
        assert_eq!(s("a={}"), r#"{"a":[""]}"#);
        assert_eq!(s("=x"), "{}");
        assert_eq!(s("[0]=1"), "{}");
        assert_eq!(s("a[0][1]=x"), r#"{"a":[[null,"x"]]}"#);
        assert_eq!(s("a[1]=x,a[0]=y"), r#"{"a":["y","x"]}"#);
        assert_eq!(s("a={x,{y}"), r#"{"a":["x","{y"]}"#);
        assert_eq!(s(r"a=x\y"), r#"{"a":"xy"}"#);
        assert_eq!(s("a=1=,b]=1"), r#"{"a":"1=","b]":1}"#);
        assert_eq!(s("a"), r#"ERR key "a" has no value"#);
        assert_eq!(
            s("a[x]=1"),
            r#"ERR error parsing index: strconv.Atoi: parsing "x": invalid syntax"#
        );
        assert_eq!(s("a[-1]=1"), "ERR negative -1 index not allowed");
        assert_eq!(s("a..b=1"), r#"ERR key map "a" has no value"#);
        assert_eq!(s("a.=1"), r#"ERR key map "a" has no value"#);
        assert_eq!(s("a={x,{y}}"), r#"ERR key "}" has no value"#);
        assert_eq!(
            s("a=1,,b=2"),
            r#"ERR key "" has no value (cannot end with ,)"#
        );
        assert_eq!(
            s("a,b=1"),
            r#"ERR key "a" has no value (cannot end with ,)"#
        );
        assert_eq!(s("a[0=1"), "ERR error parsing index: EOF");
        assert_eq!(
            s("a[0]]=1"),
            "ERR unexpected data at end of array index: [']']"
        );
        assert_eq!(
            s("a[100000]=1"),
            "ERR index of 100000 is greater than maximum supported index of 65536"
        );
        assert_eq!(
            s("a=1,a.b=2"),
            "ERR unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}"
        );
        assert_eq!(
            s("a[0]=1,a.b=2"),
            "ERR unable to parse key: interface conversion: interface {} is []interface {}, not map[string]interface {}"
        );
        assert_eq!(s("a.b"), r#"ERR key "b" has no value"#);
    }

    #[test]
    fn other_flags() {
        assert_eq!(
            j("a=1,b={1,x},c=null", Mode::SetString),
            r#"{"a":"1","b":["1","x"],"c":"null"}"#
        );
        assert_eq!(
            j(r#"a={"b":1,"c":[1.5,"x"]},d=2"#, Mode::SetJson),
            r#"{"a":{"b":1,"c":[1.5,"x"]},"d":2}"#
        );
        assert_eq!(
            parse("a=1", Mode::SetJson)
                .unwrap()
                .get("a")
                .unwrap()
                .type_name(),
            "float64"
        );
        assert_eq!(j("a=null", Mode::SetJson), r#"{"a":null}"#);
        assert_eq!(j("a[0]=1", Mode::SetJson), r#"{"a":[1]}"#);
        assert!(parse("a={bad", Mode::SetJson).is_err());
        assert_eq!(j("a=x,y", Mode::SetLiteral), r#"{"a":"x,y"}"#);
        assert_eq!(j("a.b={1}", Mode::SetLiteral), r#"{"a":{"b":"{1}"}}"#);
        assert_eq!(j(r"a\.b=c", Mode::SetLiteral), r#"{"a\\":{"b":"c"}}"#);
        let mut v = Value::empty_map();
        parse_into_with("a=/x", &mut v, Mode::SetFile, &|p| {
            Ok(format!("content of {p}"))
        })
        .unwrap();
        assert_eq!(
            crate::yaml::to_json(&v).unwrap(),
            r#"{"a":"content of /x"}"#
        );
    }
}
