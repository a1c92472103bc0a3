//! `helm lint`: what would go wrong at install time (or breaks with
//! convention), found without a cluster. This is helm 3.18's linter rule
//! by rule — the same checks, in the same order, with the same words,
//! severities and exit status — so that `kubelab helm lint` and `helm lint`
//! print the same bytes.
//!
//! How it maps to helm (`pkg/lint`, `pkg/action/lint.go`, `cmd/helm/lint.go`):
//!
//! - [`run`] is the command: each path (a chart folder or a `.tgz`) is
//!   linted on its own, printed under `==> Linting PATH`, and counted;
//!   `--strict` makes warnings fail a chart, `--quiet` prints only warnings
//!   and errors (and only charts that have some), `--with-subcharts` adds
//!   every chart found below `charts/`. Any failure makes the summary
//!   `N chart(s) linted, M chart(s) failed` the error (exit status 1).
//! - [`lint_chart`] runs helm's four rule sets on one chart folder, in
//!   helm's order. Every finding is a [`Message`]: a severity (INFO,
//!   WARNING, ERROR), a path (relative, as helm prints it — except the
//!   dependencies rules, which name the chart's absolute folder) and text:
//!   - Chart.yaml ([`chartfile`]): it parses as helm's `chart.Metadata`;
//!     name, apiVersion, version (SemVer, above 0.0.0-0) and their types,
//!     maintainers, sources and icon URLs, `type` and `dependencies` only
//!     in v2 charts;
//!   - values ([`values_rule`]): values.yaml exists (INFO if not), parses,
//!     and with the user's values meets values.schema.json;
//!   - templates ([`templates_rule`]): the chart loads (helm's loader
//!     checks, [`crate::chart::from_files`]), its values meet every schema,
//!     it renders; then each of its own templates: a known extension, no
//!     helm 2 `crd-install` hook, no `.Release.Time`; and each rendered
//!     `.yaml` file: no indented first line, YAML documents that decode
//!     into the apiVersion/kind/metadata stub, names valid for their kind
//!     ([`names`]), no deprecated API version (`deprecated_apis.txt`), a
//!     selector in Deployments/ReplicaSets/DaemonSets/StatefulSets, no
//!     `helm.sh/resource-policy` inside a List;
//!   - dependencies ([`dependencies_rule`]): every chart in `charts/` is
//!     listed in Chart.yaml, names and aliases are unique, every listed
//!     dependency is in `charts/` (a WARNING).
//!
//! **Simplifications** (see the book's chapter 10): kubelab's engine has no
//! lint mode, so `required` and `fail` stop the rendering with an ERROR
//! where helm's linter lets them pass (logging `[INFO] Missing required
//! value`); a rendered file that starts with `{` is read as YAML, not as a
//! stream of JSON objects; when several subcharts are missing from
//! Chart.yaml they are listed in name order, where helm's order is Go's
//! random map order.

mod names;
mod urls;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as J;

use crate::chart::{self, Chart};
use crate::cli::CliError;
use crate::engine::{self, Capabilities, ReleaseOptions};
use crate::funcs::semver::Version;
use crate::gostruct::{self, field, string_field};
use crate::template::Value;
use crate::template::gofmt::quote;

/// How bad a finding is (helm's `support.InfoSev` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One finding: `[SEVERITY] path: text`.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub severity: Severity,
    pub path: String,
    pub text: String,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        write!(f, "[{sev}] {}: {}", self.path, self.text)
    }
}

/// What `helm lint`'s flags decide.
pub struct Options {
    /// fail on warnings too
    pub strict: bool,
    /// print only warnings and errors
    pub quiet: bool,
    /// lint the charts below `charts/` as well
    pub with_subcharts: bool,
    pub skip_schema_validation: bool,
    /// `.Release.Namespace` while rendering
    pub namespace: String,
    /// `--kube-version`: for `.Capabilities` and the deprecation check
    pub kube_version: Option<String>,
}

/// The findings on one chart so far (helm's `support.Linter`).
struct Linter {
    /// The chart's folder, absolute and cleaned.
    dir: PathBuf,
    messages: Vec<Message>,
}

impl Linter {
    /// Records a failed check; `true` if it passed (helm's `RunLinterRule`).
    fn rule(&mut self, severity: Severity, path: &str, r: Result<(), String>) -> bool {
        match r {
            Ok(()) => true,
            Err(text) => {
                self.messages.push(Message {
                    severity,
                    path: path.to_string(),
                    text,
                });
                false
            }
        }
    }

