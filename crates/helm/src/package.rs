//! Working on charts without a cluster: `create` (a new chart from
//! kubelab's starter), `package` (a chart folder → `NAME-VERSION.tgz`) and
//! `lint` (what would go wrong at install time, found now).
//!
//! **Simplification:** `kubelab helm create` scaffolds kubelab's own
//! starter (a chart for the `web` demo app, in `crates/helm/starter/`),
//! not helm's nginx starter. `lint`'s rules are helm's, in [`crate::lint`].

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::chart;
use crate::cli::{Cli, CliError};

/// The starter chart: (path, text); `<CHARTNAME>` becomes the chart's name.
const STARTER: &[(&str, &str)] = &[
    ("Chart.yaml", include_str!("../starter/Chart.yaml")),
    ("values.yaml", include_str!("../starter/values.yaml")),
    (".helmignore", include_str!("../starter/.helmignore")),
    (
        "templates/_helpers.tpl",
        include_str!("../starter/templates/_helpers.tpl"),
    ),
    (
        "templates/deployment.yaml",
        include_str!("../starter/templates/deployment.yaml"),
    ),
    (
        "templates/service.yaml",
        include_str!("../starter/templates/service.yaml"),
    ),
    (
        "templates/NOTES.txt",
        include_str!("../starter/templates/NOTES.txt"),
    ),
    (
        "templates/tests/test-connection.yaml",
        include_str!("../starter/templates/tests/test-connection.yaml"),
    ),
];

#[derive(Args)]
pub struct CreateArgs {
    /// the name (and folder) of the new chart
    pub name: String,
}

#[derive(Args)]
pub struct PackageArgs {
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// location to write the chart
    #[arg(short = 'd', long, default_value = ".")]
    pub destination: PathBuf,
    /// set the version on the chart to this semver version
    #[arg(long)]
    pub version: Option<String>,
    /// set the appVersion on the chart to this version
    #[arg(long)]
    pub app_version: Option<String>,
}

#[derive(Args)]
pub struct LintArgs {
    /// the charts to lint (folders or archives; "." if none)
    pub paths: Vec<String>,
    #[command(flatten)]
    pub values: crate::cli::ValueArgs,
    /// fail on lint warnings
    #[arg(long)]
    pub strict: bool,
    /// print only warnings and errors
    #[arg(long)]
    pub quiet: bool,
    /// lint dependent charts
    #[arg(long)]
    pub with_subcharts: bool,
    /// if set, disables JSON schema validation
    #[arg(long)]
    pub skip_schema_validation: bool,
    /// Kubernetes version used for capabilities and deprecation checks
    #[arg(long)]
    pub kube_version: Option<String>,
}

pub fn create(_cli: &Cli, a: &CreateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let dir = Path::new(&a.name);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains(['/', '\\']) || name.is_empty() {
        return Err(CliError(format!(
            "chart name must not contain path separators: {}",
            a.name
        )));
    }
    writeln!(out, "Creating {}", a.name)?;
    for (path, text) in STARTER {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(&p, text.replace("<CHARTNAME>", &name))?;
    }
    Ok(())
}

