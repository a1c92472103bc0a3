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
    let ignore = match std::fs::read_to_string(dir.join(".helmignore")) {
        Ok(t) => Ignore::parse(&t),
        Err(_) => Ignore::default(),
    };
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

/// Builds a chart from its files (relative paths).
pub fn from_files(files: BTreeMap<String, Vec<u8>>, parent: Option<&str>) -> anyhow::Result<Chart> {
    let Some(meta) = files.get("Chart.yaml") else {
        bail!("Chart.yaml file is missing");
    };
    let metadata: serde_json::Value =
        serde_yaml::from_slice(meta).context("cannot load Chart.yaml")?;
    let name = metadata
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        bail!("validation: chart.metadata.name is required");
    }
    if metadata
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .is_empty()
    {
        bail!("validation: chart.metadata.apiVersion is required");
    }
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
            p if p.starts_with("charts/") => {
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
                    None => {}
                }
            }
            p => {
                chart.files.insert(p.to_string(), data);
            }
        }
    }
    for (_, files) in subcharts {
        if files.contains_key("Chart.yaml") {
            chart
                .dependencies
                .push(from_files(files, Some(&full_path))?);
        }
    }
    Ok(chart)
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
