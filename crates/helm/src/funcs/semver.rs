//! Sprig's `semver` and `semverCompare`, with Masterminds/semver v3's
//! rules (not Cargo's, not strict SemVer).
//!
//! Versions parse leniently: a `v` prefix, missing minor and patch (`1.2`
//! is 1.2.0), leading zeros in numbers (`01.2.3`) — but not in numeric
//! pre-release parts ("Version segment starts with 0").
//!
//! Constraints: comparisons `= != > < >= <= => =<`, tilde `~1.2` (same
//! minor), caret `^1.2` (same major; same minor below 1.0), wildcards
//! `1.x`, `1.2.*`, hyphen ranges `1.2 - 1.4.5`, AND by space or comma,
//! OR by `||`. A version with a pre-release only satisfies a constraint
//! that itself names a pre-release — which is why charts write
//! `>=1.21-0`: it admits cloud builds such as `v1.33.0-gke.1`.
//! Wildcards make a constraint "dirty", which changes the comparisons:
//! `>1.2` means 1.3 or later, `<=1.2` admits 1.2.9.

use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;

use super::{Funcs, Ty};
use crate::template::{Object, Value};

pub fn register(f: &mut Funcs) {
    f.add("semver", &[Ty::Str], |_, a| {
        let v = Version::parse(a[0].as_str().unwrap_or(""))?;
        Ok(Value::Object(Rc::new(SemverObject { v, pointer: true })))
    });
    f.add("semverCompare", &[Ty::Str, Ty::Str], |_, a| {
        let c = Constraints::parse(a[0].as_str().unwrap_or(""))?;
        let v = Version::parse(a[1].as_str().unwrap_or(""))?;
        Ok(Value::Bool(c.check(&v)))
    });
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
    .unwrap()
});
static CONSTRAINT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*({OPS})\s*({CV})\s*$")).unwrap());
static RANGE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\s*({CV})\s+-\s+({CV})\s*")).unwrap());
static FIND_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"({OPS})\s*({CV})")).unwrap());
static VALID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
    ))
    .unwrap()
});

/// A Masterminds `Version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

impl Version {
    /// `semver.NewVersion`.
    pub fn parse(s: &str) -> Result<Version, String> {
        let m = VERSION_RE.captures(s).ok_or("Invalid Semantic Version")?;
        let num = |i: usize| -> Result<u64, String> {
            match m.get(i) {
                None => Ok(0),
                Some(g) => {
                    let t = g.as_str().trim_start_matches('.');
                    t.parse::<u64>().map_err(|_| {
                        format!(
                            "Error parsing version segment: strconv.ParseUint: parsing {}: value out of range",
                            crate::template::gofmt::quote(t)
                        )
                    })
                }
            }
        };
        let v = Version {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre: m.get(5).map_or("", |g| g.as_str()).to_string(),
            metadata: m.get(8).map_or("", |g| g.as_str()).to_string(),
            original: s.to_string(),
        };
        for part in v.pre.split('.').filter(|_| !v.pre.is_empty()) {
            if part.bytes().all(|b| b.is_ascii_digit()) && part.len() > 1 && part.starts_with('0') {
                return Err("Version segment starts with 0".into());
            }
        }
        Ok(v)
    }