/// Is this a SemVer 2 version (`1.2.3`, `1.2.3-rc.1+build`)?
pub fn is_semver(v: &str) -> bool {
    let core = v
        .trim_start_matches('v')
        .split(['-', '+'])
        .next()
        .unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    !parts.is_empty()
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

pub fn package(_cli: &Cli, a: &PackageArgs, out: &mut dyn Write) -> Result<(), CliError> {
    for p in &a.paths {
        let dir = Path::new(p);
        let mut c = chart::load(dir).map_err(|e| CliError(format!("{e:#}")))?;
        let mut chart_yaml = String::from_utf8_lossy(
            c.raw
                .get("Chart.yaml")
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
        .into_owned();
        if let Some(v) = &a.version {
            c.metadata["version"] = serde_json::Value::String(v.clone());
            chart_yaml = replace_top_key(&chart_yaml, "version", v);
        }
        if let Some(v) = &a.app_version {
            c.metadata["appVersion"] = serde_json::Value::String(v.clone());
            chart_yaml = replace_top_key(&chart_yaml, "appVersion", v);
        }
        if !is_semver(c.version()) {
            return Err(CliError(format!(
                "validation: chart.metadata.version {:?} is invalid",
                c.version()
            )));
        }
        let file = write_archive(&c, chart_yaml.into_bytes(), &a.destination)?;
        let abs = std::fs::canonicalize(&file).unwrap_or(file);
        writeln!(
            out,
            "Successfully packaged chart and saved it to: {}",
            abs.display()
        )?;
    }
    Ok(())
}

/// Writes `NAME-VERSION.tgz` into `dest`: the chart's files under a
/// folder named after it, Chart.yaml first (as helm writes archives).
pub fn write_archive(
    c: &chart::Chart,
    chart_yaml: Vec<u8>,
    dest: &Path,
) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dest)?;
    let file = dest.join(format!("{}-{}.tgz", c.name(), c.version()));
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file)?,
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    let mut files: Vec<(String, Vec<u8>)> = vec![("Chart.yaml".into(), chart_yaml)];
    files.extend(
        c.raw
            .iter()
            .filter(|(n, _)| *n != "Chart.yaml")
            .map(|(n, d)| (n.clone(), d.clone())),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(now);
        h.set_cksum();
        tar.append_data(&mut h, format!("{}/{}", c.name(), name), data.as_slice())?;
    }
    tar.into_inner()?.finish()?;
    Ok(file)
}

fn replace_top_key(yaml: &str, key: &str, value: &str) -> String {
    let mut found = false;
    let mut out: Vec<String> = yaml
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key}:")) {
                found = true;
                format!("{key}: {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        out.push(format!("{key}: {value}"));
    }
    out.join("\n") + "\n"
}

/// `helm lint`: the rules are in [`crate::lint`].
pub fn lint(cli: &Cli, a: &LintArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // helm's namespace: the flag, else the kubeconfig context's, else default
    let namespace = cli
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            crate::kube::Client::from_kubeconfig(cli.kubeconfig.as_deref())
                .ok()
                .map(|c| c.default_namespace().to_string())
        })
        .unwrap_or_else(|| "default".into());
    let o = crate::lint::Options {
        strict: a.strict,
        quiet: a.quiet,
        with_subcharts: a.with_subcharts,
        skip_schema_validation: a.skip_schema_validation,
        namespace,
        kube_version: a.kube_version.clone(),
    };
    crate::lint::run(&a.paths, &o, &|| crate::cli::user_values(&a.values), out)
}

#[derive(clap::Subcommand)]
pub enum ShowWhat {
    /// show all information of the chart
    All(ShowArgs),
    /// show the chart's definition
    Chart(ShowArgs),
    /// show the chart's README
    Readme(ShowArgs),
    /// show the chart's values
    Values(ShowArgs),
    /// show the chart's CRDs
    Crds(ShowArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    pub chart: String,
}

/// The fields of Chart.yaml helm knows (its `chart.Metadata`), in the
/// form `helm show chart` prints them: re-encoded, keys sorted.
fn chart_definition(meta: &serde_json::Value) -> Result<String, CliError> {
    let known: Vec<&str> = crate::gostruct::METADATA
        .as_struct()
        .map(|m| m.field_names().collect())
        .unwrap_or_default();
    let mut m = serde_json::Map::new();
    if let Some(o) = meta.as_object() {
        for (k, v) in o {
            if known.contains(&k.as_str()) && !omitted(v) {
                let v = if k == "dependencies" {
                    dependency_definitions(v)
                } else {
                    v.clone()
                };
                m.insert(k.clone(), v);
            }
        }
    }
    let v = crate::template::Value::from_json(&serde_json::Value::Object(m));
    let text = crate::yaml::to_yaml(&v).map_err(CliError)?;
    Ok(if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    })
}

/// What Go's `omitempty` leaves out: null, "", false, an empty list.
fn omitted(v: &serde_json::Value) -> bool {
    v.is_null()
        || v == &serde_json::json!("")
        || v == &serde_json::json!(false)
        || v.as_array().is_some_and(|a| a.is_empty())
}

