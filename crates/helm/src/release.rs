//! Releases, and how helm keeps them: one Secret per revision,
//! `sh.helm.release.v1.NAME.vN`, whose `release` key holds
//! `base64(gzip(json(release)))`. The JSON is Go's `encoding/json` of
//! helm's `release.Release` — struct fields in declaration order, map keys
//! sorted, `omitempty` where helm says so, `<`/`>`/`&` escaped, times in
//! RFC 3339 with nanoseconds (an unset time is `""`) — so that the real
//! helm reads what we write and we read what it writes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine;
use chrono::{DateTime, FixedOffset, Local, SecondsFormat, TimeZone, Timelike};
use serde_json::{Map, Value as J, json};

use crate::chart::Chart;
use crate::kube::{Client, KubeError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The statuses a release can have.
pub const STATUSES: &[&str] = &[
    "unknown",
    "deployed",
    "uninstalled",
    "superseded",
    "failed",
    "uninstalling",
    "pending-install",
    "pending-upgrade",
    "pending-rollback",
];

/// A point in time as helm keeps it (`None`: Go's zero time, written `""`).
pub type Time = Option<DateTime<FixedOffset>>;

/// Now, in the local zone (as Go's `time.Now()`).
pub fn now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// Go's `time.Time.MarshalJSON`: RFC 3339 with the nanoseconds' trailing
/// zeros dropped, `Z` for UTC.
pub fn go_rfc3339(t: &DateTime<FixedOffset>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let off = t.offset().local_minus_utc();
    let zone = if off == 0 {
        "Z".to_string()
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        format!(
            "{sign}{:02}:{:02}",
            off.abs() / 3600,
            (off.abs() % 3600) / 60
        )
    };
    format!("{base}{frac}{zone}")
}

fn parse_time(v: Option<&J>) -> Time {
    let s = v?.as_str()?;
    if s.is_empty() {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    (t.timestamp() > -62135596800).then_some(t)
}

fn time_json(t: &Time) -> J {
    J::String(t.as_ref().map(go_rfc3339).unwrap_or_default())
}

/// Go's `time.ANSIC`: `Mon Jan _2 15:04:05 2006`.
pub fn ansic(t: &DateTime<FixedOffset>) -> String {
    t.format("%a %b %e %H:%M:%S %Y").to_string()
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn go_time_string(t: &DateTime<FixedOffset>) -> String {
    let nanos = t.nanosecond() % 1_000_000_000;
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let off = t.offset().local_minus_utc();
    let num = format!(
        "{}{:02}{:02}",
        if off < 0 { '-' } else { '+' },
        off.abs() / 3600,
        (off.abs() % 3600) / 60
    );
    let name = if off == 0 {
        "UTC".to_string()
    } else {
        num.clone()
    };
    format!("{}{frac} {num} {name}", t.format("%Y-%m-%d %H:%M:%S"))
}

// ---- Go's encoding/json ------------------------------------------------------------

/// Writes JSON as Go's `json.Marshal` does: objects in the order given
/// (build them in struct order, or sorted for Go maps), HTML-escaped strings.
pub fn go_json(v: &J) -> String {
    let mut out = String::new();
    write_go_json(&mut out, v);
    out
}

fn write_go_json(out: &mut String, v: &J) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => {
                out.push_str(&crate::yaml::go_json_float(f).unwrap_or_else(|_| n.to_string()))
            }
            _ => out.push_str(&n.to_string()),
        },
        J::String(s) => go_json_string(out, s),
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, x);
            }
            out.push(']');
        }
        J::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                write_go_json(out, x);
            }
            out.push('}');
        }
    }
}

fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Sorts every object's keys (Go maps marshal sorted).
pub fn sorted(v: &J) -> J {
    match v {
        J::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            J::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&o[k])))
                    .collect(),
            )
        }
        J::Array(a) => J::Array(a.iter().map(sorted).collect()),
        v => v.clone(),
    }
}

// ---- the release -------------------------------------------------------------------

