//! Rendering a chart: every template of the chart and its subcharts in one
//! template set, each executed with its own chart's values, then the output
//! split into manifests, hooks picked out, and everything sorted into
//! helm's install order.
//!
//! The order of parsing matters for `define`: helm parses the deepest
//! files first and the parent chart's last, so a parent's definition of a
//! shared name wins over a subchart's.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::chart::Chart;
use crate::funcs::templates::{WARN_END, WARN_START};
use crate::funcs::{Funcs, Ty};
use crate::template::{Object, Templates, Value, gofmt};

/// `.Release` for rendering.
#[derive(Clone, Debug)]
pub struct ReleaseOptions {
    pub name: String,
    pub namespace: String,
    pub revision: i64,
    pub is_install: bool,
    pub is_upgrade: bool,
}

/// What the cluster offers (`.Capabilities`): the Kubernetes version and
/// the API group versions it serves.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// `v1.33.0`
    pub kube_version: String,
    pub api_versions: Vec<String>,
}

/// The group versions `helm template` assumes without a cluster (helm
/// 3.18's built-in list, client-go 1.33).
pub const DEFAULT_API_VERSIONS: &str = include_str!("api_versions.txt");

impl Default for Capabilities {
    fn default() -> Capabilities {
        Capabilities {
            kube_version: "v1.33.0".into(),
            api_versions: DEFAULT_API_VERSIONS.lines().map(String::from).collect(),
        }
    }
}

impl Capabilities {
    /// `--kube-version 1.30` → `v1.30.0`, as helm normalizes it.
    pub fn with_kube_version(mut self, v: &str) -> Result<Capabilities, String> {
        let t = v.trim_start_matches('v');
        let parts: Vec<&str> = t.split(['.', '-', '+']).collect();
        if parts.is_empty() || parts[0].parse::<u64>().is_err() {
            return Err(format!(
                "invalid kube version '{v}': Invalid Semantic Version"
            ));
        }
        let minor = parts
            .get(1)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0);
        let patch = parts
            .get(2)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0);
        self.kube_version = format!("v{}.{}.{}", parts[0], minor, patch);
        Ok(self)
    }

    fn major_minor(&self) -> (String, String) {
        let t = self.kube_version.trim_start_matches('v');
        let mut it = t.split('.');
        (
            it.next().unwrap_or("").to_string(),
            it.next().unwrap_or("").to_string(),
        )
    }
}

// ---- the objects templates see -------------------------------------------------

struct KubeVersion(Capabilities);

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "chartutil.KubeVersion".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let (major, minor) = self.0.major_minor();
        Some(match name {
            "Version" | "GitVersion" => Value::str(self.0.kube_version.as_str()),
            "Major" => Value::str(major),
            "Minor" => Value::str(minor),
            "String" => Value::str(self.0.kube_version.as_str()),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        let (major, minor) = self.0.major_minor();
        format!("{{{} {} {}}}", self.0.kube_version, major, minor)
    }
}

struct ApiVersions(Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> String {
        "chartutil.VersionSet".into()
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Has"
    }
    fn method_params(&self, _name: &str) -> &'static [Ty] {
        &[Ty::Str]
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        let want = args.first().and_then(|a| a.as_str()).unwrap_or("");
        Some(Ok(Value::Bool(self.0.iter().any(|v| v == want))))
    }
    fn truth(&self) -> bool {
        !self.0.is_empty()
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_data(&self) -> Value {
        Value::str_list(self.0.clone())
    }
}

struct CapabilitiesObject(Capabilities);

impl Object for CapabilitiesObject {
    fn type_name(&self) -> String {
        "*chartutil.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => Value::Object(Rc::new(KubeVersion(self.0.clone()))),
            // ranged over as a list, asked with .Has
            "APIVersions" => Value::Object(Rc::new(ApiVersions(self.0.api_versions.clone()))),
            "HelmVersion" => Value::map(BTreeMap::from([
                ("Version".to_string(), Value::str("v3.18.0")),
                (
                    "GitCommit".to_string(),
                    Value::str("cc58e3f5a3aa615c6a86275e6f4444b5fdd3cc4e"),
                ),
                ("GitTreeState".to_string(), Value::str("clean")),
                ("GoVersion".to_string(), Value::str("go1.24.3")),
            ])),
            _ => return None,
        })
    }
}

/// `.Chart`: Chart.yaml with Go's field names and zero values.
struct ChartObject {
    meta: serde_json::Value,
    is_root: bool,
}