    fn dir_text(&self) -> String {
        self.dir.display().to_string()
    }
}

/// The render-time settings every chart is linted with.
struct Setting<'a> {
    values: &'a Value,
    namespace: &'a str,
    caps: Capabilities,
    /// Kubernetes major.minor for the deprecation check
    kube: (u64, u64),
    skip_schema_validation: bool,
}

/// `helm lint PATH…`: prints what helm prints on stdout; `Err` is the
/// summary when a chart failed (helm's `Error: …`, exit status 1).
pub fn run(
    paths: &[String],
    o: &Options,
    user_values: &dyn Fn() -> Result<Value, CliError>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut paths: Vec<String> = if paths.is_empty() {
        vec![".".into()]
    } else {
        paths.to_vec()
    };
    let mut caps = Capabilities::default();
    let mut kube = (1, 33);
    if let Some(v) = &o.kube_version {
        let sv =
            Version::parse(v).map_err(|e| CliError(format!("invalid kube version '{v}': {e}")))?;
        caps.kube_version = format!("v{}", sv.string());
        kube = (sv.major, sv.minor);
    }
    if o.with_subcharts {
        for p in paths.clone() {
            walk_subcharts(
                &crate::funcs::paths::clean(&format!("{p}/charts")),
                &mut paths,
            );
        }
    }
    let values = user_values()?;
    let setting = Setting {
        values: &values,
        namespace: &o.namespace,
        caps,
        kube,
        skip_schema_validation: o.skip_schema_validation,
    };
    let lowest = if o.strict {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut text = String::new();
    let (mut failed, mut with_findings) = (0, 0);
    for path in &paths {
        let (messages, errors) = match lint_path(path, &setting) {
            Ok(m) => {
                let errors: Vec<String> = m
                    .iter()
                    .filter(|m| m.severity >= lowest)
                    .map(|m| m.text.clone())
                    .collect();
                (m, errors)
            }
            Err(e) => (vec![], vec![e]),
        };
        let worth_telling =
            messages.iter().any(|m| m.severity > Severity::Info) || !errors.is_empty();
        if worth_telling {
            with_findings += 1;
        }
        if o.quiet && !worth_telling {
            continue;
        }
        text.push_str(&format!("==> Linting {path}\n"));
        // a chart that could not be linted at all says why
        if messages.is_empty() {
            for e in &errors {
                text.push_str(&format!("Error {e}\n"));
            }
        }
        for m in &messages {
            if !o.quiet || m.severity > Severity::Info {
                text.push_str(&format!("{m}\n"));
            }
        }
        if !errors.is_empty() {
            failed += 1;
        }
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    let summary = format!("{} chart(s) linted, {failed} chart(s) failed", paths.len());
    if failed > 0 {
        return Err(CliError(summary));
    }
    if !o.quiet || with_findings > 0 {
        writeln!(out, "{summary}")?;
    }
    Ok(())
}

/// `--with-subcharts`: helm walks `PATH/charts` in name order and takes
/// the folder of every `Chart.yaml` it meets (at any depth) and every
/// `.tgz`/`.tar.gz`.
fn walk_subcharts(dir: &str, paths: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{dir}/{name}");
        if name == "Chart.yaml" {
            paths.push(dir.to_string());
        } else if path.ends_with(".tgz") || path.ends_with(".tar.gz") {
            paths.push(path.clone());
        }
        // like filepath.Walk, symbolic links are not followed
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_subcharts(&path, paths);
        }
    }
}

/// Go's wording of an OS error (`no such file or directory` …).
fn os_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        NotADirectory => "not a directory".into(),
        IsADirectory => "is a directory".into(),
        PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// One path of the command line (helm's `lintChart`): an archive is