/// `release.Info`.
#[derive(Clone, Debug, Default)]
pub struct Info {
    pub first_deployed: Time,
    pub last_deployed: Time,
    pub deleted: Time,
    pub description: String,
    pub status: String,
    pub notes: String,
}

/// `release.HookExecution`.
#[derive(Clone, Debug, Default)]
pub struct HookExecution {
    pub started_at: Time,
    pub completed_at: Time,
    pub phase: String,
}

/// `release.Hook`.
#[derive(Clone, Debug, Default)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    pub events: Vec<String>,
    pub last_run: HookExecution,
    pub weight: i64,
    pub delete_policies: Vec<String>,
    pub output_log_policies: Vec<String>,
}

/// `release.Release`.
#[derive(Clone, Debug, Default)]
pub struct Release {
    pub name: String,
    pub info: Info,
    /// The chart as helm stores it (`chart.Chart`'s JSON), kept as read.
    pub chart: Option<J>,
    /// The user-supplied values.
    pub config: J,
    pub manifest: String,
    pub hooks: Vec<Hook>,
    pub version: i64,
    pub namespace: String,
    /// The Secret's labels that are not helm's own.
    pub labels: BTreeMap<String, String>,
}

fn str_of(v: &J, k: &str) -> String {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
}

fn strs_of(v: &J, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn put(o: &mut Map<String, J>, k: &str, v: J, omit_empty: bool) {
    let empty = match &v {
        J::Null => true,
        J::String(s) => s.is_empty(),
        J::Array(a) => a.is_empty(),
        J::Object(m) => m.is_empty(),
        J::Number(n) => n.as_f64() == Some(0.0),
        J::Bool(b) => !b,
    };
    if !(omit_empty && empty) {
        o.insert(k.to_string(), v);
    }
}

impl Hook {
    fn to_json(&self) -> J {
        let mut o = Map::new();
        put(&mut o, "name", J::from(self.name.clone()), true);
        put(&mut o, "kind", J::from(self.kind.clone()), true);
        put(&mut o, "path", J::from(self.path.clone()), true);
        put(&mut o, "manifest", J::from(self.manifest.clone()), true);
        put(&mut o, "events", json!(self.events), true);
        let mut lr = Map::new();
        lr.insert("started_at".into(), time_json(&self.last_run.started_at));
        lr.insert(
            "completed_at".into(),
            time_json(&self.last_run.completed_at),
        );
        lr.insert("phase".into(), J::from(self.last_run.phase.clone()));
        o.insert("last_run".into(), J::Object(lr));
        put(&mut o, "weight", J::from(self.weight), true);
        put(&mut o, "delete_policies", json!(self.delete_policies), true);
        put(
            &mut o,
            "output_log_policies",
            json!(self.output_log_policies),
            true,
        );
        J::Object(o)
    }

    fn from_json(v: &J) -> Hook {
        let lr = v.get("last_run").cloned().unwrap_or(J::Null);
        Hook {
            name: str_of(v, "name"),
            kind: str_of(v, "kind"),
            path: str_of(v, "path"),
            manifest: str_of(v, "manifest"),
            events: strs_of(v, "events"),
            last_run: HookExecution {
                started_at: parse_time(lr.get("started_at")),
                completed_at: parse_time(lr.get("completed_at")),
                phase: str_of(&lr, "phase"),
            },
            weight: v.get("weight").and_then(|w| w.as_i64()).unwrap_or(0),
            delete_policies: strs_of(v, "delete_policies"),
            output_log_policies: strs_of(v, "output_log_policies"),
        }
    }

    /// A hook from what the engine found.
    pub fn from_engine(h: &crate::engine::Hook) -> Hook {
        let output_log_policies = h
            .manifest
            .annotations
            .get("helm.sh/hook-output-log-policy")
            .map(|p| {
                p.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| x == "hook-succeeded" || x == "hook-failed")
                    .collect()
            })
            .unwrap_or_default();
        Hook {
            name: h.manifest.name.clone(),
            kind: h.manifest.kind.clone(),
            path: h.manifest.path.clone(),
            manifest: h.manifest.content.clone(),
            events: h.events.clone(),
            last_run: HookExecution::default(),
            weight: h.weight,
            delete_policies: h
                .delete_policies
                .iter()
                .filter(|p| {
                    matches!(
                        p.as_str(),
                        "hook-succeeded" | "hook-failed" | "before-hook-creation"
                    )
                })
                .cloned()
                .collect(),
            output_log_policies,
        }
    }
}