impl Object for ChartObject {
    fn type_name(&self) -> String {
        "struct { *chart.Metadata; IsRoot bool }".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let key = match name {
            "Name" => "name",
            "Home" => "home",
            "Sources" => "sources",
            "Version" => "version",
            "Description" => "description",
            "Keywords" => "keywords",
            "Maintainers" => "maintainers",
            "Icon" => "icon",
            "APIVersion" => "apiVersion",
            "Condition" => "condition",
            "Tags" => "tags",
            "AppVersion" => "appVersion",
            "Deprecated" => "deprecated",
            "Annotations" => "annotations",
            "KubeVersion" => "kubeVersion",
            "Dependencies" => "dependencies",
            "Type" => "type",
            "IsRoot" => return Some(Value::Bool(self.is_root)),
            _ => return None,
        };
        let v = self.meta.get(key);
        Some(match name {
            "Sources" | "Keywords" => {
                let items = v
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(json_text).collect())
                    .unwrap_or_default();
                Value::str_list(items)
            }
            "Deprecated" => Value::Bool(v.and_then(|v| v.as_bool()).unwrap_or(false)),
            "Annotations" => {
                let m = v
                    .and_then(|v| v.as_object())
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| (k.clone(), Value::str(json_text(v))))
                            .collect()
                    })
                    .unwrap_or_default();
                Value::Map(
                    Rc::new(std::cell::RefCell::new(m)),
                    crate::template::MapKind::Str,
                )
            }
            "Maintainers" => v.map(Value::from_json).unwrap_or(Value::list(vec![])),
            "Dependencies" => Value::list(
                v.and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|d| Value::Object(Rc::new(DependencyObject(d.clone()))))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => Value::str(v.map(json_text).unwrap_or_default()),
        })
    }
    fn to_data(&self) -> Value {
        Value::from_json(&self.meta)
    }
}

/// One entry of `.Chart.Dependencies` (Go's `*chart.Dependency`).
struct DependencyObject(serde_json::Value);