/// unpacked into a temporary folder first; `Err` when there is no chart
/// to lint.
fn lint_path(path: &str, s: &Setting) -> Result<Vec<Message>, String> {
    if path.ends_with(".tgz") || path.ends_with(".tar.gz") {
        let data = std::fs::read(path)
            .map_err(|e| format!("unable to open tarball: open {path}: {}", os_error(&e)))?;
        let files =
            chart::read_archive(&data).map_err(|e| format!("unable to extract tarball: {e:#}"))?;
        let name = files
            .get("Chart.yaml")
            .and_then(|m| chart::read_metadata(m).ok())
            .map(|m| string_field(&m, "name"))
            .unwrap_or_default();
        if name.is_empty() {
            return Err("unable to extract tarball: chart name not specified".into());
        }
        let tmp = std::env::temp_dir().join(format!("helm-lint{}", rand::random::<u32>()));
        let dir = tmp.join(&name);
        let written = (|| -> std::io::Result<()> {
            for (rel, data) in &files {
                let p = dir.join(rel);
                std::fs::create_dir_all(p.parent().unwrap_or(&dir))?;
                std::fs::write(p, data)?;
            }
            Ok(())
        })();
        let result = written
            .map_err(|e| format!("unable to extract tarball: {e}"))
            .and_then(|()| lint_folder(&dir.display().to_string(), s));
        let _ = std::fs::remove_dir_all(&tmp);
        return result;
    }
    lint_folder(path, s)
}

fn lint_folder(path: &str, s: &Setting) -> Result<Vec<Message>, String> {
    let chart_yaml = crate::funcs::paths::clean(&format!("{path}/Chart.yaml"));
    if let Err(e) = std::fs::metadata(&chart_yaml) {
        return Err(format!(
            "unable to check Chart.yaml file in chart: stat {chart_yaml}: {}",
            os_error(&e)
        ));
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let dir = PathBuf::from(crate::funcs::paths::clean(&abs.display().to_string()));
    Ok(lint_chart(&dir, s))
}

/// All of helm's rules on one chart folder (absolute), in helm's order.
fn lint_chart(dir: &Path, s: &Setting) -> Vec<Message> {
    let mut l = Linter {
        dir: dir.to_path_buf(),
        messages: vec![],
    };
    chartfile(&mut l);
    values_rule(&mut l, s.values);
    templates_rule(&mut l, s);
    dependencies_rule(&mut l);
    l.messages
}

// ---- Chart.yaml ---------------------------------------------------------------

/// The Chart.yaml rules (helm's `rules.Chartfile`). Chart.yaml is read as
/// helm reads it into `chart.Metadata`; if that fails, nothing else here
/// is checked.
fn chartfile(l: &mut Linter) {
    let file = "Chart.yaml";
    let path = l.dir.join(file);
    l.rule(
        Severity::Error,
        file,
        if path.is_dir() {
            Err("should be a file, not a directory".into())
        } else {
            Ok(())
        },
    );
    let parsed = std::fs::read(&path)
        .map_err(|e| format!("read {}: {}", path.display(), os_error(&e)))
        .and_then(|data| chart::read_metadata(&data).map(|m| (m, data)));
    let (meta, data) = match parsed {
        Ok(m) => m,
        Err(e) => {
            l.rule(
                Severity::Error,
                file,
                Err(format!("unable to parse YAML\n\t{e}")),
            );
            return;
        }
    };
    // the raw YAML, for the type checks: what Go's %T calls each value
    let raw = crate::yaml::to_json_doc(&String::from_utf8_lossy(&data)).unwrap_or(J::Null);
    let is_string = |key: &str| -> Result<(), String> {
        let Some(v) = raw.get(key) else { return Ok(()) };
        let ty = match v {
            J::String(_) => return Ok(()),
            J::Null => "<nil>",
            J::Bool(_) => "bool",
            J::Number(_) => "float64",
            J::Array(_) => "[]interface {}",
            J::Object(_) => "map[string]interface {}",
        };
        Err(format!(
            "{key} should be of type string but it's of type {ty}"
        ))
    };
    let api_version = string_field(&meta, "apiVersion");
    let name = string_field(&meta, "name");
    l.rule(Severity::Error, file, check_name(&name));
    l.rule(Severity::Error, file, check_api_version(&api_version));
    l.rule(Severity::Error, file, is_string("version"));
    l.rule(
        Severity::Error,
        file,
        check_version(&string_field(&meta, "version")),
    );
    l.rule(Severity::Error, file, is_string("appVersion"));
    l.rule(Severity::Error, file, check_maintainers(&meta));
    l.rule(Severity::Error, file, check_sources(&meta));
    let icon = string_field(&meta, "icon");
    l.rule(
        Severity::Info,
        file,
        if icon.is_empty() {
            Err("icon is recommended".into())
        } else {
            Ok(())
        },
    );
    l.rule(
        Severity::Error,
        file,
        if !icon.is_empty() && !urls::is_request_url(&icon) {
            Err(format!("invalid icon URL '{icon}'"))
        } else {
            Ok(())
        },
    );
    let v2_only = |what: &str| {
        format!("{what} apiVersion '{api_version}'. They are valid in apiVersion 'v2'")
    };
    l.rule(
        Severity::Error,
        file,
        if !string_field(&meta, "type").is_empty() && api_version != "v2" {
            Err(format!(
                "chart type is not valid in apiVersion '{api_version}'. It is valid in apiVersion 'v2'"
            ))
        } else {
            Ok(())
        },
    );
    let has_deps = field(&meta, "dependencies")
        .and_then(|d| d.as_array())
        .is_some_and(|d| !d.is_empty());
    l.rule(
        Severity::Error,
        file,
        if has_deps && api_version != "v2" {
            Err(v2_only("dependencies are not valid in the Chart file with"))
        } else {
            Ok(())
        },
    );
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is required".into());
    }
    // a name is a folder name: no slashes
    if crate::funcs::paths::base(name) != name {
        return Err(format!("chart name {} is invalid", quote(name)));
    }
    Ok(())
}