impl Release {
    /// The release as Go's `json.Marshal` writes it.
    pub fn to_json(&self) -> J {
        let mut o = Map::new();
        put(&mut o, "name", J::from(self.name.clone()), true);
        let mut info = Map::new();
        info.insert(
            "first_deployed".into(),
            time_json(&self.info.first_deployed),
        );
        info.insert("last_deployed".into(), time_json(&self.info.last_deployed));
        info.insert("deleted".into(), time_json(&self.info.deleted));
        put(
            &mut info,
            "description",
            J::from(self.info.description.clone()),
            true,
        );
        put(&mut info, "status", J::from(self.info.status.clone()), true);
        put(&mut info, "notes", J::from(self.info.notes.clone()), true);
        o.insert("info".into(), J::Object(info));
        if let Some(c) = &self.chart {
            o.insert("chart".into(), c.clone());
        }
        put(&mut o, "config", self.config.clone(), true);
        put(&mut o, "manifest", J::from(self.manifest.clone()), true);
        put(
            &mut o,
            "hooks",
            J::Array(self.hooks.iter().map(Hook::to_json).collect()),
            true,
        );
        put(&mut o, "version", J::from(self.version), true);
        put(&mut o, "namespace", J::from(self.namespace.clone()), true);
        J::Object(o)
    }

    pub fn from_json(v: &J) -> Release {
        let info = v.get("info").cloned().unwrap_or(J::Null);
        Release {
            name: str_of(v, "name"),
            info: Info {
                first_deployed: parse_time(info.get("first_deployed")),
                last_deployed: parse_time(info.get("last_deployed")),
                deleted: parse_time(info.get("deleted")),
                description: str_of(&info, "description"),
                status: str_of(&info, "status"),
                notes: str_of(&info, "notes"),
            },
            chart: v.get("chart").filter(|c| !c.is_null()).cloned(),
            config: v.get("config").cloned().unwrap_or(J::Null),
            manifest: str_of(v, "manifest"),
            hooks: v
                .get("hooks")
                .and_then(|h| h.as_array())
                .map(|a| a.iter().map(Hook::from_json).collect())
                .unwrap_or_default(),
            version: v.get("version").and_then(|x| x.as_i64()).unwrap_or(0),
            namespace: str_of(v, "namespace"),
            labels: BTreeMap::new(),
        }
    }

    // ANCHOR: encode
    /// `base64(gzip(json))`, as helm's storage driver encodes it.
    pub fn encode(&self) -> String {
        let json = go_json(&self.to_json());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = gz.write_all(json.as_bytes());
        let bytes = gz.finish().unwrap_or_default();
        B64.encode(bytes)
    }