impl Object for DependencyObject {
    fn type_name(&self) -> String {
        "*chart.Dependency".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let key = match name {
            "Name" => "name",
            "Version" => "version",
            "Repository" => "repository",
            "Condition" => "condition",
            "Alias" => "alias",
            "Tags" => {
                let t = self
                    .0
                    .get("tags")
                    .and_then(|t| t.as_array())
                    .map(|a| a.iter().map(json_text).collect())
                    .unwrap_or_default();
                return Some(Value::str_list(t));
            }
            "Enabled" => {
                return Some(Value::Bool(
                    self.0
                        .get("enabled")
                        .and_then(|e| e.as_bool())
                        .unwrap_or(false),
                ));
            }
            "ImportValues" => {
                return Some(
                    self.0
                        .get("import-values")
                        .map(Value::from_json)
                        .unwrap_or(Value::list(vec![])),
                );
            }
            _ => return None,
        };
        Some(Value::str(
            self.0.get(key).map(json_text).unwrap_or_default(),
        ))
    }
    fn to_data(&self) -> Value {
        Value::from_json(&self.0)
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// `.Files`: the chart's non-template files.
pub struct FilesObject(pub BTreeMap<String, Vec<u8>>);

impl Object for FilesObject {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn truth(&self) -> bool {
        !self.0.is_empty()
    }
    fn has_method(&self, name: &str) -> bool {
        matches!(
            name,
            "Get" | "GetBytes" | "Glob" | "Lines" | "AsConfig" | "AsSecrets"
        )
    }
    fn method_params(&self, name: &str) -> &'static [Ty] {
        match name {
            "AsConfig" | "AsSecrets" => &[],
            _ => &[Ty::Str],
        }
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = args
            .first()
            .and_then(|a| a.as_str())
            .unwrap_or("")
            .to_string();
        Some(Ok(match name {
            "Get" => Value::str(
                self.0
                    .get(&arg)
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default(),
            ),
            "GetBytes" => Value::Bytes(self.0.get(&arg).cloned().unwrap_or_default().into()),
            "Glob" => {
                let m = self
                    .0
                    .iter()
                    .filter(|(n, _)| glob_double_star(&arg, n))
                    .map(|(n, d)| (n.clone(), d.clone()))
                    .collect();
                Value::Object(Rc::new(FilesObject(m)))
            }
            "Lines" => {
                let Some(d) = self.0.get(&arg) else {
                    return Some(Ok(Value::str_list(vec![])));
                };
                let mut s = String::from_utf8_lossy(d).into_owned();
                if s.ends_with('\n') {
                    s.pop();
                }
                Value::str_list(s.split('\n').map(String::from).collect())
            }
            "AsConfig" | "AsSecrets" => {
                use base64::Engine;
                let m: BTreeMap<String, Value> = self
                    .0
                    .iter()
                    .map(|(n, d)| {
                        let base = n.rsplit('/').next().unwrap_or(n).to_string();
                        let v = if name == "AsSecrets" {
                            base64::engine::general_purpose::STANDARD.encode(d)
                        } else {
                            String::from_utf8_lossy(d).into_owned()
                        };
                        (base, Value::str(v))
                    })
                    .collect();
                match crate::funcs::call(&Funcs::helm(), "toYaml", &[Value::map(m)]) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                }
            }
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        crate::template::gofmt::sprint(&self.to_data())
    }
    fn to_data(&self) -> Value {
        Value::map(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::Bytes(v.clone().into())))
                .collect(),
        )
    }
}

/// gobwas/glob with `/` as separator: `*` stays within a segment, `**`
/// crosses them.
fn glob_double_star(pat: &str, name: &str) -> bool {
    let mut re = String::from("^");
    let mut chars = pat.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' => re.push('('),
            '}' => re.push(')'),
            ',' => re.push('|'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(name))
}

// ---- rendering -------------------------------------------------------------------

/// A rendering error, as helm words it.
#[derive(Debug)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One template file to render, with the data it sees.
struct Renderable {
    text: String,
    data: Value,
    base_path: String,
}

/// Renders every template of `chart` (and its enabled subcharts) with the
/// coalesced `values`. Returns file path → rendered text (partials left
/// out), as helm's engine does.
// ANCHOR: render
/// helm's checkIfInstallable (install and template): only application
/// charts install.
pub fn check_installable(chart: &Chart) -> Result<(), String> {
    match chart
        .metadata
        .get("type")
        .and_then(|v| v.as_str())
        .unwrap_or("")
    {
        "" | "application" => Ok(()),
        other => Err(format!("{other} charts are not installable")),
    }
}

/// helm's check, when it renders, that the chart's `kubeVersion` accepts
/// the cluster's version.
pub fn check_kube_version(chart: &Chart, caps: &Capabilities) -> Result<(), String> {
    let range = chart
        .metadata
        .get("kubeVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if !range.is_empty() && !crate::funcs::semver::is_compatible_range(range, &caps.kube_version) {
        return Err(format!(
            "chart requires kubeVersion: {range} which is incompatible with Kubernetes {}",
            caps.kube_version
        ));
    }
    Ok(())
}

/// helm's warning for a chart marked `deprecated: true`, on stderr.
pub fn warn_if_deprecated(chart: &Chart) {
    if chart.metadata.get("deprecated").and_then(|v| v.as_bool()) == Some(true) {
        eprintln!("WARNING: This chart is deprecated");
    }
}

pub fn render(
    chart: &Chart,
    values: &Value,
    release: &ReleaseOptions,
    caps: &Capabilities,
    lookup: Option<crate::template::Lookup>,
) -> Result<BTreeMap<String, String>, RenderError> {
    render_with(
        chart,
        values,
        release,
        caps,
        lookup,
        crate::template::exec::range_items,
    )
}
// ANCHOR_END: render

/// [`render`] with another `{{range}}` implementation (lab 10).
pub fn render_with(
    chart: &Chart,
    values: &Value,
    release: &ReleaseOptions,
    caps: &Capabilities,
    lookup: Option<crate::template::Lookup>,
    range_items: crate::template::exec::RangeItemsFn,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut tpls: BTreeMap<String, Renderable> = BTreeMap::new();
    let release_v = Value::map(BTreeMap::from([
        ("Name".to_string(), Value::str(release.name.as_str())),
        (
            "Namespace".to_string(),
            Value::str(release.namespace.as_str()),
        ),
        ("IsUpgrade".to_string(), Value::Bool(release.is_upgrade)),
        ("IsInstall".to_string(), Value::Bool(release.is_install)),
        ("Revision".to_string(), Value::Int(release.revision)),
        ("Service".to_string(), Value::str("Helm")),
    ]));
    let caps_v = Value::Object(Rc::new(CapabilitiesObject(caps.clone())));
    collect(chart, true, values, &release_v, &caps_v, &mut tpls);

    // ANCHOR: parse_order
    // Deepest paths first; among equals, reverse name order (helm's
    // sort.Reverse(byPathLen)). Later parses win for `define`.
    let mut keys: Vec<&String> = tpls.keys().collect();
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then(b.cmp(a))
    });
    let mut set = Templates::new("gotpl", Funcs::helm());
    set.lookup = lookup;
    set.range_items = range_items;
    for k in &keys {
        set.parse(k, &tpls[*k].text).map_err(|e| {
            let msg = e.to_string();
            // helm: "parse error at (file:line): message"
            let parts: Vec<&str> = msg.split(": ").collect();
            if parts.len() > 1 {
                RenderError(format!(
                    "parse error at ({}): {}",
                    parts[1],
                    parts[parts.len() - 1]
                ))
            } else {
                RenderError(format!("parse error in ({k}): {msg}"))
            }
        })?;
    }
    // ANCHOR_END: parse_order
    let mut out = BTreeMap::new();
    for k in keys {
        if k.rsplit('/').next().unwrap_or(k).starts_with('_') {
            continue;
        }
        let r = &tpls[k];
        if let Value::Map(m, _) = &r.data {
            m.borrow_mut().insert(
                "Template".into(),
                as_chart_values(&Value::map(BTreeMap::from([
                    ("Name".to_string(), Value::str(k.as_str())),
                    ("BasePath".to_string(), Value::str(r.base_path.as_str())),
                ]))),
            );
        }
        let text = set
            .execute(k, &r.data)
            .map_err(|e| exec_error(e.msg, e.at_node))?;
        out.insert(k.clone(), text.replace("<no value>", ""));
    }
    Ok(out)
}

