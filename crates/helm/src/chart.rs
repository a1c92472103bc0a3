//! Charts: loading a chart directory or `.tgz` archive into memory.
//!
//! A chart is `Chart.yaml` (its metadata), `values.yaml` (defaults),
//! `templates/` (what gets rendered), `charts/` (subcharts, as folders or
//! archives), `crds/` (installed before anything else, never templated),
//! `values.schema.json`, and any other file, which templates read through
//! `.Files`. `.helmignore` lists files to leave out, as `.gitignore` does.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};

/// One loaded chart (and, recursively, its subcharts).
#[derive(Clone, Debug)]
pub struct Chart {
    /// Chart.yaml as JSON (field names as written: `appVersion` …).
    pub metadata: serde_json::Value,
    /// `templates/…` files: (path inside the chart, text).
    pub templates: Vec<(String, String)>,
    /// The text of values.yaml ("" if none).
    pub values_text: String,
    pub schema: Option<String>,
    /// Every other file (not Chart.yaml, values.yaml, templates/, charts/):
    /// what `.Files` sees. `crds/` files are here too.
    pub files: BTreeMap<String, Vec<u8>>,
    pub dependencies: Vec<Chart>,
    /// The raw files of the chart as loaded (for `package`).
    pub raw: BTreeMap<String, Vec<u8>>,
    /// The chart's path among its parents: `parent/charts/name`.
    pub full_path: String,
}

impl Chart {
    pub fn name(&self) -> &str {
        self.metadata
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    pub fn version(&self) -> &str {
        self.metadata
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    pub fn app_version(&self) -> &str {
        self.metadata
            .get("appVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    pub fn is_library(&self) -> bool {
        self.metadata.get("type").and_then(|v| v.as_str()) == Some("library")
    }

    /// `crds/` files, in name order (`helm install` applies them first).
    pub fn crds(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(n, _)| {
                n.starts_with("crds/")
                    && (n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json"))
            })
            .map(|(n, d)| {
                (
                    format!("{}/{}", self.full_path, n),
                    String::from_utf8_lossy(d).into_owned(),
                )
            })
            .collect()
    }

    /// Every CRD of this chart and its subcharts.
    pub fn all_crds(&self) -> Vec<(String, String)> {
        let mut out = self.crds();
        for d in &self.dependencies {
            out.extend(d.all_crds());
        }
        out
    }
}

/// Loads a chart from a directory or a `.tgz` archive.
pub fn load(path: &Path) -> anyhow::Result<Chart> {
    let files = if path.is_dir() {
        read_dir_files(path)?
    } else {
        let data =
            std::fs::read(path).with_context(|| format!("path {:?} not found", path.display()))?;
        read_archive(&data)?
    };
    from_files(files, None)
}

/// All files below `dir`, by relative path, minus what .helmignore excludes.
fn read_dir_files(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut ignore = match std::fs::read_to_string(dir.join(".helmignore")) {
        Ok(t) => Ignore::parse(&t),
        Err(_) => Ignore::default(),
    };
    // helm's default rule: hidden files in templates/ are never templates
    ignore.rules.push(("templates/.?*".into(), false, false));
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let is_dir = e.file_type()?.is_dir();
            if ignore.ignored(&rel_path, is_dir) {
                continue;
            }
            if is_dir {
                stack.push((e.path(), rel_path));
            } else {
                out.insert(rel_path, std::fs::read(e.path())?);
            }
        }
    }
    Ok(out)
}

/// Reads a chart archive: one top folder (the chart's name) of files.
pub fn read_archive(data: &[u8]) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let gz = flate2::read::GzDecoder::new(data);
    let mut ar = tar::Archive::new(gz);
    let mut out = BTreeMap::new();
    for e in ar.entries().context("reading chart archive")? {
        let mut e = e?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e.path()?.to_string_lossy().into_owned();
        let Some((_, rest)) = p.split_once('/') else {
            continue;
        };
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)?;
        out.insert(rest.to_string(), buf);
    }
    if let Some(ign) = out.get(".helmignore") {
        let ignore = Ignore::parse(&String::from_utf8_lossy(ign));
        out.retain(|p, _| !ignore.ignored(p, false));
    }
    Ok(out)
}