    /// Reads what [`Release::encode`] (or helm) wrote; plain JSON is accepted too.
    pub fn decode(data: &str) -> Result<Release, String> {
        let mut b = B64.decode(data.trim()).map_err(|e| e.to_string())?;
        if b.len() > 3 && b[..3] == [0x1f, 0x8b, 0x08] {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&b[..])
                .read_to_end(&mut out)
                .map_err(|e| e.to_string())?;
            b = out;
        }
        let v: J = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
        Ok(Release::from_json(&v))
    }
    // ANCHOR_END: encode

    pub fn chart_meta(&self, key: &str) -> Option<String> {
        self.chart
            .as_ref()?
            .get("metadata")?
            .get(key)?
            .as_str()
            .map(String::from)
    }

    /// `demo-0.1.0` (helm's formatChartName), `MISSING` without a chart.
    pub fn chart_label(&self) -> String {
        match (
            self.chart_meta("name"),
            self.chart
                .as_ref()
                .and_then(|c| c.get("metadata"))
                .filter(|m| !m.is_null()),
        ) {
            (Some(n), Some(_)) => format!("{n}-{}", self.chart_meta("version").unwrap_or_default()),
            (None, Some(_)) => format!("-{}", self.chart_meta("version").unwrap_or_default()),
            _ => "MISSING".into(),
        }
    }

    pub fn app_version(&self) -> String {
        match self
            .chart
            .as_ref()
            .and_then(|c| c.get("metadata"))
            .filter(|m| !m.is_null())
        {
            Some(_) => self.chart_meta("appVersion").unwrap_or_default(),
            None => "MISSING".into(),
        }
    }

    /// The chart's default values (`chart.values`).
    pub fn chart_values(&self) -> J {
        self.chart
            .as_ref()
            .and_then(|c| c.get("values"))
            .cloned()
            .unwrap_or(J::Null)
    }

    pub fn set_status(&mut self, status: &str, description: &str) {
        self.info.status = status.to_string();
        self.info.description = description.to_string();
    }

    /// The Secret's name.
    pub fn key(&self) -> String {
        format!("sh.helm.release.v1.{}.v{}", self.name, self.version)
    }
}

// ---- the chart as helm stores it ------------------------------------------------------

fn file_list(files: &[(String, Vec<u8>)]) -> J {
    if files.is_empty() {
        return J::Null;
    }
    J::Array(
        files
            .iter()
            .map(|(n, d)| json!({"name": n, "data": B64.encode(d)}))
            .collect(),
    )
}

/// Go's lexical walk order (directories' entries sorted by name).
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

fn text_of(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        v => v.to_string(),
    }
}

/// `chart.Metadata`'s JSON: Go's field order and omitempty rules.
fn metadata_json(m: &J) -> J {
    let mut o = Map::new();
    let s = |k: &str| J::String(m.get(k).map(text_of).unwrap_or_default());
    let list = |k: &str| {
        J::Array(
            m.get(k)
                .and_then(|x| x.as_array())
                .map(|a| a.iter().map(|x| J::String(text_of(x))).collect())
                .unwrap_or_default(),
        )
    };
    put(&mut o, "name", s("name"), true);
    put(&mut o, "home", s("home"), true);
    put(&mut o, "sources", list("sources"), true);
    put(&mut o, "version", s("version"), true);
    put(&mut o, "description", s("description"), true);
    put(&mut o, "keywords", list("keywords"), true);
    let maint: Vec<J> = m
        .get("maintainers")
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .map(|mt| {
                    let mut x = Map::new();
                    for k in ["name", "email", "url"] {
                        put(
                            &mut x,
                            k,
                            J::String(mt.get(k).map(text_of).unwrap_or_default()),
                            true,
                        );
                    }
                    J::Object(x)
                })
                .collect()
        })
        .unwrap_or_default();
    put(&mut o, "maintainers", J::Array(maint), true);
    put(&mut o, "icon", s("icon"), true);
    put(&mut o, "apiVersion", s("apiVersion"), true);
    put(&mut o, "condition", s("condition"), true);
    put(&mut o, "tags", s("tags"), true);
    put(&mut o, "appVersion", s("appVersion"), true);
    put(
        &mut o,
        "deprecated",
        J::Bool(
            m.get("deprecated")
                .and_then(|d| d.as_bool())
                .unwrap_or(false),
        ),
        true,
    );
    let ann: Map<String, J> = m
        .get("annotations")
        .and_then(|a| a.as_object())
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.clone(), J::String(text_of(v))))
                .collect()
        })
        .unwrap_or_default();
    put(&mut o, "annotations", sorted(&J::Object(ann)), true);
    put(&mut o, "kubeVersion", s("kubeVersion"), true);
    let deps: Vec<J> = m
        .get("dependencies")
        .and_then(|x| x.as_array())
        .map(|a| a.iter().map(dependency_json).collect())
        .unwrap_or_default();
    put(&mut o, "dependencies", J::Array(deps), true);
    put(&mut o, "type", s("type"), true);
    J::Object(o)
}