/// helm's cleanupExecError: a `fail`/`required` message is lifted out.
fn exec_error(msg: String, at_node: bool) -> RenderError {
    if !at_node {
        return RenderError(msg);
    }
    let tokens: Vec<&str> = msg.splitn(3, ": ").collect();
    if tokens.len() == 3
        && let (Some(s), Some(e)) = (tokens[2].find(WARN_START), tokens[2].rfind(WARN_END))
        && s + WARN_START.len() <= e
    {
        return RenderError(format!(
            "execution error at ({}): {}",
            tokens[1],
            &tokens[2][s + WARN_START.len()..e]
        ));
    }
    RenderError(msg)
}

/// The same map, typed as helm's `chartutil.Values`.
fn as_chart_values(v: &Value) -> Value {
    match v {
        Value::Map(m, _) => Value::Map(m.clone(), crate::template::MapKind::Values),
        other => other.clone(),
    }
}

fn collect(
    chart: &Chart,
    is_root: bool,
    values: &Value,
    release: &Value,
    caps: &Value,
    out: &mut BTreeMap<String, Renderable>,
) -> Value {
    let subcharts = Value::empty_map();
    let data = Value::map(BTreeMap::from([
        (
            "Chart".to_string(),
            Value::Object(Rc::new(ChartObject {
                meta: chart.metadata.clone(),
                is_root,
            })),
        ),
        (
            "Files".to_string(),
            Value::Object(Rc::new(FilesObject(chart.files.clone()))),
        ),
        ("Release".to_string(), release.clone()),
        ("Capabilities".to_string(), caps.clone()),
        ("Values".to_string(), as_chart_values(values)),
        ("Subcharts".to_string(), subcharts.clone()),
    ]));
    for dep in &chart.dependencies {
        let sub_values = match values.get(dep.name()) {
            Some(v @ Value::Map(..)) => v,
            _ => Value::empty_map(),
        };
        let sub = collect(dep, false, &sub_values, release, caps, out);
        if let Value::Map(m, _) = &subcharts {
            m.borrow_mut().insert(dep.name().to_string(), sub);
        }
    }
    for (name, text) in &chart.templates {
        if chart.is_library() && !name.rsplit('/').next().unwrap_or(name).starts_with('_') {
            continue;
        }
        // each file gets its own top-level map (helm adds .Template per file)
        let own = match &data {
            Value::Map(m, _) => as_chart_values(&Value::map(m.borrow().clone())),
            v => v.clone(),
        };
        out.insert(
            format!("{}/{}", chart.full_path, name),
            Renderable {
                text: text.clone(),
                data: own,
                base_path: format!("{}/templates", chart.full_path),
            },
        );
    }
    data
}

// ---- manifests -------------------------------------------------------------------

// ANCHOR: install_order
/// Kinds in the order helm installs them; unknown kinds go last,
/// alphabetically.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];
// ANCHOR_END: install_order

/// A rendered manifest: the file it came from, its text, its head.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: String,
    pub content: String,
    pub kind: String,
    pub name: String,
    pub api_version: String,
    pub annotations: BTreeMap<String, String>,
}

