//! The helm commands that talk to the cluster: install, upgrade, rollback,
//! uninstall, list, history, status, get, test. Releases live in the
//! cluster as Secrets in helm's own format ([`crate::release`]), so the
//! real helm and `kubelab helm` can take turns on the same release.

mod apply;
pub(crate) mod print;

use std::collections::BTreeMap;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value as J, json};

use crate::chart::Chart;
use crate::cli::{self, Cli, CliError, ValueArgs};
use crate::engine::{self, Capabilities, ReleaseOptions};
use crate::kube::Client;
use crate::release::{self, Release, Storage};
use crate::template::Value;
use apply::Res;

/// `--version` and `--devel`: helm uses them to pick a chart version from
/// a repository and ignores them for a folder or an archive, as here.
#[derive(Args)]
pub struct ChartVersionArgs {
    /// specify a version constraint for the chart version to use (repositories only)
    #[arg(long)]
    pub version: Option<String>,
    /// use development versions, too (repositories only)
    #[arg(long)]
    pub devel: bool,
}

/// Flags install and upgrade share.
#[derive(Args)]
pub struct DeployArgs {
    /// if set, no CRDs will be installed
    #[arg(long)]
    pub skip_crds: bool,
    /// if set, do not print the chart's NOTES
    #[arg(long)]
    pub hide_notes: bool,
    /// if set and --wait enabled, will wait until all Jobs have been completed
    #[arg(long)]
    pub wait_for_jobs: bool,
}

#[derive(Args)]
pub struct InstallArgs {
    /// [NAME] [CHART]
    #[arg(num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub values: ValueArgs,
    /// generate the name (and omit the NAME parameter)
    #[arg(short = 'g', long)]
    pub generate_name: bool,
    /// create the release namespace if not present
    #[arg(long)]
    pub create_namespace: bool,
    /// wait until all resources are ready
    #[arg(long)]
    pub wait: bool,
    /// delete the installation on failure
    #[arg(long)]
    pub atomic: bool,
    /// simulate an install
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// time to wait for any individual Kubernetes operation
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
    /// prevent hooks from running during install
    #[arg(long)]
    pub no_hooks: bool,
    /// add a custom description
    #[arg(long)]
    pub description: Option<String>,
    /// re-use the given name, only if that name is a deleted release which remains in the history
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub chart_version: ChartVersionArgs,
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// labels that would be added to release metadata, divided by comma (k=v,k2=v2)
    #[arg(short = 'l', long)]
    pub labels: Vec<String>,
}

#[derive(Args)]
pub struct UpgradeArgs {
    /// RELEASE CHART
    pub release: String,
    pub chart: String,
    #[command(flatten)]
    pub values: ValueArgs,
    /// if a release by this name doesn't already exist, run an install
    #[arg(short = 'i', long)]
    pub install: bool,
    /// when upgrading, reuse the last release's values and merge in any overrides
    #[arg(long)]
    pub reuse_values: bool,
    /// when upgrading, reset the values to the ones built into the chart
    #[arg(long)]
    pub reset_values: bool,
    #[arg(long)]
    pub create_namespace: bool,
    #[arg(long)]
    pub wait: bool,
    #[arg(long)]
    pub atomic: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: Option<String>,
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
    #[arg(long)]
    pub no_hooks: bool,
    #[arg(long)]
    pub description: Option<String>,
    /// force resource updates through a replacement strategy
    #[arg(long)]
    pub force: bool,
    /// allow deletion of new resources created in this upgrade when upgrade fails
    #[arg(long)]
    pub cleanup_on_fail: bool,
    /// limit the maximum number of revisions saved per release (0: no limit)
    #[arg(long, default_value_t = 10)]
    pub history_max: usize,
    /// labels that would be added to release metadata, divided by comma
    /// (k=v,k2=v2); merged with the last release's, and `k=null` removes one
    #[arg(short = 'l', long)]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub chart_version: ChartVersionArgs,
    #[command(flatten)]
    pub deploy: DeployArgs,
}

#[derive(Args)]
pub struct RollbackArgs {
    pub release: String,
    pub revision: Option<i64>,
    /// simulate a rollback
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
    #[arg(long)]
    pub no_hooks: bool,
    /// limit the maximum number of revisions saved per release (0: no limit)
    #[arg(long, default_value_t = 10)]
    pub history_max: usize,
    /// if set and --wait enabled, will wait until all Jobs have been completed
    #[arg(long)]
    pub wait_for_jobs: bool,
}

#[derive(Args)]
pub struct UninstallArgs {
    #[arg(required = true)]
    pub releases: Vec<String>,
    /// remove all associated resources and mark the release as deleted, but retain the release history
    #[arg(long)]
    pub keep_history: bool,
    #[arg(long)]
    pub no_hooks: bool,
    #[arg(long)]
    pub wait: bool,
    /// treat "release not found" as a successful uninstall
    #[arg(long)]
    pub ignore_not_found: bool,
    /// simulate a uninstall
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// list releases across all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// show all releases without any filter applied
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(long)]
    pub deployed: bool,
    #[arg(long)]
    pub failed: bool,
    #[arg(long)]
    pub pending: bool,
    #[arg(long)]
    pub superseded: bool,
    #[arg(long)]
    pub uninstalled: bool,
    #[arg(long)]
    pub uninstalling: bool,
    /// output the short (quiet) listing format
    #[arg(short = 'q', long)]
    pub short: bool,
    /// prints the output in the specified format. Allowed values: table, json, yaml
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
    /// a regular expression; only releases whose name matches are listed
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// don't print headers when using the default output format
    #[arg(long)]
    pub no_headers: bool,
    /// selector (label query) to filter on the releases' labels, supports
    /// '=', '==' and '!=' (e.g. -l key1=value1,key2=value2)
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// sort by release date
    #[arg(short = 'd', long)]
    pub date: bool,
    /// reverse the sort order
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// maximum number of releases to fetch
    #[arg(short = 'm', long, default_value_t = 256)]
    pub max: usize,
    /// next release index in the list, used to offset from start value
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

#[derive(Args)]
pub struct HistoryArgs {
    pub release: String,
    #[arg(long, default_value_t = 256)]
    pub max: usize,
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
}

#[derive(Args)]
pub struct StatusArgs {
    pub release: String,
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
    #[arg(long)]
    pub show_resources: bool,
    /// if set, display the description message of the named release
    #[arg(long)]
    pub show_desc: bool,
}