fn check_api_version(v: &str) -> Result<(), String> {
    match v {
        "" => Err("apiVersion is required. The value must be either \"v1\" or \"v2\"".into()),
        "v1" | "v2" => Ok(()),
        v => Err(format!(
            "apiVersion '{v}' is not valid. The value must be either \"v1\" or \"v2\""
        )),
    }
}

/// A SemVer (as Masterminds/semver reads it, `v1.2` included) above
/// `0.0.0-0`: only `0.0.0-0` itself is not.
fn check_version(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("version is required".into());
    }
    let Ok(sv) = Version::parse(v) else {
        return Err(format!("version '{v}' is not a valid SemVer"));
    };
    if (sv.major, sv.minor, sv.patch) == (0, 0, 0) && sv.pre == "0" {
        return Err(format!(
            "version {} is less than or equal to 0.0.0-0",
            sv.string()
        ));
    }
    Ok(())
}

fn list<'a>(meta: &'a J, key: &str) -> &'a [J] {
    field(meta, key)
        .and_then(|v| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The first maintainer without a name, or with an e-mail or URL that is
/// not one.
fn check_maintainers(meta: &J) -> Result<(), String> {
    for m in list(meta, "maintainers") {
        let (name, email, url) = (
            string_field(m, "name"),
            string_field(m, "email"),
            string_field(m, "url"),
        );
        if name.is_empty() {
            return Err("each maintainer requires a name".into());
        } else if !email.is_empty() && !urls::is_email(&email) {
            return Err(format!("invalid email '{email}' for maintainer '{name}'"));
        } else if !url.is_empty() && !urls::is_url(&url) {
            return Err(format!("invalid url '{url}' for maintainer '{name}'"));
        }
    }
    Ok(())
}

fn check_sources(meta: &J) -> Result<(), String> {
    for s in list(meta, "sources") {
        let s = s.as_str().unwrap_or("");
        if s.is_empty() || !urls::is_request_url(s) {
            return Err(format!("invalid source URL '{s}'"));
        }
    }
    Ok(())
}

// ---- values -------------------------------------------------------------------

/// The values rules (helm's `rules.ValuesWithOverrides`): values.yaml is
/// optional (INFO), must parse, and — with the user's values over it —
/// must meet the chart's own values.schema.json.
fn values_rule(l: &mut Linter, user: &Value) {
    let file = "values.yaml";
    let path = l.dir.join(file);
    if std::fs::metadata(&path).is_err() {
        l.rule(Severity::Info, file, Err("file does not exist".into()));
        return;
    }
    let r = (|| -> Result<Value, String> {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("read {}: {}", path.display(), os_error(&e)))?;
        // helm reads the file into a chartutil.Values, and says so
        let own = crate::values::read_values(&text).map_err(|e| {
            e.replace(
                "Go value of type map[string]interface {}",
                "Go value of type chartutil.Values",
            )
        })?;
        Ok(own)
    })();
    let own = match r {
        Ok(v) => v,
        Err(e) => {
            l.rule(
                Severity::Error,
                file,
                Err(format!("unable to parse YAML: {e}")),
            );
            return;
        }
    };
    let schema = std::fs::read_to_string(l.dir.join("values.schema.json")).unwrap_or_default();
    if schema.is_empty() {
        return;
    }
    let chart = crate::values::ChartValues {
        name: String::new(),
        values: own,
        deps: vec![],
    };
    let values = crate::values::coalesce(&chart, user);
    l.rule(
        Severity::Error,
        file,
        crate::schema::validate_single(&schema, &values),
    );
}