fn dependency_json(d: &J) -> J {
    let mut x = Map::new();
    let s = |k: &str| J::String(d.get(k).map(text_of).unwrap_or_default());
    x.insert("name".into(), s("name"));
    put(&mut x, "version", s("version"), true);
    x.insert("repository".into(), s("repository"));
    put(&mut x, "condition", s("condition"), true);
    put(
        &mut x,
        "tags",
        d.get("tags").cloned().unwrap_or(J::Null),
        true,
    );
    put(
        &mut x,
        "enabled",
        d.get("enabled").cloned().unwrap_or(J::Null),
        true,
    );
    put(
        &mut x,
        "import-values",
        d.get("import-values").cloned().unwrap_or(J::Null),
        true,
    );
    put(&mut x, "alias", s("alias"), true);
    J::Object(x)
}

/// The chart (top level only: helm does not store subcharts) as
/// `chart.Chart` marshals.
pub fn chart_json(chart: &Chart, values: J) -> J {
    let mut o = Map::new();
    o.insert("metadata".into(), metadata_json(&chart.metadata));
    let lock = chart
        .raw
        .get("Chart.lock")
        .and_then(|l| serde_yaml::from_slice::<J>(l).ok())
        .map(|l| {
            let generated = l.get("generated").and_then(|g| g.as_str()).and_then(|g| DateTime::parse_from_rfc3339(g).ok());
            json!({
                "generated": generated.map(|g| go_rfc3339(&g)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                "digest": l.get("digest").map(text_of).unwrap_or_default(),
                "dependencies": J::Array(l.get("dependencies").and_then(|d| d.as_array()).map(|a| a.iter().map(dependency_json).collect()).unwrap_or_default()),
            })
        })
        .unwrap_or(J::Null);
    o.insert("lock".into(), lock);
    let mut templates: Vec<(String, Vec<u8>)> = chart
        .raw
        .iter()
        .filter(|(n, _)| n.starts_with("templates/"))
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect();
    templates.sort_by(|a, b| walk_order(&a.0, &b.0));
    o.insert("templates".into(), file_list(&templates));
    o.insert("values".into(), sorted(&values));
    o.insert(
        "schema".into(),
        chart
            .schema
            .as_ref()
            .map(|s| J::String(B64.encode(s)))
            .unwrap_or(J::Null),
    );
    let mut files: Vec<(String, Vec<u8>)> = chart
        .files
        .iter()
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect();
    files.sort_by(|a, b| walk_order(&a.0, &b.0));
    o.insert("files".into(), file_list(&files));
    J::Object(o)
}

// ---- storage: Secrets ----------------------------------------------------------------

pub const SYSTEM_LABELS: &[&str] = &[
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// The system labels as helm's error messages print them (`%+v` of a slice).
pub fn system_labels_go() -> String {
    format!("[{}]", SYSTEM_LABELS.join(" "))
}

/// helm's storage errors, worded as helm words them.
pub const NOT_FOUND: &str = "release: not found";

/// Releases kept as Secrets in one namespace (all namespaces when empty,
/// for listing).
pub struct Storage {
    pub client: Client,
    pub namespace: String,
}

fn secret_to_release(s: &J) -> Option<Release> {
    let data = s.pointer("/data/release")?.as_str()?;
    let inner = B64.decode(data).ok()?;
    let mut r = Release::decode(&String::from_utf8_lossy(&inner)).ok()?;
    if let Some(l) = s.pointer("/metadata/labels").and_then(|l| l.as_object()) {
        r.labels = l
            .iter()
            .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect();
    }
    Some(r)
}

impl Storage {
    pub fn new(client: Client, namespace: &str) -> Storage {
        Storage {
            client,
            namespace: namespace.to_string(),
        }
    }

    // ANCHOR: secret
    fn secret(&self, r: &Release, stamp: &str) -> J {
        let mut labels: BTreeMap<String, String> = r.labels.clone();
        labels.insert(
            stamp.to_string(),
            chrono::Utc::now().timestamp().to_string(),
        );
        labels.insert("name".into(), r.name.clone());
        labels.insert("owner".into(), "helm".into());
        labels.insert("status".into(), r.info.status.clone());
        labels.insert("version".into(), r.version.to_string());
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": r.key(), "namespace": self.ns(r), "labels": labels},
            "type": "helm.sh/release.v1",
            "data": {"release": B64.encode(r.encode())},
        })
    }
    // ANCHOR_END: secret

    fn ns<'a>(&'a self, r: &'a Release) -> &'a str {
        if self.namespace.is_empty() {
            &r.namespace
        } else {
            &self.namespace
        }
    }

    /// Stores a new revision (`release: already exists` if it is there).
    pub fn create(&self, r: &Release) -> Result<(), String> {
        match self.client.create(&self.secret(r, "createdAt"), self.ns(r)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_already_exists() => Err("release: already exists".into()),
            Err(e) => Err(format!("create: failed to create: {e}")),
        }
    }

    /// helm's `--history-max`: before a new revision is stored, the oldest
    /// are deleted so that at most `max` remain with it (0: keep all). The
    /// deployed revision is never among them (storage.removeLeastRecent).
    pub fn remove_least_recent(&self, name: &str, max: usize) -> Result<(), String> {
        if max == 0 {
            return Ok(());
        }
        let keep = max - 1;
        let history = match self.history(name) {
            Ok(h) => h,
            Err(e) if e == NOT_FOUND => return Ok(()),
            Err(e) => return Err(e),
        };
        if history.len() <= keep {
            return Ok(());
        }
        let deployed = match self.deployed(name) {
            Ok(r) => Some(r.version),
            Err(e) if e.ends_with("has no deployed releases") => None,
            Err(e) => return Err(e),
        };
        let mut doomed = vec![];
        for r in &history {
            if history.len() - doomed.len() == keep {
                break;
            }
            if Some(r.version) != deployed {
                doomed.push(r);
            }
        }
        // as helm: delete them all, then report the first failure
        let errors: Vec<String> = doomed
            .into_iter()
            .filter_map(|r| self.delete(r).err().map(|e| e.to_string()))
            .collect();
        match errors.as_slice() {
            [] => Ok(()),
            [one] => Err(one.clone()),
            [first, ..] => Err(format!(
                "encountered {} deletion errors. First is: {first}",
                errors.len()
            )),
        }
    }

    /// Rewrites a stored revision.
    pub fn update(&self, r: &Release) -> Result<(), String> {
        self.client
            .replace(&self.secret(r, "modifiedAt"), self.ns(r))
            .map(|_| ())
            .map_err(|e| format!("update: failed to update: {e}"))
    }

    pub fn delete(&self, r: &Release) -> Result<(), KubeError> {
        self.client
            .delete("v1", "Secret", self.ns(r), &r.key())
            .map(|_| ())
    }

    /// One revision.
    pub fn get(&self, name: &str, version: i64) -> Result<Release, String> {
        let key = format!("sh.helm.release.v1.{name}.v{version}");
        match self.client.get("v1", "Secret", &self.namespace, &key) {
            Ok(Some(s)) => {
                secret_to_release(&s).ok_or_else(|| format!("get: failed to decode data {key:?}"))
            }
            Ok(None) => Err(NOT_FOUND.into()),
            Err(e) => Err(format!("get: failed to get {key:?}: {e}")),
        }
    }

    fn query(&self, selector: &str) -> Result<Vec<Release>, String> {
        let items = self
            .client
            .list("v1", "Secret", &self.namespace, selector)
            .map_err(|e| format!("query: failed to query with labels: {e}"))?;
        Ok(items.iter().filter_map(secret_to_release).collect())
    }

    /// Every revision of a release, oldest first (`release: not found` if none).
    pub fn history(&self, name: &str) -> Result<Vec<Release>, String> {
        let mut h = self.query(&format!("name={name},owner=helm"))?;
        if h.is_empty() {
            return Err(NOT_FOUND.into());
        }
        h.sort_by_key(|r| r.version);
        Ok(h)
    }

    /// The newest revision.
    pub fn last(&self, name: &str) -> Result<Release, String> {
        self.history(name)?.pop().ok_or_else(|| NOT_FOUND.into())
    }

    /// The deployed revisions, newest first (`"x" has no deployed releases` if none).
    pub fn deployed_all(&self, name: &str) -> Result<Vec<Release>, String> {
        let mut h = self.query(&format!("name={name},owner=helm,status=deployed"))?;
        if h.is_empty() {
            return Err(format!("{name:?} has no deployed releases"));
        }
        h.sort_by_key(|r| -r.version);
        Ok(h)
    }

    pub fn deployed(&self, name: &str) -> Result<Release, String> {
        Ok(self.deployed_all(name)?.remove(0))
    }

    /// Every stored revision of every release in the namespace(s).
    pub fn list(&self) -> Result<Vec<Release>, String> {
        let items = self
            .client
            .list("v1", "Secret", &self.namespace, "owner=helm")
            .map_err(|e| format!("list: failed to list: {e}"))?;
        Ok(items.iter().filter_map(secret_to_release).collect())
    }
}

