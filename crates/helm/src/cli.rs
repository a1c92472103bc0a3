//! `kubelab helm …`: the helm v3 command line — the same sub-commands,
//! flags, output and exit codes — on top of this crate.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::action;
use crate::chart::{self, Chart};
use crate::engine::{self, Capabilities, ReleaseOptions};
use crate::package;
use crate::template::Value;
use crate::values;

#[derive(Parser)]
#[command(
    name = "helm",
    about = "The Kubernetes package manager (kubelab's helm-compatible client)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// namespace scope for this request
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// path to the kubeconfig file
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// enable verbose output
    #[arg(long, global = true)]
    pub debug: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// locally render templates
    Template(TemplateArgs),
    /// install a chart
    Install(action::InstallArgs),
    /// upgrade a release
    Upgrade(action::UpgradeArgs),
    /// roll back a release to a previous revision
    Rollback(action::RollbackArgs),
    /// uninstall a release
    #[command(alias = "delete", alias = "un", alias = "del")]
    Uninstall(action::UninstallArgs),
    /// list releases
    #[command(alias = "ls")]
    List(action::ListArgs),
    /// fetch release history
    #[command(alias = "hist")]
    History(action::HistoryArgs),
    /// display the status of the named release
    Status(action::StatusArgs),
    /// download extended information of a named release
    Get {
        #[command(subcommand)]
        what: action::GetWhat,
    },
    /// run tests for a release
    Test(action::TestArgs),
    /// create a new chart with the given name
    Create(package::CreateArgs),
    /// package a chart directory into a chart archive
    Package(package::PackageArgs),
    /// examine a chart for possible issues
    Lint(package::LintArgs),
    /// show information of a chart
    #[command(alias = "inspect")]
    Show {
        #[command(subcommand)]
        what: package::ShowWhat,
    },
    /// print the client version information
    Version(package::VersionArgs),
    /// manage a chart's dependencies
    #[command(alias = "dep", alias = "dependencies")]
    Dependency {
        #[command(subcommand)]
        what: package::DependencyWhat,
    },
}

/// Values flags shared by install, upgrade and template.
#[derive(Args, Clone, Default)]
pub struct ValueArgs {
    /// specify values in a YAML file (can specify multiple)
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// set values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// set STRING values on the command line
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// set values from respective files specified via the command line
    #[arg(long = "set-file")]
    pub set_file: Vec<String>,
    /// set JSON values on the command line
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// set a literal STRING value on the command line
    #[arg(long = "set-literal")]
    pub set_literal: Vec<String>,
}

#[derive(Args)]
pub struct TemplateArgs {
    /// [NAME] [CHART]
    #[arg(num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub values: ValueArgs,
    /// only show manifests rendered from the given templates
    #[arg(short = 's', long = "show-only")]
    pub show_only: Vec<String>,
    /// include CRDs in the templated output
    #[arg(long)]
    pub include_crds: bool,
    /// skip tests from templated output
    #[arg(long)]
    pub skip_tests: bool,
    /// prevent hooks from running during install
    #[arg(long)]
    pub no_hooks: bool,
    /// Kubernetes version used for Capabilities.KubeVersion
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Kubernetes api versions used for Capabilities.APIVersions
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
    /// set .Release.IsUpgrade instead of .Release.IsInstall
    #[arg(long)]
    pub is_upgrade: bool,
    /// writes the executed templates to files in output-dir instead of stdout
    #[arg(long)]
    pub output_dir: Option<String>,
    /// use release name in the output-dir path
    #[arg(long)]
    pub release_name: bool,
    /// generate the name (and omit the NAME parameter)
    #[arg(short = 'g', long)]
    pub generate_name: bool,
    #[command(flatten)]
    pub chart_version: action::ChartVersionArgs,
    /// if set, no CRDs will be installed (template installs nothing: no effect, as in helm)
    #[arg(long)]
    pub skip_crds: bool,
}

/// An error to print as `Error: …` (with helm's exit code 1).
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError(e.to_string())
    }
}

/// Runs `helm ARGS…` (without the program name) and returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("helm".to_string()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let mut out = std::io::stdout().lock();
    match execute(&cli, &mut out) {
        Ok(()) => 0,
        Err(CliError(msg)) => {
            let _ = out.flush();
            eprintln!("Error: {msg}");
            1
        }
    }
}