// ---- templates ----------------------------------------------------------------

static CRD_HOOK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""?helm\.sh/hook"?:\s+crd-install"#).unwrap());
static RELEASE_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\.Release\.Time").unwrap());

/// Go's `filepath.Ext`.
fn ext(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rfind('.').map_or("", |i| &base[i..])
}

/// The template rules (helm's `rules.Templates`): the chart must load,
/// its values meet the schemas and it must render; then each of the
/// chart's own templates, and what each `.yaml` one rendered, is looked at.
/// A document that is not YAML ends the rule: helm stops at the first.
fn templates_rule(l: &mut Linter, s: &Setting) {
    let dir_path = "templates/";
    let tdir = l.dir.join("templates");
    // a chart without templates/ is fine; a file named templates is not
    if tdir.exists() && !tdir.is_dir() {
        l.rule(Severity::Warning, dir_path, Err("not a directory".into()));
        return;
    }
    let mut c = match chart::load(&l.dir) {
        Ok(c) => c,
        Err(e) => {
            l.rule(Severity::Error, dir_path, Err(format!("{e:#}")));
            return;
        }
    };
    let release = ReleaseOptions {
        name: "test-release".into(),
        namespace: s.namespace.to_string(),
        revision: 0,
        is_install: false,
        is_upgrade: false,
    };
    let coalesce = |c: &Chart, v: &Value| crate::cli::coalesce(c, v).map_err(|e| e.0);
    // helm's linter gives up quietly when the subcharts cannot be sorted out
    if crate::dependencies::process(&mut c, s.values, &coalesce).is_err() {
        return;
    }
    let Ok(values) = coalesce(&c, s.values) else {
        return;
    };
    if !s.skip_schema_validation
        && !l.rule(
            Severity::Error,
            dir_path,
            crate::schema::validate(&c, &values),
        )
    {
        return;
    }
    let rendered = match engine::render(&c, &values, &release, &s.caps, None) {
        Ok(r) => r,
        Err(e) => {
            l.rule(Severity::Error, dir_path, Err(e.0));
            return;
        }
    };
    // helm meets the templates in the order it walked the folder
    let mut templates = c.templates.clone();
    templates.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    for (name, text) in &templates {
        l.rule(Severity::Error, name, check_extension(name));
        l.rule(
            Severity::Warning,
            name,
            if CRD_HOOK.is_match(text) {
                Err("manifest is a crd-install hook. This hook is no longer supported in v3 and all CRDs should also exist the crds/ directory at the top level of the chart".into())
            } else {
                Ok(())
            },
        );
        l.rule(
            Severity::Error,
            name,
            if RELEASE_TIME.is_match(text) {
                Err(".Release.Time has been removed in v3, please replace with the `now` function in your templates".into())
            } else {
                Ok(())
            },
        );
        // the rest is for YAML files (.yaml, not .yml: helm's own slip)
        if ext(name) != ".yaml" {
            continue;
        }
        let out = rendered
            .get(&format!("{}/{name}", c.name()))
            .map(String::as_str)
            .unwrap_or("");
        if out.trim().is_empty() {
            continue;
        }
        l.rule(Severity::Warning, name, check_top_indent(out));
        for doc in yaml_documents(out) {
            let obj = match doc.and_then(|d| decode_manifest(&d)) {
                Ok(Some(o)) => o,
                Ok(None) => continue,
                Err(e) => {
                    l.rule(
                        Severity::Error,
                        name,
                        Err(format!("unable to parse YAML: {e}")),
                    );
                    return;
                }
            };
            let kind = string_field(&obj, "kind");
            let api_version = string_field(&obj, "apiVersion");
            let meta = field(&obj, "metadata").cloned().unwrap_or(J::Null);
            let obj_name = string_field(&meta, "name");
            // warnings: clusters older or newer than the check may differ
            l.rule(Severity::Warning, name, names::check(&kind, &obj_name));
            l.rule(
                Severity::Warning,
                name,
                check_deprecation(&api_version, &kind, s.kube),
            );
            l.rule(Severity::Error, name, check_selector(&kind, &obj_name, out));
            l.rule(Severity::Error, name, check_list_annotations(&kind, out));
        }
    }
}