#[derive(Subcommand)]
pub enum GetWhat {
    /// download all information for a named release
    All(GetArgs),
    /// download the hooks for a named release
    Hooks(GetArgs),
    /// download the manifest for a named release
    Manifest(GetArgs),
    /// download the notes for a named release
    Notes(GetArgs),
    /// download the values file for a named release
    Values(GetValuesArgs),
}

#[derive(Args)]
pub struct GetArgs {
    pub release: String,
    #[arg(long)]
    pub revision: Option<i64>,
}

#[derive(Args)]
pub struct GetValuesArgs {
    pub release: String,
    #[arg(long)]
    pub revision: Option<i64>,
    /// dump all (computed) values
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
}

#[derive(Args)]
pub struct TestArgs {
    pub release: String,
    #[arg(long)]
    pub logs: bool,
    /// specify tests by attribute (currently "name") using attribute=value
    /// syntax or '!attribute=value' to exclude a test (can specify multiple
    /// or separate values with commas: name=test1,name=test2)
    #[arg(long)]
    pub filter: Vec<String>,
    /// if set, do not show notes in test output
    #[arg(long)]
    pub hide_notes: bool,
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
}

// ---- shared ----------------------------------------------------------------------------

/// The cluster, the namespace and the release storage for one command.
struct Ctx {
    client: Client,
    ns: String,
    store: Storage,
}

fn ctx(cli: &Cli) -> Result<Ctx, CliError> {
    let client = Client::from_kubeconfig(cli.kubeconfig.as_deref())?;
    let ns = cli
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let store = Storage::new(client.clone(), &ns);
    Ok(Ctx { client, ns, store })
}

/// Go's time.ParseDuration for the forms helm's flags take (`5m0s`, `90s`, `1h`, `300ms`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {:?}", s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

const NAME_RE: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// chartutil.ValidateReleaseName.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("no name provided".into());
    }
    let re = regex::Regex::new(NAME_RE).expect("a valid regex");
    if name.len() > 53 || !re.is_match(name) {
        return Err(format!(
            "invalid release name, must match regex {NAME_RE} and the length must not be longer than 53"
        ));
    }
    Ok(())
}

fn check_dry_run(v: &Option<String>) -> Result<bool, String> {
    match v.as_deref() {
        None | Some("none") | Some("false") => Ok(false),
        Some("client") | Some("server") | Some("true") => Ok(true),
        Some(_) => Err("Invalid dry-run flag. Flag must one of the following: false, true, none, client, server".into()),
    }
}

/// `.Capabilities` from the cluster: its version and what it serves.
fn capabilities(c: &Client) -> Result<Capabilities, String> {
    let mut caps = Capabilities::default();
    let v = c
        .server_version()
        .map_err(|e| format!("could not get server version from Kubernetes: {e}"))?;
    caps = caps.with_kube_version(&v).unwrap_or_default();
    caps.api_versions = c
        .api_versions()
        .map_err(|e| format!("could not get apiVersions from Kubernetes: {e}"))?;
    Ok(caps)
}