/// Builds a chart from its files (relative paths), checking what helm's
/// loader checks, in its order and with its words: Chart.yaml read as
/// `chart.Metadata` (see [`crate::gostruct`]), values.yaml parsed, the
/// metadata validated ([`validate_metadata`]), then each subchart
/// (`error unpacking subchart NAME in PARENT: …`).
pub fn from_files(files: BTreeMap<String, Vec<u8>>, parent: Option<&str>) -> anyhow::Result<Chart> {
    let mut metadata = match files.get("Chart.yaml") {
        Some(meta) => {
            read_metadata(meta).map_err(|e| anyhow::anyhow!("cannot load Chart.yaml: {e}"))?
        }
        None => serde_json::Value::Null,
    };
    // helm 2 charts may leave apiVersion out; helm's loader takes them as v1
    if metadata.is_object() && crate::gostruct::string_field(&metadata, "apiVersion").is_empty() {
        metadata["apiVersion"] = "v1".into();
    }
    if let Some(values) = files.get("values.yaml")
        && let Err(e) = crate::values::read_values(&String::from_utf8_lossy(values))
    {
        bail!("cannot load values.yaml: {e}");
    }
    if let Some(req) = files.get("requirements.yaml") {
        // helm 2's place for dependencies, still read into the metadata
        let r = read_metadata(req)
            .map_err(|e| anyhow::anyhow!("cannot load requirements.yaml: {e}"))?;
        if let (Some(m), Some(deps)) = (metadata.as_object_mut(), r.get("dependencies")) {
            m.insert("dependencies".into(), deps.clone());
        }
    }
    if metadata.is_null() {
        bail!("Chart.yaml file is missing");
    }
    validate_metadata(&metadata).map_err(|e| anyhow::anyhow!("validation: {e}"))?;
    let name = metadata
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let full_path = match parent {
        Some(p) => format!("{p}/charts/{name}"),
        None => name.clone(),
    };
    let mut chart = Chart {
        metadata,
        templates: vec![],
        values_text: String::new(),
        schema: None,
        files: BTreeMap::new(),
        dependencies: vec![],
        raw: files.clone(),
        full_path: full_path.clone(),
    };
    let mut subcharts: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (path, data) in files {
        match path.as_str() {
            "Chart.yaml" | "Chart.lock" | "requirements.yaml" | "requirements.lock" => {}
            "values.yaml" => chart.values_text = String::from_utf8_lossy(&data).into_owned(),
            "values.schema.json" => {
                chart.schema = Some(String::from_utf8_lossy(&data).into_owned())
            }
            p if p.starts_with("templates/") => chart
                .templates
                .push((p.to_string(), String::from_utf8_lossy(&data).into_owned())),
            p if p.starts_with("charts/") && !p.ends_with(".prov") => {
                let rest = &p["charts/".len()..];
                match rest.split_once('/') {
                    Some((dir, inner)) => {
                        subcharts
                            .entry(dir.to_string())
                            .or_default()
                            .insert(inner.to_string(), data);
                    }
                    None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => {
                        let inner = read_archive(&data).with_context(|| format!("loading {p}"))?;
                        subcharts.insert(rest.to_string(), inner);
                    }
                    // helm takes any other file there for a chart with no
                    // Chart.yaml (and fails on it below)
                    None => {
                        subcharts.entry(rest.to_string()).or_default();
                    }
                }
            }
            p => {
                chart.files.insert(p.to_string(), data);
            }
        }
    }
    for (dir, files) in subcharts {
        // helm skips charts/_x and charts/.x
        if dir.starts_with(['_', '.']) {
            continue;
        }
        let sub = from_files(files, Some(&full_path))
            .map_err(|e| anyhow::anyhow!("error unpacking subchart {dir} in {name}: {e:#}"))?;
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

/// Chart.yaml (or requirements.yaml) as helm reads it into `chart.Metadata`:
/// `Null` for an empty file.
pub fn read_metadata(data: &[u8]) -> Result<serde_json::Value, String> {
    let text = String::from_utf8_lossy(data);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let doc = crate::yaml::to_json_doc(text)?;
    let (meta, err) = crate::gostruct::decode(&doc, &crate::gostruct::METADATA);
    if let Some(e) = err {
        return Err(crate::gostruct::yaml_error(&e));
    }
    Ok(match meta {
        serde_json::Value::Null => serde_json::json!({}),
        m => m,
    })
}

/// helm's `Metadata.Validate`, which its loader runs on every chart: the
/// message after `validation: `.
pub fn validate_metadata(meta: &serde_json::Value) -> Result<(), String> {
    use crate::gostruct::{field, string_field};
    use crate::template::gofmt::quote;
    let name = sanitize(&string_field(meta, "name"));
    if name.is_empty() {
        return Err("chart.metadata.name is required".into());
    }
    if name != crate::funcs::paths::base(&name) {
        return Err(format!("chart.metadata.name {} is invalid", quote(&name)));
    }
    let version = string_field(meta, "version");
    if version.is_empty() {
        return Err("chart.metadata.version is required".into());
    }
    if crate::funcs::semver::Version::parse(&version).is_err() {
        return Err(format!(
            "chart.metadata.version {} is invalid",
            quote(&version)
        ));
    }
    if !matches!(
        string_field(meta, "type").as_str(),
        "" | "application" | "library"
    ) {
        return Err("chart.metadata.type must be application or library".into());
    }
    let list = |k: &str| {
        field(meta, k)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    if list("maintainers").iter().any(|m| m.is_null()) {
        return Err("maintainers must not contain empty or null nodes".into());
    }
    let alias_ok = regex::Regex::new("^[a-zA-Z0-9_-]+$").unwrap();
    let mut seen = std::collections::HashSet::new();
    for d in list("dependencies") {
        if d.is_null() {
            return Err("dependencies must not contain empty or null nodes".into());
        }
        let dep_name = sanitize(&string_field(&d, "name"));
        let alias = string_field(&d, "alias");
        if !alias.is_empty() && !alias_ok.is_match(&alias) {
            return Err(format!(
                "dependency {} has disallowed characters in the alias",
                quote(&dep_name)
            ));
        }
        let key = if alias.is_empty() { dep_name } else { alias };
        if !seen.insert(key.clone()) {
            return Err(format!(
                "more than one dependency with name or alias {}",
                quote(&key)
            ));
        }
    }
    Ok(())
}

/// helm's `sanitizeString`: whitespace becomes a space, what cannot be
/// printed goes.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// `.helmignore` rules (a subset of .gitignore, as helm implements it).
#[derive(Default)]
pub struct Ignore {
    rules: Vec<(String, bool, bool)>, // (pattern, negate, dir only)
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut rules = vec![];
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (neg, l) = match l.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, l),
            };
            let (dir_only, l) = match l.strip_suffix('/') {
                Some(r) => (true, r),
                None => (false, l),
            };
            rules.push((l.trim_start_matches('/').to_string(), neg, dir_only));
        }
        Ignore { rules }
    }

    pub fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path == "Chart.yaml" {
            return false;
        }
        let base = path.rsplit('/').next().unwrap_or(path);
        let mut ignored = false;
        for (pat, neg, dir_only) in &self.rules {
            if *dir_only && !is_dir {
                // a dir rule also ignores what is inside the dir
                let inside = path
                    .split('/')
                    .rev()
                    .skip(1)
                    .any(|seg| glob_match(pat, seg));
                if inside && !*neg {
                    ignored = true;
                }
                continue;
            }
            let m = if pat.contains('/') {
                glob_match(pat, path)
            } else {
                glob_match(pat, base)
            };
            if m {
                ignored = !neg;
            }
        }
        ignored
    }
}

/// Go's `filepath.Match`: `*` (not across `/`), `?`, `[...]`.
pub fn glob_match(pat: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|i| *i == 0 || n[i - 1] != '/')
                .any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|c| *c == ']') else {
                    return false;
                };
                if n.is_empty() {
                    return false;
                }
                let class = &p[1..close];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= n[0] && n[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == n[0];
                        i += 1;
                    }
                }
                hit != neg && go(&p[close + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && go(&p[2..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}