fn check_extension(name: &str) -> Result<(), String> {
    let e = ext(name);
    if [".yaml", ".yml", ".tpl", ".txt"].contains(&e) {
        return Ok(());
    }
    Err(format!(
        "file extension '{e}' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt"
    ))
}

/// The first line with text must not be indented: YAML parsers disagree
/// about such documents.
fn check_top_indent(content: &str) -> Result<(), String> {
    for line in content.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return Err(format!(
                "document starts with an illegal indent: {}, which may cause parsing problems",
                quote(line)
            ));
        }
        return Ok(());
    }
    Ok(())
}

/// A rendered file cut into documents as Kubernetes' YAML reader cuts it:
/// at lines starting with `---`, which may be followed only by a comment
/// (anything else is an error, and the end of the file for the linter).
fn yaml_documents(text: &str) -> Vec<Result<String, String>> {
    let mut docs = vec![];
    let mut buf = String::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                docs.push(Err(format!("invalid Yaml document separator: {rest}")));
                return docs;
            }
            if !buf.is_empty() {
                docs.push(Ok(std::mem::take(&mut buf)));
                continue;
            }
        }
        buf.push_str(line);
        buf.push('\n');
    }
    if !buf.is_empty() {
        docs.push(Ok(buf));
    }
    docs
}

/// One document decoded into helm's apiVersion/kind/metadata stub;
/// `None` for an empty document.
fn decode_manifest(doc: &str) -> Result<Option<J>, String> {
    let json = crate::yaml::to_json_doc(doc)?;
    if json.is_null() {
        return Ok(None);
    }
    let (obj, err) = gostruct::decode(&json, &gostruct::K8S_YAML_STRUCT);
    match err {
        Some(e) => Err(gostruct::yaml_error(&e)),
        None => Ok(Some(obj)),
    }
}

/// `group/version kind` → (deprecated in, removed in, replacement).
type Lifecycle = ((u64, u64), (u64, u64), Option<String>);

static DEPRECATED_APIS: LazyLock<BTreeMap<String, Lifecycle>> = LazyLock::new(|| {
    let ver = |s: &str| {
        let (a, b) = s.split_once('.').unwrap_or((s, "0"));
        (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
    };
    include_str!("lint/deprecated_apis.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let replacement = (f.len() >= 6).then(|| format!("{} {}", f[4], f[5]));
            Some((
                format!("{} {}", f.first()?, f.get(1)?),
                (ver(f.get(2)?), ver(f.get(3)?), replacement),
            ))
        })
        .collect()
});

/// Kubernetes' deprecation warning for this kind, once the Kubernetes
/// version `kube` has reached its deprecation.
fn check_deprecation(api_version: &str, kind: &str, kube: (u64, u64)) -> Result<(), String> {
    if api_version.is_empty() || kind.is_empty() {
        return Ok(());
    }
    let Some((deprecated, removed, replacement)) =
        DEPRECATED_APIS.get(&format!("{api_version} {kind}"))
    else {
        return Ok(());
    };
    if *deprecated > kube {
        return Ok(());
    }
    let mut msg = format!(
        "{api_version} {kind} is deprecated in v{}.{}+",
        deprecated.0, deprecated.1
    );
    if *removed != (0, 0) {
        msg.push_str(&format!(", unavailable in v{}.{}+", removed.0, removed.1));
    }
    if let Some(r) = replacement {
        msg.push_str(&format!("; use {r}"));
    }
    Err(msg)
}

/// Workload controllers need a selector; helm only looks for the words
/// anywhere in the rendered file.
fn check_selector(kind: &str, name: &str, content: &str) -> Result<(), String> {
    if matches!(
        kind,
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
    ) && !(content.contains("matchLabels") || content.contains("matchExpressions"))
    {
        return Err(format!(
            "a {kind} must contain matchLabels or matchExpressions, and {} does not",
            quote(name)
        ));
    }
    Ok(())
}