/// The dependencies as helm's `chart.Dependency` encodes them: its fields
/// in order, `name` and `repository` always (`repository: ""` when not
/// given; they have no `omitempty`), the others only when set, unknown
/// keys dropped.
fn dependency_definitions(deps: &serde_json::Value) -> serde_json::Value {
    let Some(list) = deps.as_array() else {
        return deps.clone();
    };
    let out = list.iter().map(|d| {
        let mut m = serde_json::Map::new();
        for k in crate::gostruct::DEPENDENCY.field_names() {
            let v = d.get(k).cloned().unwrap_or(serde_json::Value::Null);
            if matches!(k, "name" | "repository") {
                let text = if v.is_null() {
                    serde_json::json!("")
                } else {
                    v
                };
                m.insert(k.to_string(), text);
            } else if !omitted(&v) {
                m.insert(k.to_string(), v);
            }
        }
        serde_json::Value::Object(m)
    });
    serde_json::Value::Array(out.collect())
}

pub fn show(_cli: &Cli, what: &ShowWhat, out: &mut dyn Write) -> Result<(), CliError> {
    let (ShowWhat::All(a)
    | ShowWhat::Chart(a)
    | ShowWhat::Readme(a)
    | ShowWhat::Values(a)
    | ShowWhat::Crds(a)) = what;
    let c = crate::cli::load_chart(&a.chart)?;
    let readme = ["README.md", "README.txt", "README", "readme.md"]
        .iter()
        .find_map(|n| c.files.get(*n))
        .map(|d| String::from_utf8_lossy(d).into_owned());
    // helm prints each CRD file followed by a blank line
    let crds = || {
        c.crds()
            .into_iter()
            .map(|(_, text)| format!("{text}\n"))
            .collect::<String>()
    };
    match what {
        ShowWhat::Chart(_) => writeln!(out, "{}", chart_definition(&c.metadata)?)?,
        ShowWhat::Values(_) => writeln!(out, "{}", c.values_text)?,
        ShowWhat::Readme(_) => {
            if let Some(r) = readme {
                writeln!(out, "{r}")?
            }
        }
        ShowWhat::Crds(_) => write!(out, "{}", crds())?,
        ShowWhat::All(_) => {
            writeln!(out, "{}", chart_definition(&c.metadata)?)?;
            if !c.values_text.is_empty() {
                writeln!(out, "---\n{}", c.values_text)?;
            }
            if let Some(r) = readme {
                writeln!(out, "---\n{r}")?;
            }
            let all = crds();
            if !all.is_empty() {
                write!(out, "---\n{all}")?;
            }
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct VersionArgs {
    /// print the version number
    #[arg(long)]
    pub short: bool,
    /// template for the version string format
    #[arg(long)]
    pub template: Option<String>,
}

/// The helm version kubelab helm follows (its behaviour is helm 3.18's).
pub const HELM_VERSION: &str = "v3.18.0";

pub fn version(_cli: &Cli, a: &VersionArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if let Some(t) = &a.template {
        let mut set = crate::template::Templates::new("version", crate::funcs::Funcs::helm());
        set.parse("version", t)
            .map_err(|e| CliError(e.to_string()))?;
        let data = crate::template::Value::from_json(&serde_json::json!({
            "Version": HELM_VERSION, "GitCommit": "", "GitTreeState": "", "GoVersion": "kubelab (Rust)"
        }));
        let text = set.execute("version", &data).map_err(|e| CliError(e.msg))?;
        write!(out, "{text}")?;
        return Ok(());
    }
    if a.short {
        writeln!(out, "{HELM_VERSION}+kubelab")?;
    } else {
        writeln!(
            out,
            "version.BuildInfo{{Version:\"{HELM_VERSION}\", GitCommit:\"\", GitTreeState:\"\", GoVersion:\"kubelab (Rust)\"}}"
        )?;
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum DependencyWhat {
    /// list the dependencies for the given chart
    #[command(alias = "ls")]
    List(ShowArgs),
    /// update charts/ based on the contents of Chart.yaml
    #[command(alias = "up")]
    Update(ShowArgs),
    /// rebuild the charts/ directory based on the Chart.lock file
    Build(ShowArgs),
}

/// A string field of a dependency as Chart.yaml declares it ("" if absent).
fn dependency_field(d: &serde_json::Value, k: &str) -> String {
    d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

pub fn dependency(_cli: &Cli, what: &DependencyWhat, out: &mut dyn Write) -> Result<(), CliError> {
    let a = match what {
        DependencyWhat::List(a) => a,
        DependencyWhat::Update(a) | DependencyWhat::Build(a) => return fetch_dependencies(a, out),
    };
    let c = crate::cli::load_chart(&a.chart)?;
    let deps = crate::dependencies::deps_meta(&c);
    if deps.is_empty() {
        // helm names the absolute, cleaned path
        let abs = std::path::absolute(&a.chart)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| a.chart.clone());
        let dir = crate::funcs::paths::clean(&abs);
        writeln!(out, "WARNING: no dependencies at {dir}/charts")?;
        return Ok(());
    }
    let s = dependency_field;
    let mut rows = vec![vec![
        "NAME".to_string(),
        "VERSION".into(),
        "REPOSITORY".into(),
        "STATUS".into(),
    ]];
    for d in &deps {
        let name = s(d, "name");
        let here = c.dependencies.iter().any(|sub| sub.name() == name);
        let archived = c
            .raw
            .contains_key(&format!("charts/{name}-{}.tgz", s(d, "version")));
        let status = if archived {
            "ok"
        } else if here {
            "unpacked"
        } else {
            "missing"
        };
        rows.push(vec![
            name,
            s(d, "version"),
            s(d, "repository"),
            status.into(),
        ]);
    }
    // helm's uitable, then a blank line (`fmt.Fprintln(out, table)`)
    write!(out, "{}", crate::action::print::table(&rows))?;
    writeln!(out)?;
    Ok(())
}

/// `helm dependency update|build` for dependencies in folders
/// (`repository: file://../sub`): each is packaged into `charts/`, and
/// Chart.lock records what was used.
///
/// **Simplification:** no chart repositories (`https://`, `oci://`): the
/// machine has no network, and `helm repo` is not implemented; Chart.lock's
/// digest is kubelab's own.
fn fetch_dependencies(a: &ShowArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let dir = Path::new(&a.chart);
    let c = crate::cli::load_chart(&a.chart)?;
    let deps = crate::dependencies::deps_meta(&c);
    let s = dependency_field;
    let charts = dir.join("charts");
    let mut wanted = vec![];
    for d in &deps {
        let repo = s(d, "repository");
        let Some(path) = repo.strip_prefix("file://") else {
            return Err(CliError(format!(
                "no repository definition for {repo}. Please add the missing repos via 'helm repo add'"
            )));
        };
        let sub_dir = dir.join(path);
        let sub = chart::load(&sub_dir).map_err(|e| CliError(format!("{e:#}")))?;
        let yaml = sub.raw.get("Chart.yaml").cloned().unwrap_or_default();
        wanted.push(write_archive(&sub, yaml, &charts)?);
    }
    writeln!(out, "Saving {} charts", deps.len())?;
    writeln!(out, "Deleting outdated charts")?;
    if let Ok(rd) = std::fs::read_dir(&charts) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tgz") && !wanted.contains(&p) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    // Chart.lock: the dependencies as resolved, a digest of them, the time
    let lock_deps: Vec<serde_json::Value> = deps
        .iter()
        .map(|d| serde_json::json!({"name": s(d, "name"), "repository": s(d, "repository"), "version": s(d, "version")}))
        .collect();
    let digest = {
        use sha2::Digest;
        let bytes = serde_json::to_vec(&lock_deps).unwrap_or_default();
        let h = sha2::Sha256::digest(&bytes);
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let lock = crate::template::Value::from_json(&serde_json::json!({
        "dependencies": lock_deps,
        "digest": format!("sha256:{digest}"),
        "generated": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    }));
    let text = crate::yaml::to_yaml(&lock).map_err(CliError)?;
    std::fs::write(
        dir.join("Chart.lock"),
        if text.ends_with('\n') {
            text
        } else {
            format!("{text}\n")
        },
    )?;
    Ok(())
}

/// helm's check before install/upgrade/template: every dependency
/// Chart.yaml lists must be in `charts/`.
pub fn check_dependencies(c: &chart::Chart) -> Result<(), CliError> {
    let deps = crate::dependencies::deps_meta(c);
    let missing: Vec<String> = deps
        .iter()
        .filter_map(|d| d.get("name").and_then(|n| n.as_str()))
        .filter(|n| !c.dependencies.iter().any(|sub| sub.name() == *n))
        .map(String::from)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CliError(format!(
        "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        missing.join(", ")
    )))
}