/// Runs a parsed command line, writing what helm prints on stdout to `out`.
pub fn execute(cli: &Cli, out: &mut dyn Write) -> Result<(), CliError> {
    match &cli.command {
        Command::Template(t) => template(cli, t, out),
        Command::Install(a) => action::install(cli, a, out),
        Command::Upgrade(a) => action::upgrade(cli, a, out),
        Command::Rollback(a) => action::rollback(cli, a, out),
        Command::Uninstall(a) => action::uninstall(cli, a, out),
        Command::List(a) => action::list(cli, a, out),
        Command::History(a) => action::history(cli, a, out),
        Command::Status(a) => action::status(cli, a, out),
        Command::Get { what } => action::get(cli, what, out),
        Command::Test(a) => action::test(cli, a, out),
        Command::Create(a) => package::create(cli, a, out),
        Command::Package(a) => package::package(cli, a, out),
        Command::Lint(a) => package::lint(cli, a, out),
        Command::Show { what } => package::show(cli, what, out),
        Command::Version(a) => package::version(cli, a, out),
        Command::Dependency { what } => package::dependency(cli, what, out),
    }
}

/// Runs `helm ARGS…` in-process: stdout's text, or the error message
/// (what helm prints after `Error: `). For tests and benchmarks.
pub fn capture<S: AsRef<str>>(args: &[S]) -> Result<String, String> {
    let argv =
        std::iter::once("helm".to_string()).chain(args.iter().map(|a| a.as_ref().to_string()));
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    execute(&cli, &mut out).map_err(|e| e.0)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Like [`capture`], but stdout is kept when the command fails too (as
/// `helm lint` prints its findings, then fails): (stdout, the error
/// message after `Error: `, if any).
pub fn capture_all<S: AsRef<str>>(args: &[S]) -> (String, Option<String>) {
    let argv =
        std::iter::once("helm".to_string()).chain(args.iter().map(|a| a.as_ref().to_string()));
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => return (String::new(), Some(e.to_string())),
    };
    let mut out = Vec::new();
    let err = execute(&cli, &mut out).err().map(|e| e.0);
    (String::from_utf8_lossy(&out).into_owned(), err)
}

/// The user's values: -f files, then --set-json, --set, --set-string,
/// --set-file, --set-literal (helm's order).
pub fn user_values(a: &ValueArgs) -> Result<Value, CliError> {
    let mut files = vec![];
    let mut names = vec![];
    for f in &a.values {
        let text = std::fs::read_to_string(f)
            .map_err(|_| CliError(format!("open {}: no such file or directory", f.display())))?;
        files.push(text);
        names.push(f.display().to_string());
    }
    let o = values::Options {
        files,
        json: a.set_json.clone(),
        set: a.set.clone(),
        set_string: a.set_string.clone(),
        set_file: a.set_file.clone(),
        set_literal: a.set_literal.clone(),
    };
    values::merge_values(&o, &names).map_err(CliError)
}

/// A chart's defaults, recursively, for coalescing.
pub fn chart_values(chart: &Chart) -> Result<values::ChartValues, String> {
    let own = values::read_values(&chart.values_text)
        .map_err(|e| format!("cannot load values.yaml: {e}"))?;
    Ok(values::ChartValues {
        name: chart.name().to_string(),
        values: own,
        deps: chart
            .dependencies
            .iter()
            .map(chart_values)
            .collect::<Result<_, _>>()?,
    })
}

/// Chart defaults under user values (helm's CoalesceValues).
pub fn coalesce(chart: &Chart, user: &Value) -> Result<Value, CliError> {
    Ok(values::coalesce(
        &chart_values(chart).map_err(CliError)?,
        user,
    ))
}

/// From the user's values to what templates see: subcharts enabled and
/// renamed, imports done, defaults coalesced, schemas checked.
pub fn prepare(chart: &mut Chart, user: &Value) -> Result<Value, CliError> {
    crate::dependencies::process(chart, user, &|c, v| coalesce(c, v).map_err(|e| e.0))
        .map_err(CliError)?;
    let values = coalesce(chart, user)?;
    crate::schema::validate(chart, &values).map_err(CliError)?;
    Ok(values)
}

pub fn load_chart(path: &str) -> Result<Chart, CliError> {
    let p = PathBuf::from(path);
    if !p.exists() {
        return Err(CliError(format!("path \"{path}\" not found")));
    }
    chart::load(&p).map_err(|e| CliError(format!("{e:#}")))
}

/// `helm template --output-dir`: each template to its own file under the
/// directory (CRDs at its top, manifests and hooks under the release's name
/// with `--release-name`), documents from one template appended to the
/// same file, and a `wrote <file>` line for each write. What is left to
/// print is the empty manifest, one blank line, as helm prints it.
fn write_output_dir(
    t: &TemplateArgs,
    dir: &str,
    release_dir: &str,
    chart: &chart::Chart,
    manifests: &[engine::Manifest],
    hooks: &[engine::Hook],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut write = |base: &str, name: &str, data: &str, append: bool| -> Result<(), CliError> {
        let file = format!("{base}/{name}");
        let path = Path::new(&file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CliError(e.to_string()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| CliError(format!("open {file}: {e}")))?;
        write!(f, "---\n# Source: {name}\n{data}\n")?;
        writeln!(out, "wrote {file}")?;
        Ok(())
    };
    let mut written = std::collections::HashSet::new();
    if t.include_crds {
        for (path, crd) in chart.all_crds() {
            let again = !written.insert(path.clone());
            write(dir, &path, &crd, again)?;
        }
    }
    for m in manifests {
        let again = !written.insert(m.path.clone());
        write(release_dir, &m.path, &m.content, again)?;
    }
    if !t.no_hooks {
        for h in hooks {
            if t.skip_tests && h.events.iter().any(|e| e == "test") {
                continue;
            }
            let path = &h.manifest.path;
            // helm appends a hook to a file that is already on disk
            let exists = Path::new(&format!("{release_dir}/{path}")).exists();
            write(release_dir, path, &h.manifest.content, exists)?;
        }
    }
    writeln!(out)?;
    Ok(())
}

fn template(cli: &Cli, t: &TemplateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (name, chart_path) = match t.args.as_slice() {
        // helm template names the release "release-name" before it looks
        // at --generate-name, which so changes nothing but this refusal
        [_, _] if t.generate_name => {
            return Err(CliError(
                "cannot set --generate-name and also specify a name".into(),
            ));
        }
        [chart] => ("release-name".to_string(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => {
            return Err(CliError(
                "\"helm template\" requires at most 2 arguments".into(),
            ));
        }
    };
    let mut caps = Capabilities::default();
    if let Some(v) = &t.kube_version {
        caps = caps.with_kube_version(v).map_err(CliError)?;
    }
    caps.api_versions.extend(t.api_versions.iter().cloned());
    let mut chart = load_chart(&chart_path)?;
    engine::check_installable(&chart).map_err(CliError)?;
    engine::warn_if_deprecated(&chart);
    package::check_dependencies(&chart)?;
    action::validate_name(&name).map_err(|e| CliError(format!("release name {name:?}: {e}")))?;
    let user = user_values(&t.values)?;
    let values = prepare(&mut chart, &user)?;
    let release = ReleaseOptions {
        name,
        namespace: cli.namespace.clone().unwrap_or_else(|| "default".into()),
        revision: 1,
        is_install: !t.is_upgrade,
        is_upgrade: t.is_upgrade,
    };
    let debug_hint = |e: String| {
        CliError(format!(
            "{e}\n\nUse --debug flag to render out invalid YAML"
        ))
    };
    engine::check_kube_version(&chart, &caps).map_err(debug_hint)?;
    let mut files =
        engine::render(&chart, &values, &release, &caps, None).map_err(|e| debug_hint(e.0))?;
    engine::take_notes(&mut files, chart.name(), false);
    let (hooks, manifests) = engine::sort_manifests(&files).map_err(|e| debug_hint(e.0))?;
    // an empty --output-dir is no output dir, as in helm
    if let Some(dir) = t.output_dir.as_ref().filter(|d| !d.is_empty()) {
        // Go's filepath.Join cleans the release's folder; the file names
        // below it are joined as they are
        let release_dir = if t.release_name {
            crate::funcs::paths::clean(&format!("{dir}/{}", release.name))
        } else {
            dir.clone()
        };
        return write_output_dir(t, dir, &release_dir, &chart, &manifests, &hooks, out);
    }
    let mut text = String::new();
    if t.include_crds {
        for (path, crd) in chart.all_crds() {
            text.push_str(&format!("---\n# Source: {path}\n{crd}\n"));
        }
    }
    text.push_str(&engine::manifest_text(&manifests));
    let mut all = format!("{}\n", text.trim());
    if !t.no_hooks {
        for h in &hooks {
            if t.skip_tests && h.events.iter().any(|e| e == "test") {
                continue;
            }
            all.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                h.manifest.path, h.manifest.content
            ));
        }
    }
    if t.show_only.is_empty() {
        out.write_all(all.as_bytes())?;
        return Ok(());
    }
    let docs = engine::split_manifests(&all);
    let re = regex::Regex::new("# Source: [^/]+/(.+)").unwrap();
    let mut shown = String::new();
    for f in &t.show_only {
        let mut missing = true;
        for d in &docs {
            let Some(c) = re.captures(d) else { continue };
            if chart::glob_match(f, &c[1]) {
                shown.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return Err(CliError(format!("could not find template {f} in chart")));
        }
    }
    out.write_all(shown.as_bytes())?;
    let _ = BTreeMap::<String, String>::new();
    Ok(())
}