/// Templates' `lookup`, answered by the cluster.
fn lookup(c: &Client) -> crate::template::Lookup {
    let c = c.clone();
    Rc::new(
        move |api_version: &str, kind: &str, namespace: &str, name: &str| {
            let Ok(path) = c.path(api_version, kind, namespace, name) else {
                return Ok(Value::empty_map());
            };
            match c.get_json(&path) {
                Ok(v) => Ok(Value::from_json(&v)),
                Err(e) if e.is_not_found() => Ok(Value::empty_map()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
}

/// Deep merge: `over` wins, `null` in `over` removes (chartutil.CoalesceValues).
fn coalesce_json(base: &J, over: &J) -> J {
    let (Some(b), Some(o)) = (base.as_object(), over.as_object()) else {
        return if over.is_null() {
            base.clone()
        } else {
            over.clone()
        };
    };
    let mut out = b.clone();
    for (k, v) in o {
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match out.get(k) {
            Some(bv) if bv.is_object() && v.is_object() => coalesce_json(bv, v),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    release::sorted(&J::Object(out))
}

/// The values a release was rendered with (`helm get values --all`).
fn computed_values(r: &Release) -> J {
    let base = match r.chart_values() {
        J::Null => json!({}),
        v => v,
    };
    coalesce_json(&base, &r.config)
}

fn is_empty_values(v: &J) -> bool {
    v.as_object().is_none_or(|o| o.is_empty())
}

/// The chart's values.yaml as JSON (`null` without one).
fn chart_values_json(chart: &Chart) -> Result<J, String> {
    if chart.values_text.is_empty() && !chart.raw.contains_key("values.yaml") {
        return Ok(J::Null);
    }
    Ok(crate::values::read_values(&chart.values_text)?.to_json())
}

struct Rendered {
    manifest: String,
    hooks: Vec<release::Hook>,
    notes: String,
}

/// Renders the chart for a release: manifest (install order), hooks, notes.
fn render(
    ctx: &Ctx,
    chart: &Chart,
    values: &Value,
    name: &str,
    revision: i64,
    is_upgrade: bool,
    remote: bool,
) -> Result<Rendered, String> {
    let caps = capabilities(&ctx.client)?;
    engine::check_kube_version(chart, &caps)?;
    let opts = ReleaseOptions {
        name: name.to_string(),
        namespace: ctx.ns.clone(),
        revision,
        is_install: !is_upgrade,
        is_upgrade,
    };
    let mut files = engine::render(
        chart,
        values,
        &opts,
        &caps,
        remote.then(|| lookup(&ctx.client)),
    )
    .map_err(|e| e.0)?;
    let notes = engine::take_notes(&mut files, chart.name(), false);
    let (hooks, manifests) = engine::sort_manifests(&files).map_err(|e| e.0)?;
    Ok(Rendered {
        manifest: engine::manifest_text(&manifests),
        hooks: hooks.iter().map(release::Hook::from_engine).collect(),
        notes,
    })
}

/// Installs the chart's CRDs (crds/) first, as helm does; existing ones are left.
fn install_crds(ctx: &Ctx, chart: &Chart) -> Result<(), String> {
    let crds = chart.all_crds();
    if crds.is_empty() {
        return Ok(());
    }
    let mut any = false;
    for (_, text) in crds {
        let res = apply::build(&ctx.client, &text, "")
            .map_err(|e| format!("failed to install CRD: {e}"))?;
        for r in res {
            match ctx.client.create(&r.obj, "") {
                Ok(_) => any = true,
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(format!("failed to install CRD {}: {e}", r.name)),
            }
        }
    }
    if any {
        std::thread::sleep(Duration::from_millis(500));
        ctx.client.invalidate();
    }
    Ok(())
}

// ---- install -------------------------------------------------------------------------------

struct InstallOpts {
    create_namespace: bool,
    wait: bool,
    atomic: bool,
    dry_run: Option<String>,
    timeout: Duration,
    no_hooks: bool,
    description: Option<String>,
    replace: bool,
    skip_crds: bool,
    wait_for_jobs: bool,
    labels: BTreeMap<String, String>,
}

/// helm's `--labels k=v,k2=v2` (pflag's string-to-string; the flag may be
/// given several times and its values add up), refusing the labels its
/// storage keeps for itself.
fn parse_labels(flags: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for flag in flags.iter().filter(|f| !f.is_empty()) {
        // pflag: a value with a single `=` is one pair, commas and all
        let pairs: Vec<&str> = match flag.matches('=').count() {
            0 | 1 => vec![flag.trim_matches('"')],
            _ => flag.split(',').collect(),
        };
        for pair in pairs {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(format!(
                    "invalid argument {flag:?} for \"-l, --labels\" flag: {pair} must be formatted as key=value"
                ));
            };
            out.insert(k.to_string(), v.to_string());
        }
    }
    if out
        .keys()
        .any(|k| release::SYSTEM_LABELS.contains(&k.as_str()))
    {
        return Err(format!(
            "user supplied labels contains system reserved label name. System labels: {}",
            release::system_labels_go()
        ));
    }
    Ok(out)
}

/// An upgrade's labels: the last release's, overridden by the new ones;
/// a label set to "null" is removed (helm's mergeCustomLabels).
fn merge_labels(
    last: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = last.clone();
    out.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.retain(|_, v| v != "null");
    out
}

/// `helm list --selector`: equality terms (`k=v`, `k==v`, `k!=v`) and
/// existence (`k`, `!k`), all of which must hold, on the release's labels.
fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else if let Some(k) = t.strip_prefix('!') {
                !labels.contains_key(k.trim())
            } else {
                labels.contains_key(t)
            }
        })
}

fn name_and_chart(args: &[String], generate: bool) -> Result<(String, String), String> {
    match args {
        [name, chart] => {
            if generate {
                return Err("cannot set --generate-name and also specify a name".into());
            }
            Ok((name.clone(), chart.clone()))
        }
        [chart] => {
            if !generate {
                return Err("must either provide a name or specify --generate-name".into());
            }
            let base = std::path::Path::new(chart.trim_end_matches('/'))
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            let base = if base.is_empty() || base == "." {
                "chart".to_string()
            } else {
                base
            };
            let base = base.split('.').next().unwrap_or("chart").to_string();
            Ok((
                format!("{base}-{}", chrono::Utc::now().timestamp()),
                chart.clone(),
            ))
        }
        _ => Err(format!(
            "expected at most two arguments, unexpected arguments: {}",
            args.get(2..).unwrap_or_default().join(", ")
        )),
    }
}

pub fn install(cli: &Cli, a: &InstallArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let failed = |e: String| CliError(format!("INSTALLATION FAILED: {e}"));
    let (name, chart_path) = name_and_chart(&a.args, a.generate_name).map_err(failed)?;
    let ctx = ctx(cli).map_err(|e| failed(e.0))?;
    let chart = cli::load_chart(&chart_path).map_err(|e| failed(e.0))?;
    engine::check_installable(&chart).map_err(failed)?;
    engine::warn_if_deprecated(&chart);
    crate::package::check_dependencies(&chart).map_err(|e| failed(e.0))?;
    let user = cli::user_values(&a.values).map_err(|e| failed(e.0))?;
    let opts = InstallOpts {
        create_namespace: a.create_namespace,
        wait: a.wait,
        atomic: a.atomic,
        dry_run: a.dry_run.clone(),
        timeout: parse_duration(&a.timeout).map_err(failed)?,
        no_hooks: a.no_hooks,
        description: a.description.clone(),
        replace: a.replace,
        skip_crds: a.deploy.skip_crds,
        wait_for_jobs: a.deploy.wait_for_jobs,
        labels: parse_labels(&a.labels).map_err(failed)?,
    };
    let rel = run_install(&ctx, &chart, &name, &user, &opts).map_err(failed)?;
    print::status(out, &rel, cli.debug, false, a.deploy.hide_notes)?;
    Ok(())
}

fn run_install(
    ctx: &Ctx,
    chart: &Chart,
    name: &str,
    user: &Value,
    o: &InstallOpts,
) -> Result<Release, String> {
    let dry = check_dry_run(&o.dry_run)?;
    validate_name(name).map_err(|e| format!("release name {name:?}: {e}"))?;
    if !dry && let Ok(h) = ctx.store.history(name) {
        let last = h.last().expect("a non-empty history");
        if !(o.replace && matches!(last.info.status.as_str(), "uninstalled" | "failed")) {
            return Err("cannot re-use a name that is still in use".into());
        }
    }
    if !dry && !o.skip_crds {
        install_crds(ctx, chart)?;
    }
    let wait = o.wait || o.atomic;
    let chart_values = chart_values_json(chart)?;
    let mut chart = chart.clone();
    let chart = &mut chart;
    let values = cli::prepare(chart, user).map_err(|e| e.0)?;
    let remote = !dry || o.dry_run.as_deref() == Some("server");
    let r = render(ctx, chart, &values, name, 1, false, remote)?;
    let ts = release::now();
    let mut rel = Release {
        name: name.to_string(),
        namespace: ctx.ns.clone(),
        chart: Some(release::chart_json(chart, chart_values)),
        config: user.to_json(),
        manifest: r.manifest,
        hooks: r.hooks,
        version: 1,
        labels: o.labels.clone(),
        ..Default::default()
    };
    rel.info.first_deployed = Some(ts);
    rel.info.last_deployed = Some(ts);
    rel.info.notes = r.notes;
    rel.set_status("pending-install", "Initial install underway");
    let mut resources = apply::build(&ctx.client, &rel.manifest, &ctx.ns)
        .map_err(|e| format!("unable to build kubernetes objects from release manifest: {e}"))?;
    apply::set_metadata(&mut resources, name, &ctx.ns);
    let adopt = apply::existing_conflicts(&ctx.client, &resources, name, &ctx.ns)
        .map_err(|e| format!("Unable to continue with install: {e}"))?;
    if dry {
        rel.info.description = "Dry run complete".into();
        return Ok(rel);
    }
    if o.create_namespace {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ctx.ns, "labels": {"name": ctx.ns}}});
        match ctx.client.create(&ns, "") {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if o.replace
        && let Ok(h) = ctx.store.history(name)
    {
        let mut last = h.last().expect("a non-empty history").clone();
        rel.version = last.version + 1;
        if last.info.status != "failed" {
            last.set_status("superseded", "superseded by new release");
            let _ = ctx.store.update(&last);
        }
    }
    ctx.store.create(&rel)?;
    match perform_install(ctx, &mut rel, &adopt, &resources, wait, o) {
        Ok(()) => Ok(rel),
        Err(e) => {
            rel.set_status("failed", &format!("Release {name:?} failed: {e}"));
            if o.atomic {
                let un = UninstallOpts {
                    no_hooks: o.no_hooks,
                    timeout: o.timeout,
                    ..Default::default()
                };
                if let Err(ue) = run_uninstall(ctx, name, &un) {
                    return Err(format!(
                        "an error occurred while uninstalling the release. original install error: {e}: {ue}"
                    ));
                }
                return Err(format!(
                    "release {name} failed, and has been uninstalled due to atomic being set: {e}"
                ));
            }
            let _ = ctx.store.update(&rel);
            Err(e)
        }
    }
}

fn perform_install(
    ctx: &Ctx,
    rel: &mut Release,
    adopt: &[Res],
    resources: &[Res],
    wait: bool,
    o: &InstallOpts,
) -> Result<(), String> {
    if !o.no_hooks {
        apply::exec_hooks(&ctx.client, &ctx.store, rel, "pre-install", o.timeout)
            .map_err(|e| format!("failed pre-install: {e}"))?;
    }
    if adopt.is_empty() {
        apply::create_all(&ctx.client, resources)?;
    } else {
        apply::update(&ctx.client, adopt, resources, false)?;
    }
    if wait {
        apply::wait_ready(&ctx.client, resources, o.timeout, o.wait_for_jobs)?;
    }
    if !o.no_hooks {
        apply::exec_hooks(&ctx.client, &ctx.store, rel, "post-install", o.timeout)
            .map_err(|e| format!("failed post-install: {e}"))?;
    }
    let desc = o
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Install complete".into());
    rel.set_status("deployed", &desc);
    let _ = ctx.store.update(rel);
    Ok(())
}

// ---- upgrade -------------------------------------------------------------------------------

pub fn upgrade(cli: &Cli, a: &UpgradeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let timeout = parse_duration(&a.timeout)?;
    let dry_run = Some(a.dry_run.clone().unwrap_or_else(|| "none".into()));
    if a.install {
        validate_name(&a.release)
            .map_err(|_| CliError(format!("release name is invalid: {}", a.release)))?;
        let install_with = match ctx.store.history(&a.release) {
            Err(e) if e == release::NOT_FOUND => Some(false),
            Err(e) => return Err(CliError(e)),
            Ok(h) if h.last().is_some_and(|l| l.info.status == "uninstalled") => Some(true),
            Ok(_) => None,
        };
        if let Some(replace) = install_with {
            writeln!(
                out,
                "Release {:?} does not exist. Installing it now.",
                a.release
            )?;
            let chart = cli::load_chart(&a.chart)?;
            engine::check_installable(&chart).map_err(CliError)?;
            engine::warn_if_deprecated(&chart);
            crate::package::check_dependencies(&chart)?;
            let user = cli::user_values(&a.values)?;
            let opts = InstallOpts {
                create_namespace: a.create_namespace,
                wait: a.wait,
                atomic: a.atomic,
                dry_run,
                timeout,
                no_hooks: a.no_hooks,
                description: a.description.clone(),
                replace,
                skip_crds: a.deploy.skip_crds,
                wait_for_jobs: a.deploy.wait_for_jobs,
                labels: parse_labels(&a.labels)?,
            };
            let rel = run_install(&ctx, &chart, &a.release, &user, &opts)?;
            print::status(out, &rel, cli.debug, false, a.deploy.hide_notes)?;
            return Ok(());
        }
    }
    let chart = cli::load_chart(&a.chart)?;
    engine::warn_if_deprecated(&chart);
    crate::package::check_dependencies(&chart)?;
    let user = cli::user_values(&a.values)?;
    let rel = run_upgrade(&ctx, &a.release, chart, &user, a, timeout)
        .map_err(|e| CliError(format!("UPGRADE FAILED: {e}")))?;
    writeln!(
        out,
        "Release {:?} has been upgraded. Happy Helming!",
        a.release
    )?;
    print::status(out, &rel, cli.debug, false, a.deploy.hide_notes)?;
    Ok(())
}

fn run_upgrade(
    ctx: &Ctx,
    name: &str,
    chart: Chart,
    user: &Value,
    a: &UpgradeArgs,
    timeout: Duration,
) -> Result<Release, String> {
    let dry = check_dry_run(&Some(a.dry_run.clone().unwrap_or_else(|| "none".into())))?;
    let wait = a.wait || a.atomic;
    validate_name(name).map_err(|_| format!("release name is invalid: {name}"))?;
    let last = match ctx.store.last(name) {
        Ok(l) => l,
        Err(e) if e == release::NOT_FOUND => {
            return Err(format!("{name:?} has no deployed releases"));
        }
        Err(e) => return Err(e),
    };
    if last.info.status.starts_with("pending-") {
        return Err("another operation (install/upgrade/rollback) is in progress".into());
    }
    let mut current = if last.info.status == "deployed" {
        last.clone()
    } else {
        match ctx.store.deployed(name) {
            Ok(r) => r,
            Err(e)
                if e.contains("has no deployed releases")
                    && matches!(last.info.status.as_str(), "failed" | "superseded") =>
            {
                last.clone()
            }
            Err(e) => return Err(e),
        }
    };
    // which values: helm 3.18's reuseValues
    let mut chart = chart;
    let mut vals = user.clone();
    if a.reset_values {
    } else if a.reuse_values {
        let old = coalesce_json(
            &match current.chart_values() {
                J::Null => json!({}),
                v => v,
            },
            &current.config,
        );
        let merged = coalesce_json(
            &match &current.config {
                J::Null => json!({}),
                v => v.clone(),
            },
            &user.to_json(),
        );
        vals = Value::from_json(&merged);
        chart.values_text = release::go_json(&old);
    } else if is_empty_values(&user.to_json()) && !is_empty_values(&current.config) {
        vals = Value::from_json(&current.config);
    }
    let revision = last.version + 1;
    let chart_values = chart_values_json(&chart)?;
    let values = cli::prepare(&mut chart, &vals).map_err(|e| e.0)?;
    let remote = !dry || a.dry_run.as_deref() == Some("server");
    let r = render(ctx, &chart, &values, name, revision, true, remote)?;
    let mut up = Release {
        name: name.to_string(),
        namespace: current.namespace.clone(),
        chart: Some(release::chart_json(&chart, chart_values)),
        config: vals.to_json(),
        manifest: r.manifest,
        hooks: r.hooks,
        version: revision,
        labels: merge_labels(&last.labels, &parse_labels(&a.labels)?),
        ..Default::default()
    };
    up.info.first_deployed = current.info.first_deployed;
    up.info.last_deployed = Some(release::now());
    up.info.notes = r.notes;
    up.set_status("pending-upgrade", "Preparing upgrade");

    let mut cur_res =
        apply::build(&ctx.client, &current.manifest, &current.namespace).map_err(|e| {
            format!("unable to build kubernetes objects from current release manifest: {e}")
        })?;
    let mut target = apply::build(&ctx.client, &up.manifest, &current.namespace).map_err(|e| {
        format!("unable to build kubernetes objects from new release manifest: {e}")
    })?;
    apply::set_metadata(&mut target, name, &current.namespace);
    let to_create: Vec<Res> = target
        .iter()
        .filter(|t| !cur_res.iter().any(|c| c.key() == t.key()))
        .cloned()
        .collect();
    let adopt = apply::existing_conflicts(&ctx.client, &to_create, name, &current.namespace)
        .map_err(|e| format!("Unable to continue with update: {e}"))?;
    cur_res.extend(adopt);
    if dry {
        up.info.description = a
            .description
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "Dry run complete".into());
        return Ok(up);
    }
    ctx.store.remove_least_recent(name, a.history_max)?;
    ctx.store.create(&up)?;
    let result = (|| -> Result<(), (String, Vec<Res>)> {
        if !a.no_hooks {
            apply::exec_hooks(&ctx.client, &ctx.store, &mut up, "pre-upgrade", timeout)
                .map_err(|e| (format!("pre-upgrade hooks failed: {e}"), vec![]))?;
        }
        let done = match apply::update(&ctx.client, &cur_res, &target, a.force) {
            Ok(d) => d,
            Err(e) => {
                let _ = ctx.store.update(&current);
                return Err((e, vec![]));
            }
        };
        if wait
            && let Err(e) = apply::wait_ready(&ctx.client, &target, timeout, a.deploy.wait_for_jobs)
        {
            let _ = ctx.store.update(&current);
            return Err((e, done.created));
        }
        if !a.no_hooks {
            apply::exec_hooks(&ctx.client, &ctx.store, &mut up, "post-upgrade", timeout).map_err(
                |e| {
                    (
                        format!("post-upgrade hooks failed: {e}"),
                        done.created.clone(),
                    )
                },
            )?;
        }
        Ok(())
    })();
    if let Err((e, created)) = result {
        let msg = format!("Upgrade {name:?} failed: {e}");
        up.set_status("failed", &msg);
        let _ = ctx.store.update(&up);
        if a.cleanup_on_fail && !created.is_empty() {
            let errs = apply::delete_all(&ctx.client, &created);
            if !errs.is_empty() {
                return Err(format!(
                    "an error occurred while cleaning up resources. original upgrade error: {e}: unable to cleanup resources: {}",
                    errs.join(", ")
                ));
            }
        }
        if a.atomic {
            let hist = ctx.store.history(name).unwrap_or_default();
            let Some(good) = hist
                .iter()
                .rev()
                .find(|r| matches!(r.info.status.as_str(), "superseded" | "deployed"))
            else {
                return Err(format!(
                    "unable to find a previously successful release when attempting to rollback. original upgrade error: {e}"
                ));
            };
            let ro = RollbackOpts {
                revision: good.version,
                wait: true,
                timeout,
                no_hooks: a.no_hooks,
                dry_run: false,
                force: a.force,
                history_max: a.history_max,
                wait_for_jobs: a.deploy.wait_for_jobs,
            };
            if let Err(re) = run_rollback(ctx, name, &ro) {
                return Err(format!(
                    "an error occurred while rolling back the release. original upgrade error: {e}: {re}"
                ));
            }
            return Err(format!(
                "release {name} failed, and has been rolled back due to atomic being set: {e}"
            ));
        }
        return Err(e);
    }
    current.info.status = "superseded".into();
    let _ = ctx.store.update(&current);
    let desc = a
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Upgrade complete".into());
    up.set_status("deployed", &desc);
    ctx.store.update(&up)?;
    Ok(up)
}