/// A hook: a manifest with a `helm.sh/hook` annotation.
#[derive(Clone, Debug)]
pub struct Hook {
    pub manifest: Manifest,
    pub events: Vec<String>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
}

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// helm's SplitManifests: YAML documents of one file, trimmed.
pub fn split_manifests(text: &str) -> Vec<String> {
    let sep = regex::Regex::new(r"(?:^|\s*\n)---\s*").unwrap();
    sep.split(text.trim())
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

/// Sorts rendered files into hooks and manifests, in install order.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Hook>, Vec<Manifest>), RenderError> {
    let mut hooks = vec![];
    let mut generic = vec![];
    for (path, content) in files {
        if path.rsplit('/').next().unwrap_or(path).starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head: serde_json::Value = match serde_yaml::from_str::<serde_json::Value>(&doc) {
                Ok(serde_json::Value::Null) => serde_json::json!({}),
                Ok(v @ serde_json::Value::Object(_)) => v,
                Ok(other) => {
                    let what = match other {
                        serde_json::Value::String(_) => "string",
                        serde_json::Value::Array(_) => "array",
                        serde_json::Value::Number(_) => "number",
                        _ => "bool",
                    };
                    return Err(RenderError(format!(
                        "YAML parse error on {path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {what} into Go value of type releaseutil.SimpleHead"
                    )));
                }
                Err(e) => {
                    // go-yaml's wording, as helm prints it
                    let msg = match crate::yaml::parse_values(&doc) {
                        Err(m) => m,
                        Ok(_) => format!("error converting YAML to JSON: yaml: {e}"),
                    };
                    return Err(RenderError(format!("YAML parse error on {path}: {msg}")));
                }
            };
            let s = |p: &str| {
                head.pointer(p)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let annotations: BTreeMap<String, String> = head
                .pointer("/metadata/annotations")
                .and_then(|a| a.as_object())
                .map(|o| o.iter().map(|(k, v)| (k.clone(), json_text(v))).collect())
                .unwrap_or_default();
            let m = Manifest {
                path: path.clone(),
                content: doc,
                kind: s("/kind"),
                name: s("/metadata/name"),
                api_version: s("/apiVersion"),
                annotations,
            };
            let Some(hook_types) = m.annotations.get("helm.sh/hook").cloned() else {
                generic.push(m);
                continue;
            };
            let events: Vec<String> = hook_types
                .split(',')
                .map(|h| h.trim().to_lowercase())
                .collect();
            if events.iter().any(|e| !HOOK_EVENTS.contains(&e.as_str())) {
                continue; // helm skips unknown hooks
            }
            let weight = m
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
            let delete_policies = m
                .annotations
                .get("helm.sh/hook-delete-policy")
                .map(|p| p.split(',').map(|x| x.trim().to_lowercase()).collect())
                .unwrap_or_default();
            let events = events
                .into_iter()
                .map(|e| {
                    if e == "test-success" {
                        "test".into()
                    } else {
                        e
                    }
                })
                .collect();
            hooks.push(Hook {
                manifest: m,
                events,
                weight,
                delete_policies,
            });
        }
    }
    let rank = |k: &str| INSTALL_ORDER.iter().position(|x| *x == k);
    let less = |a: &str, b: &str| match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    };
    generic.sort_by(|a, b| less(&a.kind, &b.kind));
    hooks.sort_by(|a, b| less(&a.manifest.kind, &b.manifest.kind));
    Ok((hooks, generic))
}

/// The release manifest text: CRDs (if asked), then every manifest, each
/// as `---\n# Source: path\ncontent\n`.
pub fn manifest_text(manifests: &[Manifest]) -> String {
    let mut b = String::new();
    for m in manifests {
        b.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
    }
    b
}

/// NOTES.txt of the top chart (and of subcharts when `sub_notes`).
pub fn take_notes(
    files: &mut BTreeMap<String, String>,
    chart_name: &str,
    sub_notes: bool,
) -> String {
    let mut notes = String::new();
    let keys: Vec<String> = files
        .keys()
        .filter(|k| k.ends_with("NOTES.txt"))
        .cloned()
        .collect();
    for k in keys {
        let v = files.remove(&k).unwrap_or_default();
        if sub_notes || k == format!("{chart_name}/templates/NOTES.txt") {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&v);
        }
    }
    notes
}

/// Go's `%q` for file paths in messages.
pub fn quote(s: &str) -> String {
    gofmt::quote(s)
}