/// Makes a time from unix seconds (for tests).
pub fn from_unix(secs: i64, nanos: u32) -> DateTime<FixedOffset> {
    chrono::Utc
        .timestamp_opt(secs, nanos)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

/// RFC 3339 with whole seconds (for messages).
pub fn rfc3339_secs(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_go_writes_them() {
        let t = from_unix(1796041446, 699961322);
        assert_eq!(go_rfc3339(&t), "2026-11-30T12:24:06.699961322Z");
        assert_eq!(
            go_rfc3339(&from_unix(1796041446, 500_000_000)),
            "2026-11-30T12:24:06.5Z"
        );
        assert_eq!(
            go_time_string(&t),
            "2026-11-30 12:24:06.699961322 +0000 UTC"
        );
        assert_eq!(ansic(&from_unix(1796041446, 0)), "Mon Nov 30 12:24:06 2026");
        assert_eq!(
            ansic(&from_unix(1796041446 - 29 * 86400, 0)),
            "Sun Nov  1 12:24:06 2026"
        );
    }

    #[test]
    fn json_as_go_writes_it() {
        let v = json!({"b": "<a & b>\n", "a": [1, 2.5, null, true]});
        assert_eq!(
            go_json(&v),
            r#"{"b":"\u003ca \u0026 b\u003e\n","a":[1,2.5,null,true]}"#
        );
        assert_eq!(
            go_json(&sorted(&v)),
            r#"{"a":[1,2.5,null,true],"b":"\u003ca \u0026 b\u003e\n"}"#
        );
    }

    #[test]
    fn a_release_round_trips() {
        let mut r = Release {
            name: "r1".into(),
            namespace: "default".into(),
            version: 2,
            manifest: "---\n# Source: x\nkind: A\n".into(),
            ..Default::default()
        };
        r.info.first_deployed = Some(from_unix(1, 5));
        r.info.status = "deployed".into();
        r.hooks.push(Hook {
            name: "h".into(),
            events: vec!["test".into()],
            ..Default::default()
        });
        let text = go_json(&r.to_json());
        assert!(text.starts_with(r#"{"name":"r1","info":{"first_deployed":"1970-01-01T00:00:01.000000005Z","last_deployed":"","deleted":"","status":"deployed"},"manifest""#), "{text}");
        assert!(text.contains(r#""hooks":[{"name":"h","events":["test"],"last_run":{"started_at":"","completed_at":"","phase":""}}],"version":2,"namespace":"default"}"#), "{text}");
        let back = Release::decode(&r.encode()).unwrap();
        assert_eq!(go_json(&back.to_json()), text);
        // plain JSON is read too
        let plain = Release::decode(&B64.encode(text.as_bytes())).unwrap();
        assert_eq!(plain.version, 2);
    }
}