// ---- rollback ------------------------------------------------------------------------------

struct RollbackOpts {
    revision: i64,
    wait: bool,
    timeout: Duration,
    no_hooks: bool,
    dry_run: bool,
    force: bool,
    history_max: usize,
    wait_for_jobs: bool,
}

pub fn rollback(cli: &Cli, a: &RollbackArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let o = RollbackOpts {
        revision: a.revision.unwrap_or(0),
        wait: a.wait,
        timeout: parse_duration(&a.timeout)?,
        no_hooks: a.no_hooks,
        dry_run: a.dry_run,
        force: a.force,
        history_max: a.history_max,
        wait_for_jobs: a.wait_for_jobs,
    };
    run_rollback(&ctx, &a.release, &o)?;
    writeln!(out, "Rollback was a success! Happy Helming!")?;
    Ok(())
}

fn run_rollback(ctx: &Ctx, name: &str, o: &RollbackOpts) -> Result<(), String> {
    validate_name(name).map_err(|_| format!("prepareRollback: Release name is invalid: {name}"))?;
    if o.revision < 0 {
        return Err("invalid release revision".into());
    }
    let mut current = ctx.store.last(name)?;
    let prev = if o.revision == 0 {
        current.version - 1
    } else {
        o.revision
    };
    let hist = ctx.store.history(name)?;
    if !hist.iter().any(|r| r.version == prev) {
        return Err(format!("release has no {prev} version"));
    }
    let previous = ctx.store.get(name, prev)?;
    let mut target = Release {
        name: name.to_string(),
        namespace: current.namespace.clone(),
        chart: previous.chart.clone(),
        config: previous.config.clone(),
        manifest: previous.manifest.clone(),
        hooks: previous.hooks.clone(),
        version: current.version + 1,
        labels: previous.labels.clone(),
        ..Default::default()
    };
    target.info.first_deployed = current.info.first_deployed;
    target.info.last_deployed = Some(release::now());
    target.info.notes = previous.info.notes.clone();
    target.set_status("pending-rollback", &format!("Rollback to {prev}"));
    if o.dry_run {
        return Ok(());
    }
    ctx.store.remove_least_recent(name, o.history_max)?;
    ctx.store.create(&target)?;
    let cur_res =
        apply::build(&ctx.client, &current.manifest, &current.namespace).map_err(|e| {
            format!("unable to build kubernetes objects from current release manifest: {e}")
        })?;
    let mut tgt_res =
        apply::build(&ctx.client, &target.manifest, &current.namespace).map_err(|e| {
            format!("unable to build kubernetes objects from new release manifest: {e}")
        })?;
    if !o.no_hooks {
        apply::exec_hooks(
            &ctx.client,
            &ctx.store,
            &mut target,
            "pre-rollback",
            o.timeout,
        )?;
    }
    apply::set_metadata(&mut tgt_res, name, &current.namespace);
    if let Err(e) = apply::update(&ctx.client, &cur_res, &tgt_res, o.force) {
        let msg = format!("Rollback {name:?} failed: {e}");
        current.info.status = "superseded".into();
        target.set_status("failed", &msg);
        let _ = ctx.store.update(&current);
        let _ = ctx.store.update(&target);
        return Err(e);
    }
    if o.wait
        && let Err(e) = apply::wait_ready(&ctx.client, &tgt_res, o.timeout, o.wait_for_jobs)
    {
        target.set_status("failed", &format!("Release {name:?} failed: {e}"));
        let _ = ctx.store.update(&current);
        let _ = ctx.store.update(&target);
        return Err(format!("release {name} failed: {e}"));
    }
    if !o.no_hooks {
        apply::exec_hooks(
            &ctx.client,
            &ctx.store,
            &mut target,
            "post-rollback",
            o.timeout,
        )?;
    }
    if let Ok(deployed) = ctx.store.deployed_all(name) {
        for mut r in deployed {
            r.info.status = "superseded".into();
            let _ = ctx.store.update(&r);
        }
    }
    target.info.status = "deployed".into();
    ctx.store.update(&target)?;
    Ok(())
}