    /// `Version.String()`: normalized, without the `v`.
    pub fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// SemVer precedence (metadata ignored, a pre-release sorts first).
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }

    fn v_prefix(&self) -> &str {
        match self.original.as_bytes().first() {
            Some(b'v') => "v",
            Some(b'V') => "V",
            _ => "",
        }
    }

    fn inc(&self, part: &str) -> Version {
        let mut n = self.clone();
        n.metadata.clear();
        match part {
            "major" => {
                n.pre.clear();
                (n.major, n.minor, n.patch) = (self.major + 1, 0, 0);
            }
            "minor" => {
                n.pre.clear();
                (n.minor, n.patch) = (self.minor + 1, 0);
            }
            _ => {
                if self.pre.is_empty() {
                    n.patch = self.patch + 1;
                }
                n.pre.clear();
            }
        }
        n.original = format!("{}{}", self.v_prefix(), n.string());
        n
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (ap, bp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..ap.len().max(bp.len()) {
        let d = compare_pre_part(
            ap.get(i).copied().unwrap_or(""),
            bp.get(i).copied().unwrap_or(""),
        );
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => s.cmp(o),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Clone, Debug)]
struct Constraint {
    op: Op,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraint {
    fn parse(c: &str) -> Result<Constraint, String> {
        let m = CONSTRAINT_RE
            .captures(c)
            .ok_or_else(|| format!("improper constraint: {c}"))?;
        let g = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let op = match g(1) {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            _ => Op::Caret,
        };
        let (mut ver, mut minor_dirty, mut patch_dirty, mut dirty) =
            (g(2).to_string(), false, false, false);
        if is_x(g(3)) || g(3).is_empty() {
            ver = format!("0.0.0{}", g(6));
            dirty = true;
        } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
            minor_dirty = true;
            dirty = true;
            ver = format!("{}.0.0{}", g(3), g(6));
        } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
            dirty = true;
            patch_dirty = true;
            ver = format!("{}{}.0{}", g(3), g(4), g(6));
        }
        let con = Version::parse(&ver).map_err(|_| "constraint Parser Error".to_string())?;
        Ok(Constraint {
            op,
            con,
            minor_dirty,
            patch_dirty,
            dirty,
        })
    }

    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        // A pre-release version only matches constraints that name one
        // (`!=` applies the rule only with wildcards).
        if !v.pre.is_empty() && c.pre.is_empty() && (self.op != Op::NotEqual || self.dirty) {
            return false;
        }
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == Ordering::Greater
                }
            }
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// `semver.Constraints`: OR of ANDs.
struct Constraints(Vec<Vec<Constraint>>);

/// helm's `chartutil.IsCompatibleRange`: does `version` meet the
/// constraint `range`? A range or version that does not parse is "no".
pub fn is_compatible_range(range: &str, version: &str) -> bool {
    match (Constraints::parse(range), Version::parse(version)) {
        (Ok(c), Ok(v)) => c.check(&v),
        _ => false,
    }
}

impl Constraints {
    /// `semver.NewConstraint`.
    fn parse(c: &str) -> Result<Constraints, String> {
        // Hyphen ranges become ">= a, <= b".
        let mut s = c.to_string();
        let ranges: Vec<(String, String, String)> = RANGE_RE
            .captures_iter(c)
            .map(|m| (m[0].to_string(), m[1].to_string(), m[11].to_string()))
            .collect();
        for (whole, a, b) in ranges {
            s = s.replacen(&whole, &format!(">= {a}, <= {b} "), 1);
        }
        let mut ors = Vec::new();
        for part in s.split("||") {
            if !VALID_RE.is_match(part) {
                return Err(format!("improper constraint: {part}"));
            }
            let found: Vec<&str> = FIND_RE.find_iter(part).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![part] } else { found };
            ors.push(
                found
                    .into_iter()
                    .map(Constraint::parse)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Constraints(ors))
    }

    fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|and| and.iter().all(|c| c.check(v)))
    }
}

/// `*semver.Version` as templates see it: `.Major`, `.Prerelease`,
/// `.Original` …, `.Compare`/`.LessThan`/`.GreaterThan`/`.Equal` with
/// another version, and `.IncMajor`/`.IncMinor`/`.IncPatch` (which return
/// a `semver.Version` value).
pub struct SemverObject {
    pub v: Version,
    pub pointer: bool,
}

impl SemverObject {
    fn other(arg: &Value) -> Result<Version, String> {
        let orig = match arg {
            Value::Object(o) => o.field("Original"),
            _ => None,
        };
        match orig {
            Some(Value::String(s)) => Version::parse(&s),
            _ => Err(format!(
                "wrong type for value; expected *semver.Version; got {}",
                arg.type_name()
            )),
        }
    }
}

impl Object for SemverObject {
    fn type_name(&self) -> String {
        if self.pointer {
            "*semver.Version"
        } else {
            "semver.Version"
        }
        .into()
    }

    fn field(&self, name: &str) -> Option<Value> {
        let v = &self.v;
        let inc = |part| {
            Value::Object(Rc::new(SemverObject {
                v: v.inc(part),
                pointer: false,
            }))
        };
        Some(match name {
            // Go's type is uint64; the value model has int64.
            "Major" => Value::Int64(v.major as i64),
            "Minor" => Value::Int64(v.minor as i64),
            "Patch" => Value::Int64(v.patch as i64),
            "Prerelease" => Value::str(v.pre.as_str()),
            "Metadata" => Value::str(v.metadata.as_str()),
            // A pointer method: not there on the `semver.Version` values
            // that the Inc* methods return.
            "Original" if self.pointer => Value::str(v.original.as_str()),
            "String" => Value::str(v.string()),
            "IncMajor" => inc("major"),
            "IncMinor" => inc("minor"),
            "IncPatch" => inc("patch"),
            _ => return None,
        })
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !self.has_method(name) {
            return None;
        }
        if args.len() != 1 {
            return Some(Err(format!(
                "wrong number of args for {name}: want 1 got {}",
                args.len()
            )));
        }
        Some(Self::other(&args[0]).map(|o| {
            let c = self.v.compare(&o);
            match name {
                "Compare" => Value::Int(c as i64),
                "LessThan" => Value::Bool(c == Ordering::Less),
                "GreaterThan" => Value::Bool(c == Ordering::Greater),
                _ => Value::Bool(c == Ordering::Equal),
            }
        }))
    }

