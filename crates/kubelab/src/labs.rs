//! Classroom labs: `kubelab lab list | check NN [--solution] | reset NN`.
//!
//! Every lab is described once, in `labs/labs.yaml` (as rustlings keeps its
//! exercise metadata in one file): its crate, the one file and function the
//! learner edits, the pristine stub, and a hint. `check` runs the lab's
//! tests — against the learner's code, or with `--solution` against the
//! reference — and prints a plain verdict; no file watcher needed.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Lab {
    pub number: String,
    pub name: String,
    #[serde(rename = "crate")]
    pub krate: String,
    pub chapter: String,
    pub file: String,
    pub function: String,
    pub stub: String,
    pub hint: String,
}

pub fn load(root: &Path) -> anyhow::Result<Vec<Lab>> {
    let text = std::fs::read_to_string(root.join("labs/labs.yaml"))
        .context("reading labs/labs.yaml (run from the repository root)")?;
    Ok(serde_yaml::from_str(&text)?)
}

fn find<'a>(labs: &'a [Lab], number: &str) -> anyhow::Result<&'a Lab> {
    let n = format!("{:0>2}", number);
    labs.iter()
        .find(|l| l.number == n)
        .with_context(|| format!("no lab {n}; `kubelab lab list` shows them"))
}

pub fn list(root: &Path) -> anyhow::Result<()> {
    for lab in load(root)? {
        println!(
            "lab {} — {}\n  edit:  {} (fn {})\n  read:  {}\n  hint:  {}\n",
            lab.number, lab.name, lab.file, lab.function, lab.chapter, lab.hint
        );
    }
    Ok(())
}

/// `cargo test` of one lab's test files. The whole workspace but the other
/// labs is selected, and the lab's test files named: cargo resolves the
/// dependencies' features over the packages selected, so this way they
/// are built as `kubelab up` and the workspace's tests build them, and a
/// lab compiles its own crate only (`-p lab-…` alone would select fewer
/// features of tokio, rcgen, ring… and rebuild the whole cluster for it).
fn test_command(root: &Path, labs: &[Lab], lab: &Lab, solution: bool) -> anyhow::Result<Command> {
    let mut cmd = Command::new("cargo");
    // --no-fail-fast: every test file runs, so a learner sees the direct
    // checks' messages even when the cluster test failed first.
    cmd.args(["test", "-q", "--no-fail-fast", "--workspace"])
        .current_dir(root);
    for other in labs.iter().filter(|l| l.krate != lab.krate) {
        cmd.args(["--exclude", &other.krate]);
    }
    let dir = root.join(&lab.file);
    let dir = dir
        .ancestors()
        .find(|d| d.join("Cargo.toml").exists())
        .with_context(|| format!("no Cargo.toml above {}", lab.file))?;
    let mut tests: Vec<String> = std::fs::read_dir(dir.join("tests"))
        .with_context(|| format!("reading {}/tests", dir.display()))?
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "rs").then_some(())?;
            path.file_stem()?.to_str().map(String::from)
        })
        .collect();
    tests.sort();
    for test in &tests {
        cmd.args(["--test", test]);
    }
    if solution {
        cmd.args(["--features", &format!("{}/solution", lab.krate)]);
    }
    Ok(cmd)
}

/// Runs the lab's tests; returns whether they passed.
pub fn check(root: &Path, number: &str, solution: bool) -> anyhow::Result<bool> {
    let labs = load(root)?;
    let lab = find(&labs, number)?;
    let passed = test_command(root, &labs, lab, solution)?
        .status()
        .context("running cargo test")?
        .success();
    let what = if solution {
        "the reference solution"
    } else {
        lab.file.as_str()
    };
    if passed {
        println!("\nlab {} PASSED with {what}.", lab.number);
    } else {
        println!(
            "\nlab {} FAILED with {what}.\nEdit {} (fn {}), then run this again.\nHint: {}",
            lab.number, lab.file, lab.function, lab.hint
        );
    }
    Ok(passed)
}

pub fn reset(root: &Path, number: &str) -> anyhow::Result<()> {
    let labs = load(root)?;
    let lab = find(&labs, number)?;
    std::fs::copy(root.join(&lab.stub), root.join(&lab.file))
        .with_context(|| format!("restoring {}", lab.file))?;
    println!("{} is back to its starting point.", lab.file);
    Ok(())
}

/// The meta-check: every stub fails its tests, every solution passes, and
/// every learner file is committed as its stub.
pub fn meta_check(root: &Path) -> anyhow::Result<()> {
    let labs = load(root)?;
    for lab in &labs {
        if std::fs::read(root.join(&lab.file))? != std::fs::read(root.join(&lab.stub))? {
            bail!(
                "lab {}: {} differs from its stub {}",
                lab.number,
                lab.file,
                lab.stub
            );
        }
        // Quietly: the stub's failure is expected and is not a test result of ours.
        let run = |solution| -> anyhow::Result<(bool, String)> {
            let out = test_command(root, &labs, lab, solution)?
                .output()
                .context("running cargo test")?;
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            Ok((out.status.success(), text))
        };
        let (solution_passes, text) = run(true)?;
        if !solution_passes {
            bail!(
                "lab {}: the reference solution fails its tests:\n{text}",
                lab.number
            );
        }
        let (stub_passes, text) = run(false)?;
        if stub_passes {
            bail!(
                "lab {}: the stub passes its tests, so they teach nothing:\n{text}",
                lab.number
            );
        }
        println!("lab {}: stub fails, solution passes — OK", lab.number);
    }
    Ok(())
}