// ---- uninstall -----------------------------------------------------------------------------

/// Kinds in the order helm deletes them.
const UNINSTALL_ORDER: &[&str] = &[
    "APIService",
    "Ingress",
    "IngressClass",
    "Service",
    "CronJob",
    "Job",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "DaemonSet",
    "RoleBindingList",
    "RoleBinding",
    "RoleList",
    "Role",
    "ClusterRoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleList",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "ConfigMap",
    "SecretList",
    "Secret",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PodSecurityPolicy",
    "LimitRange",
    "ResourceQuota",
    "NetworkPolicy",
    "Namespace",
    "PriorityClass",
];

#[derive(Default)]
struct UninstallOpts {
    keep_history: bool,
    no_hooks: bool,
    wait: bool,
    timeout: Duration,
    description: Option<String>,
    ignore_not_found: bool,
    dry_run: bool,
}

pub fn uninstall(cli: &Cli, a: &UninstallArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let o = UninstallOpts {
        keep_history: a.keep_history,
        no_hooks: a.no_hooks,
        wait: a.wait,
        timeout: parse_duration(&a.timeout)?,
        description: a.description.clone(),
        ignore_not_found: a.ignore_not_found,
        dry_run: a.dry_run,
    };
    for name in &a.releases {
        let kept = run_uninstall(&ctx, name, &o)?;
        if !kept.is_empty() {
            writeln!(out, "{kept}")?;
        }
        writeln!(out, "release \"{name}\" uninstalled")?;
    }
    Ok(())
}

