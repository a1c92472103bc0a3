//! The helm commands that talk to the cluster: install, upgrade, rollback,
//! uninstall, list, history, status, get, test. Releases live in the
//! cluster as Secrets in helm's own format ([`crate::release`]), so the
//! real helm and `kubelab helm` can take turns on the same release.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::cli::{Cli, CliError, ValueArgs};

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
}

#[derive(Args)]
pub struct RollbackArgs {
    pub release: String,
    pub revision: Option<i64>,
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
    #[arg(long)]
    pub no_hooks: bool,
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
    #[arg(long, default_value = "5m0s")]
    pub timeout: String,
}

pub fn install(_cli: &Cli, _a: &InstallArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("install: not implemented yet".into()))
}
pub fn upgrade(_cli: &Cli, _a: &UpgradeArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("upgrade: not implemented yet".into()))
}
pub fn rollback(_cli: &Cli, _a: &RollbackArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("rollback: not implemented yet".into()))
}
pub fn uninstall(_cli: &Cli, _a: &UninstallArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("uninstall: not implemented yet".into()))
}
pub fn list(_cli: &Cli, _a: &ListArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("list: not implemented yet".into()))
}
pub fn history(_cli: &Cli, _a: &HistoryArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("history: not implemented yet".into()))
}
pub fn status(_cli: &Cli, _a: &StatusArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("status: not implemented yet".into()))
}
pub fn get(_cli: &Cli, _a: &GetWhat, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("get: not implemented yet".into()))
}
pub fn test(_cli: &Cli, _a: &TestArgs, _out: &mut dyn Write) -> Result<(), CliError> {
    Err(CliError("test: not implemented yet".into()))
}