    fn has_method(&self, name: &str) -> bool {
        self.pointer && matches!(name, "Compare" | "LessThan" | "GreaterThan" | "Equal")
    }

    fn display(&self) -> String {
        self.v.string()
    }

    fn to_data(&self) -> Value {
        Value::str(self.v.string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::{Funcs, call};
    use crate::template::gofmt;

    fn cmp(c: &str, v: &str) -> Result<bool, String> {
        match call(
            &Funcs::helm(),
            "semverCompare",
            &[Value::str(c), Value::str(v)],
        )? {
            Value::Bool(b) => Ok(b),
            other => panic!("{other:?}"),
        }
    }
    fn sv(v: &str) -> Result<Value, String> {
        call(&Funcs::helm(), "semver", &[Value::str(v)])
    }
    fn field(v: &Value, f: &str) -> String {
        match v {
            Value::Object(o) => gofmt::sprint(&o.field(f).unwrap()),
            _ => panic!(),
        }
    }

    /// Each case: constraint, version, what helm 3.18 answered.
    fn check_all(cases: &[(&str, &str, bool)]) {
        for (c, v, want) in cases {
            assert_eq!(cmp(c, v).unwrap(), *want, "semverCompare {c:?} {v:?}");
        }
    }

    #[test]
    fn versions_parse_leniently() {
        let v = sv("v1.2.3-beta.1+build.5").unwrap();
        assert_eq!(gofmt::sprint(&v), "1.2.3-beta.1+build.5");
        assert_eq!(v.type_name(), "*semver.Version");
        assert_eq!(field(&v, "Original"), "v1.2.3-beta.1+build.5");
        assert_eq!(field(&sv("1.2").unwrap(), "Minor"), "2");
        assert_eq!(field(&sv("1.2").unwrap(), "Patch"), "0");
        assert_eq!(field(&sv("1.2.3-rc1").unwrap(), "Prerelease"), "rc1");
        assert_eq!(gofmt::sprint(&sv("01.2.3").unwrap()), "1.2.3");
        for bad in ["1.2.3.4", "abc", " 1.2.3", "V1.2.3"] {
            assert_eq!(sv(bad).unwrap_err(), "Invalid Semantic Version", "{bad}");
        }
        assert_eq!(sv("1.2.3-01").unwrap_err(), "Version segment starts with 0");
        // helm: (semver "1.2.3").IncMinor → 1.3.0; (semver "1.2.3-a").IncPatch → 1.2.3
        assert_eq!(field(&sv("1.2.3").unwrap(), "IncMinor"), "1.3.0");
        assert_eq!(field(&sv("1.2.3-a").unwrap(), "IncPatch"), "1.2.3");
        assert_eq!(field(&sv("1.2.3").unwrap(), "IncMajor"), "2.0.0");
        // helm: (semver "v1.2.3").IncMajor.Original → can't evaluate field Original in type semver.Version
        let Value::Object(o) = sv("1.2.3").unwrap() else {
            panic!()
        };
        let Some(Value::Object(inc)) = o.field("IncMajor") else {
            panic!()
        };
        assert_eq!(inc.type_name(), "semver.Version");
        assert!(inc.field("Original").is_none() && !inc.has_method("Compare"));
        let Value::Object(o) = sv("1.2.3").unwrap() else {
            panic!()
        };
        let c = o
            .method("Compare", &[sv("1.3.0").unwrap()])
            .unwrap()
            .unwrap();
        assert_eq!(c, Value::Int(-1));
        let e = o
            .method("Equal", &[sv("1.2.3+x").unwrap()])
            .unwrap()
            .unwrap();
        assert_eq!(e, Value::Bool(true));
    }

    #[test]
    fn basic_constraints() {
        check_all(&[
            ("^1.2.0", "1.5.0", true),
            ("^1.2.0", "2.0.0", false),
            (">=1.21-0", "v1.33.0", true),
            (">=1.21-0", "1.33.0-gke.1", true),
            (">=1.21", "1.33.0-gke.1", false),
            ("~1.2", "1.2.9", true),
            ("~1.2", "1.3.0", false),
            ("1.x", "1.9.9", true),
            ("1.x", "2.0.0", false),
            ("<1.25-0", "v1.33.0", false),
        ]);
    }

    #[test]
    fn ranges() {
        check_all(&[
            (">= 1.2 < 3", "2.5.0", true),
            (">= 1.2, < 3", "3.0.0", false),
            ("<1.0 || >=2.0", "1.5.0", false),
            ("<1.0 || >=2.0", "2.1.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4", "1.4.9", true),
            (" >= 1.0.0 ", "1.0.0", true),
            (">=1.0.0,<2", "1.5.0", true),
            (">=1.0.0 ,<2", "1.5.0", true),
            ("1.0.0||2.0.0", "2.0.0", true),
            ("1.0.0 || 2.0.0", "2.0.0", true),
            ("1.x - 2.x", "2.5.0", true),
            ("1.2.3 - 2", "2.9.9", true),
        ]);
    }

    #[test]
    fn caret_and_tilde() {
        check_all(&[
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false),
            ("^0", "0.9.0", true),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^*", "5.0.0", false),
            ("^1.x", "1.9.0", true),
            ("^0.x", "0.9.0", true),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~1.2.3", "1.2.2", false),
            ("~>1.2.3", "1.2.9", true),
            ("~*", "3.0.0", true),
            ("~0", "0.5.0", true),
            ("~0.0.0", "5.0.0", true),
            ("~1.x", "1.5.0", true),
        ]);
    }

    #[test]
    fn operators_and_wildcards() {
        check_all(&[
            (">1.2", "1.2.5", false),
            (">1.2", "1.3.0", true),
            (">1", "1.9.0", false),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<=1", "1.9.0", true),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.2", "1.2.5", false),
            ("!=1.2", "1.3.5", true),
            ("=1.2.3", "v1.2.3", true),
            ("1.2.3", "1.2.3+meta", true),
            ("=>1.0", "1.0.0", true),
            ("=<1.0", "1.0.0", true),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0-rc1", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.*", "1.3.0", false),
            ("1.X", "1.0.0", true),
            ("x", "9.9.9", true),
            (">=1.x", "0.9.0", false),
            ("<1.x", "0.9.0", true),
            ("<2.x", "2.1.0", false),
            (">1.x", "2.0.0", true),
            ("<=1.2.x", "1.2.9", true),
        ]);
    }

    #[test]
    fn prereleases() {
        check_all(&[
            (">=1.2.0-beta", "1.2.0-alpha", false),
            (">=1.2.0-beta", "1.2.0-beta.2", true),
            (">=1.2.0-beta.2", "1.2.0-beta.11", true),
            (">1.2.0-0", "1.2.0-rc.1", true),
            (">1.0.0", "1.2.0-rc.1", false),
            ("*", "1.0.0-rc", false),
            ("*", "1.0.0", true),
            ("1.2.x", "1.2.0-pre", false),
            (">=1.0.0-alpha.1", "1.0.0-alpha.beta", true),
            ("<1.0.0-1", "1.0.0-a", false),
            ("!=1.2.3", "1.2.4-rc", true),
            ("!=1.2", "1.3.0-rc", false),
            (">=1.2.0-0 <2", "1.5.0-rc", false),
            ("<2.0.0-0", "1.5.0-rc", true),
            ("^1.2-0", "1.5.0-rc", true),
            ("~1.2.0-0", "1.2.5-beta", true),
        ]);
    }

    #[test]
    fn errors() {
        assert_eq!(cmp("foo", "1.0.0").unwrap_err(), "improper constraint: foo");
        assert_eq!(
            cmp(">=1.0 <", "1.0.0").unwrap_err(),
            "improper constraint: >=1.0 <"
        );
        assert_eq!(cmp("", "1.0.0").unwrap_err(), "improper constraint: ");
        assert_eq!(
            cmp(">=1.0", "latest").unwrap_err(),
            "Invalid Semantic Version"
        );
        assert_eq!(cmp("1|2", "1.0.0").unwrap_err(), "constraint Parser Error");
        assert_eq!(
            sv("99999999999999999999.1.1").unwrap_err(),
            "Error parsing version segment: strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
        );
    }
}