/// Uninstalls a release; returns helm's "kept" message ("" if nothing was kept).
fn run_uninstall(ctx: &Ctx, name: &str, o: &UninstallOpts) -> Result<String, String> {
    validate_name(name).map_err(|_| format!("uninstall: Release name is invalid: {name}"))?;
    let rels = match ctx.store.history(name) {
        Ok(r) => r,
        Err(_) if o.ignore_not_found => return Ok(String::new()),
        Err(e) => return Err(format!("uninstall: Release not loaded: {name}: {e}")),
    };
    let mut rel = rels.last().expect("a non-empty history").clone();
    if o.dry_run {
        return Ok(String::new());
    }
    if rel.info.status == "uninstalled" {
        if !o.keep_history {
            for r in &rels {
                ctx.store
                    .delete(r)
                    .map_err(|e| format!("uninstall: Failed to purge the release: {e}"))?;
            }
            return Ok(String::new());
        }
        return Err(format!("the release named {name:?} is already deleted"));
    }
    rel.info.status = "uninstalling".into();
    rel.info.deleted = Some(release::now());
    rel.info.description = "Deletion in progress (or silently failed)".into();
    if !o.no_hooks {
        apply::exec_hooks(&ctx.client, &ctx.store, &mut rel, "pre-delete", o.timeout)?;
    }
    let _ = ctx.store.update(&rel);
    // the manifest's objects in uninstall order, minus those to keep
    let mut kept = String::new();
    let mut to_delete: Vec<Res> = vec![];
    for doc in engine::split_manifests(&rel.manifest) {
        let head: J = serde_yaml::from_str(&doc).unwrap_or(J::Null);
        if !head.is_object() {
            continue;
        }
        let policy = head
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("helm.sh/resource-policy"))
            .and_then(|p| p.as_str());
        match policy.map(|p| p.trim().to_lowercase()) {
            Some(p) if p == "keep" => {
                kept.push_str(&format!(
                    "[{}] {}\n",
                    head.get("kind").and_then(|k| k.as_str()).unwrap_or(""),
                    head.pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                ));
                continue;
            }
            Some(_) => continue, // helm drops these from both lists
            None => {}
        }
        let res = apply::build(&ctx.client, &doc, &rel.namespace)
            .map_err(|e| format!("unable to build kubernetes objects for delete: {e}"))?;
        to_delete.extend(res);
    }
    let rank = |k: &str| {
        UNINSTALL_ORDER
            .iter()
            .position(|x| *x == k)
            .unwrap_or(UNINSTALL_ORDER.len())
    };
    to_delete.sort_by(|a, b| {
        rank(&a.kind).cmp(&rank(&b.kind)).then_with(|| {
            if rank(&a.kind) == UNINSTALL_ORDER.len() {
                a.kind.cmp(&b.kind)
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    if !apply::delete_all(&ctx.client, &to_delete).is_empty() {
        return Err(format!("failed to delete release: {name}"));
    }
    let mut errs = vec![];
    if o.wait
        && let Err(e) = apply::wait_for_delete(&ctx.client, &to_delete, o.timeout)
    {
        errs.push(e);
    }
    if !o.no_hooks
        && let Err(e) =
            apply::exec_hooks(&ctx.client, &ctx.store, &mut rel, "post-delete", o.timeout)
    {
        errs.push(e);
    }
    let desc = o
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Uninstallation complete".into());
    rel.set_status("uninstalled", &desc);
    if !o.keep_history {
        for r in &rels {
            if let Err(e) = ctx.store.delete(r) {
                errs.push(format!("uninstall: Failed to purge the release: {e}"));
                break;
            }
        }
    } else {
        let _ = ctx.store.update(&rel);
    }
    if !errs.is_empty() {
        return Err(format!(
            "uninstallation completed with {} error(s): {}",
            errs.len(),
            errs.join("; ")
        ));
    }
    Ok(if kept.is_empty() {
        kept
    } else {
        format!("These resources were kept due to the resource policy:\n{kept}")
    })
}

// ---- list, history, status, get ----------------------------------------------------------------

pub fn list(cli: &Cli, a: &ListArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let store = Storage::new(
        ctx.client.clone(),
        if a.all_namespaces { "" } else { &ctx.ns },
    );
    let filter = match &a.filter {
        Some(f) => {
            Some(regex::Regex::new(f).map_err(|e| CliError(format!("error parsing regexp: {e}")))?)
        }
        None => None,
    };
    let mut rels: Vec<Release> = store
        .list()?
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| f.is_match(&r.name)))
        .collect();
    let mut states: Vec<&str> = vec![];
    if a.all {
        states = release::STATUSES.to_vec();
    } else {
        if a.deployed {
            states.push("deployed");
        }
        if a.uninstalled {
            states.push("uninstalled");
        }
        if a.uninstalling {
            states.push("uninstalling");
        }
        if a.pending {
            states.extend(["pending-install", "pending-rollback", "pending-upgrade"]);
        }
        if a.failed {
            states.push("failed");
        }
        if a.superseded {
            states.push("superseded");
        }
        if states.is_empty() {
            states = vec!["deployed", "failed"];
        }
    }
    if states != ["superseded"] {
        let mut latest: std::collections::BTreeMap<(String, String), Release> =
            std::collections::BTreeMap::new();
        for r in rels {
            let k = (r.namespace.clone(), r.name.clone());
            if latest.get(&k).is_some_and(|l| l.version > r.version) {
                continue;
            }
            latest.insert(k, r);
        }
        rels = latest.into_values().collect();
    }
    rels.retain(|r| states.contains(&r.info.status.as_str()));
    // the selector comes last, as in helm, and sees the Secret's labels,
    // helm's own (name, owner, status, version) included
    if let Some(sel) = &a.selector {
        rels.retain(|r| {
            let mut labels = r.labels.clone();
            labels.insert("name".into(), r.name.clone());
            labels.insert("owner".into(), "helm".into());
            labels.insert("status".into(), r.info.status.clone());
            labels.insert("version".into(), r.version.to_string());
            selector_matches(sel, &labels)
        });
    }
    if a.date {
        rels.sort_by_key(|r| r.info.last_deployed.map(|t| t.timestamp()).unwrap_or(0));
        if a.reverse {
            rels.reverse();
        }
    } else {
        rels.sort_by(|x, y| x.name.cmp(&y.name));
        if a.reverse {
            rels.reverse();
        }
    }
    let rels: Vec<Release> = rels
        .into_iter()
        .skip(a.offset)
        .take(if a.max > 0 { a.max } else { usize::MAX })
        .collect();
    if a.short {
        let names: Vec<J> = rels.iter().map(|r| J::from(r.name.clone())).collect();
        match a.output.as_str() {
            "json" => out.write_all(print::json_line(&J::Array(names)).as_bytes())?,
            "yaml" => out.write_all(print::yaml_of(&J::Array(names)).as_bytes())?,
            _ => {
                for r in &rels {
                    writeln!(out, "{}", r.name)?;
                }
            }
        }
        return Ok(());
    }
    let elems: Vec<J> = rels
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "namespace": r.namespace,
                "revision": r.version.to_string(),
                "updated": r.info.last_deployed.as_ref().map(release::go_time_string).unwrap_or_else(|| "-".into()),
                "status": r.info.status,
                "chart": r.chart_label(),
                "app_version": r.app_version(),
            })
        })
        .collect();
    match a.output.as_str() {
        "json" => out.write_all(print::json_line(&J::Array(elems)).as_bytes())?,
        "yaml" => out.write_all(print::yaml_of(&J::Array(elems)).as_bytes())?,
        "table" => {
            let mut rows = vec![];
            if !a.no_headers {
                rows.push(
                    [
                        "NAME",
                        "NAMESPACE",
                        "REVISION",
                        "UPDATED",
                        "STATUS",
                        "CHART",
                        "APP VERSION",
                    ]
                    .map(String::from)
                    .to_vec(),
                );
            }
            for e in &elems {
                rows.push(
                    [
                        "name",
                        "namespace",
                        "revision",
                        "updated",
                        "status",
                        "chart",
                        "app_version",
                    ]
                    .iter()
                    .map(|k| e[*k].as_str().unwrap_or("").to_string())
                    .collect(),
                );
            }
            out.write_all(print::table(&rows).as_bytes())?;
        }
        o => return Err(CliError(format!("invalid format type {o:?}"))),
    }
    Ok(())
}