/// `helm.sh/resource-policy` on an item of a List does nothing: helm reads
/// annotations of the objects it keeps track of, and a List is one object.
/// As in helm, the items looked at are those of the file's first document.
fn check_list_annotations(kind: &str, content: &str) -> Result<(), String> {
    if kind != "List" {
        return Ok(());
    }
    let first =
        crate::yaml::to_json_doc(content).map_err(|e| format!("unable to parse YAML: {e}"))?;
    let keeps = field(&first, "items")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .filter_map(|item| field(item, "metadata"))
        .filter_map(|m| field(m, "annotations"))
        .any(|a| a.get("helm.sh/resource-policy").is_some());
    if keeps {
        return Err("Annotation 'helm.sh/resource-policy' within List objects are ignored".into());
    }
    Ok(())
}

// ---- dependencies -------------------------------------------------------------

/// The dependency rules (helm's `rules.Dependencies`): Chart.yaml's
/// `dependencies` and the charts in `charts/` must agree. Findings name
/// the chart's absolute folder.
fn dependencies_rule(l: &mut Linter) {
    let c = match chart::load(&l.dir) {
        Ok(c) => c,
        Err(e) => {
            l.rule(
                Severity::Error,
                "",
                Err(format!("unable to load chart\n\t{e:#}")),
            );
            return;
        }
    };
    let declared = crate::dependencies::deps_meta(&c);
    let declared_names: Vec<String> = declared.iter().map(|d| string_field(d, "name")).collect();
    let present: Vec<&str> = c.dependencies.iter().map(|d| d.name()).collect();
    let dir = l.dir_text();
    let missing_in_meta: Vec<&str> = present
        .iter()
        .copied()
        .filter(|p| !declared_names.iter().any(|d| d == p))
        .collect();
    l.rule(
        Severity::Error,
        &dir,
        if missing_in_meta.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "chart metadata is missing these dependencies: {}",
                missing_in_meta.join(",")
            ))
        },
    );
    let mut seen = std::collections::HashSet::new();
    let mut shadowed = vec![];
    for d in &declared {
        let alias = string_field(d, "alias");
        let key = if alias.is_empty() {
            string_field(d, "name")
        } else {
            alias
        };
        if !seen.insert(key.clone()) {
            shadowed.push(key);
        }
    }
    l.rule(
        Severity::Error,
        &dir,
        if shadowed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "multiple dependencies with name or alias: {}",
                shadowed.join(",")
            ))
        },
    );
    let missing_in_dir: Vec<&str> = declared_names
        .iter()
        .map(String::as_str)
        .filter(|d| !present.contains(d))
        .collect();
    l.rule(
        Severity::Warning,
        &dir,
        if missing_in_dir.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "chart directory is missing these dependencies: {}",
                missing_in_dir.join(",")
            ))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_cut_at_separators() {
        let docs = yaml_documents("a: 1\n---\nb: 2\n--- # c\nc: 3\n");
        assert_eq!(
            docs,
            vec![
                Ok("a: 1\n".to_string()),
                Ok("b: 2\n".to_string()),
                Ok("c: 3\n".to_string())
            ]
        );
        // a bad separator is an error at once: the document before it is
        // never read
        let docs = yaml_documents("---\na: 1\n--- x\n");
        assert_eq!(
            docs,
            vec![Err("invalid Yaml document separator: x".to_string())]
        );
    }

    #[test]
    fn deprecations_follow_the_kube_version() {
        assert_eq!(
            check_deprecation("policy/v1beta1", "PodDisruptionBudget", (1, 33)).unwrap_err(),
            "policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+; use policy/v1 PodDisruptionBudget"
        );
        assert!(check_deprecation("policy/v1beta1", "PodDisruptionBudget", (1, 20)).is_ok());
        assert!(check_deprecation("v1", "Pod", (1, 33)).is_ok());
        assert!(check_deprecation("example.invalid/v1", "Widget", (1, 33)).is_ok());
    }

    #[test]
    fn versions() {
        assert!(check_version("v1.2").is_ok());
        assert!(check_version("01.2.3").is_ok());
        assert_eq!(
            check_version("1.2.3-01").unwrap_err(),
            "version '1.2.3-01' is not a valid SemVer"
        );
        assert_eq!(
            check_version("0.0.0-0").unwrap_err(),
            "version 0.0.0-0 is less than or equal to 0.0.0-0"
        );
    }

    #[test]
    fn top_indent() {
        assert!(check_top_indent("\n\na: 1\n").is_ok());
        assert_eq!(
            check_top_indent("\n  a: 1\n").unwrap_err(),
            "document starts with an illegal indent: \"  a: 1\", which may cause parsing problems"
        );
    }
}