pub fn history(cli: &Cli, a: &HistoryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    validate_name(&a.release)
        .map_err(|_| CliError(format!("release name is invalid: {}", a.release)))?;
    let mut hist = ctx.store.history(&a.release)?;
    if hist.len() > a.max {
        hist.drain(..hist.len() - a.max);
    }
    let items: Vec<J> = hist
        .iter()
        .map(|r| {
            json!({
                "revision": r.version,
                "updated": r.info.last_deployed.as_ref().map(release::go_rfc3339).unwrap_or_default(),
                "status": r.info.status,
                "chart": r.chart_label(),
                "app_version": r.app_version(),
                "description": r.info.description,
            })
        })
        .collect();
    match a.output.as_str() {
        "json" => out.write_all(print::json_line(&J::Array(items)).as_bytes())?,
        "yaml" => out.write_all(print::yaml_of(&J::Array(items)).as_bytes())?,
        "table" => {
            let mut rows = vec![
                [
                    "REVISION",
                    "UPDATED",
                    "STATUS",
                    "CHART",
                    "APP VERSION",
                    "DESCRIPTION",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for r in &hist {
                rows.push(vec![
                    r.version.to_string(),
                    r.info
                        .last_deployed
                        .as_ref()
                        .map(release::ansic)
                        .unwrap_or_else(|| "Mon Jan  1 00:00:00 0001".into()),
                    r.info.status.clone(),
                    r.chart_label(),
                    r.app_version(),
                    r.info.description.clone(),
                ]);
            }
            out.write_all(print::table(&rows).as_bytes())?;
        }
        o => return Err(CliError(format!("invalid format type {o:?}"))),
    }
    Ok(())
}

/// helm's releaseContent: a revision, or the newest.
fn release_content(ctx: &Ctx, name: &str, revision: Option<i64>) -> Result<Release, CliError> {
    validate_name(name)
        .map_err(|_| CliError(format!("releaseContent: Release name is invalid: {name}")))?;
    Ok(match revision.unwrap_or(0) {
        v if v <= 0 => ctx.store.last(name)?,
        v => ctx.store.get(name, v)?,
    })
}

pub fn status(cli: &Cli, a: &StatusArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let mut rel = release_content(&ctx, &a.release, a.revision)?;
    // helm strips the chart from status output
    rel.chart = None;
    match a.output.as_str() {
        "json" => out.write_all(print::json_line(&rel.to_json()).as_bytes())?,
        "yaml" => out.write_all(print::yaml_of(&rel.to_json()).as_bytes())?,
        "table" => print::status_described(out, &rel, false, false, false, a.show_desc)?,
        o => return Err(CliError(format!("invalid format type {o:?}"))),
    }
    Ok(())
}

pub fn get(cli: &Cli, what: &GetWhat, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    match what {
        GetWhat::Values(a) => {
            let rel = release_content(&ctx, &a.release, a.revision)?;
            let vals = if a.all {
                computed_values(&rel)
            } else {
                rel.config.clone()
            };
            match a.output.as_str() {
                "json" => out.write_all(print::json_line(&vals).as_bytes())?,
                "yaml" => out.write_all(print::yaml_of(&vals).as_bytes())?,
                "table" => {
                    writeln!(
                        out,
                        "{}",
                        if a.all {
                            "COMPUTED VALUES:"
                        } else {
                            "USER-SUPPLIED VALUES:"
                        }
                    )?;
                    out.write_all(print::yaml_of(&vals).as_bytes())?;
                }
                o => return Err(CliError(format!("invalid format type {o:?}"))),
            }
        }
        GetWhat::Manifest(a) => {
            let rel = release_content(&ctx, &a.release, a.revision)?;
            writeln!(out, "{}", rel.manifest)?;
        }
        GetWhat::Notes(a) => {
            let rel = release_content(&ctx, &a.release, a.revision)?;
            if !rel.info.notes.is_empty() {
                write!(out, "NOTES:\n{}\n", rel.info.notes)?;
            }
        }
        GetWhat::Hooks(a) => {
            let rel = release_content(&ctx, &a.release, a.revision)?;
            for h in &rel.hooks {
                write!(out, "---\n# Source: {}\n{}\n", h.path, h.manifest)?;
            }
        }
        GetWhat::All(a) => {
            let rel = release_content(&ctx, &a.release, a.revision)?;
            print::status(out, &rel, true, true, false)?;
        }
    }
    Ok(())
}

// ---- test ------------------------------------------------------------------------------------

pub fn test(cli: &Cli, a: &TestArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = ctx(cli)?;
    let timeout = parse_duration(&a.timeout)?;
    validate_name(&a.release).map_err(|_| {
        CliError(format!(
            "releaseTest: Release name is invalid: {}",
            a.release
        ))
    })?;
    let mut rel = ctx.store.last(&a.release)?;
    // --filter name=x / !name=x: the hooks left out are set aside while the
    // rest run, then put back in front, as helm's releaseTesting does
    let (mut include, mut exclude) = (vec![], vec![]);
    for f in a.filter.iter().flat_map(|f| f.split(',')) {
        let (list, f) = match f.strip_prefix('!') {
            Some(rest) => (&mut exclude, rest),
            None => (&mut include, f),
        };
        if let Some(("name", v)) = f.split_once('=') {
            list.push(v.to_string());
        }
    }
    let mut skipped = vec![];
    if !exclude.is_empty() || !include.is_empty() {
        let (out_, in_): (Vec<_>, Vec<_>) =
            std::mem::take(&mut rel.hooks).into_iter().partition(|h| {
                exclude.contains(&h.name) || (!include.is_empty() && !include.contains(&h.name))
            });
        skipped = out_;
        rel.hooks = in_;
    }
    let run = apply::exec_hooks(&ctx.client, &ctx.store, &mut rel, "test", timeout);
    let ran: Vec<String> = rel.hooks.iter().map(|h| h.name.clone()).collect();
    skipped.append(&mut rel.hooks);
    rel.hooks = skipped;
    let _ = ctx.store.update(&rel);
    print::status(out, &rel, cli.debug, false, a.hide_notes)?;
    if a.logs {
        writeln!(out)?;
        let mut hooks: Vec<&release::Hook> = rel
            .hooks
            .iter()
            .filter(|h| h.events.iter().any(|e| e == "test") && ran.contains(&h.name))
            .collect();
        hooks.sort_by(|x, y| x.weight.cmp(&y.weight).then_with(|| x.name.cmp(&y.name)));
        for h in hooks {
            let path = format!("/api/v1/namespaces/{}/pods/{}/log", rel.namespace, h.name);
            let (code, body) = ctx.client.request("GET", &path, None, "application/json")?;
            if !(200..300).contains(&code) {
                return Err(CliError(format!(
                    "unable to get pod logs for {}: {}",
                    h.name,
                    String::from_utf8_lossy(&body).trim()
                )));
            }
            writeln!(out, "POD LOGS: {}", h.name)?;
            out.write_all(&body)?;
            writeln!(out)?;
        }
    }
    run.map_err(CliError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names() {
        assert_eq!(parse_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5x").is_err());
        assert!(validate_name("web-1").is_ok());
        assert!(validate_name("Web").is_err());
        assert!(validate_name(&"a".repeat(54)).is_err());
    }

    #[test]
    fn values_coalesce_as_helm_does() {
        let base = json!({"a": {"b": 1, "c": 2}, "d": 3});
        let over = json!({"a": {"b": 5, "c": null}, "e": 1});
        assert_eq!(
            coalesce_json(&base, &over),
            json!({"a": {"b": 5}, "d": 3, "e": 1})
        );
    }
}
