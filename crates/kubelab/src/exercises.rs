//! Exercises: numbered scripts of kubectl commands, run for real.
//!
//! Each chapter keeps its exercises in `chapters/NN-topic/exercises/*.sh`:
//! one command per line, `#` lines are comments, exactly as the book shows
//! them. [`run`] executes the commands one by one (from the repository root,
//! against the cluster in `KUBECONFIG`) and writes a transcript:
//!
//! ```text
//! $ kubectl get deployments
//! NAME   READY   UP-TO-DATE   AVAILABLE   AGE
//! web    0/2     0            0           <age>
//! ```
//!
//! [`redact`] replaces what changes from run to run (ages, uids,
//! timestamps, ports, temporary paths) and re-aligns tables, so a transcript
//! can be compared with a reviewed snapshot and shown in the book.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

/// The exercise scripts of one chapter folder, in order.
pub fn list(chapter_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(chapter_dir.join("exercises"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    out.sort();
    Ok(out)
}

/// The commands of a script: every non-empty line that is not a comment.
pub fn commands(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Runs each command with `sh -c` in `repo_root` and returns the raw
/// transcript. `kubectl_args` go right after every `kubectl` (tests use it
/// for a private `--cache-dir`).
/// The folder of the `kubelab` program: this one, or (from a test
/// binary in `target/*/deps`) the one cargo built beside it.
fn kubelab_bin_dir() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir, dir.parent()?]
        .into_iter()
        .find(|d| d.join("kubelab").is_file())
        .map(Path::to_path_buf)
}

pub fn run(
    script: &str,
    repo_root: &Path,
    kubeconfig: &Path,
    kubectl_args: &str,
) -> std::io::Result<String> {
    let mut transcript = String::new();
    for cmd in commands(script) {
        transcript.push_str(&format!("$ {cmd}\n"));
        let actual = if kubectl_args.is_empty() {
            cmd.clone()
        } else {
            cmd.replace("kubectl ", &format!("kubectl {kubectl_args} "))
        };
        // `kubelab` itself is on the PATH (chapter 06 stops nodes with
        // `kubelab node stop`): the one running, or the one cargo built
        // next to the test running us.
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(dir) = kubelab_bin_dir() {
            let mut dirs = vec![dir];
            dirs.extend(std::env::split_paths(&path));
            path = std::env::join_paths(dirs).unwrap_or(path);
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{actual} 2>&1"))
            .current_dir(repo_root)
            .env("KUBECONFIG", kubeconfig)
            .env("PATH", path)
            .output()?;
        transcript.push_str(&String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            transcript.push_str(&format!(
                "[exit code {}]\n",
                out.status.code().unwrap_or(-1)
            ));
        }
    }
    Ok(transcript)
}

static UID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap()
});
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z").unwrap());
static DESCRIBE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}").unwrap()
});
static RESOURCE_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"resourceVersion: "\d+""#).unwrap());
/// Ephemeral ports (the API server's in tests, port-forward's): five
/// digits. Ports a manifest chose (`127.0.0.1:8080`) stay.
static PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"127\.0\.0\.1:\d{5}\b").unwrap());
static TMP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"/tmp/(LIVE|MERGED)-[0-9]+").unwrap());
/// The random five characters a ReplicaSet appends to its pods' names
/// (`hello-7f6c9b8d4b-x2k9z`): the template hash before them is stable.
static POD_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b([a-z0-9-]+-[bcdfghjklmnpqrstvwxz2456789]{6,10})-[bcdfghjklmnpqrstvwxz2456789]{5}\b",
    )
    .unwrap()
});
/// The five random characters of a `generateName` (`whoami-k4xb2`, an
/// EndpointSlice): the same alphabet, without vowels, so words stay.
static GENERATED_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([a-z][a-z0-9-]*)-[bcdfghjklmnpqrstvwxz2456789]{5}\b").unwrap()
});
/// A CronJob's Jobs are named after their schedule time in minutes since
/// 1970 (`tick-29933428`): eight digits until the year 2160.
static CRON_JOB_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([a-z][a-z0-9-]*)-2\d{7}\b").unwrap());
static ROLLOUT_PROGRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?m)^(Waiting for (deployment|daemon set) .* rollout to finish: .*",
        r"|Waiting for \d+ pods to be ready\.\.\.",
        r"|Waiting for partitioned roll out to finish: .*",
        r"|waiting for statefulset rolling update to complete .*",
        r"|Waiting for (deployment|daemon set|statefulset) spec update to be observed\.\.\.)\n"
    ))
    .unwrap()
});
/// helm's times: `UPDATED` in `helm list`/`history` (Go's default time
/// format, its width varying with the nanoseconds, then the padding of the
/// tab-separated column) and `LAST DEPLOYED:` (ANSI C).
static HELM_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? [+-]\d{4} [A-Z]+ *").unwrap()
});
static HELM_ANSIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}").unwrap()
});
static HELM_UPDATED_HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"UPDATED +\t").unwrap());

/// Cluster IPs the API server picked at random (the fixed ones of the
/// `kubernetes` and `kube-dns` Services stay).
static CLUSTER_IP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b10\.(?:9[6-9]|10[0-9]|11[01])\.\d{1,3}\.\d{1,3}\b").unwrap());
/// Pod IPs: the node's range stays, the host part varies with start order.
static POD_IP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b10([.-])244[.-](\d{1,3})[.-]\d{1,3}\b").unwrap());
/// Random node ports, as `kubectl get svc` shows them (`80:31234/TCP`)
/// and as YAML does (`nodePort: 31234`).
static NODE_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(:|nodePort: |NodePort:\s+<unset>\s+)3[0-2]\d{3}\b").unwrap());
/// The versions of a configMap or secret volume's files (chapter 04): the
/// kubelet's atomic writer names each directory after the time it wrote
/// it (`..2026_11_29_10_00_00.123456789`).
static VOLUME_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.\.\d{4}(_\d{2}){5}\.\d+\b").unwrap());
static CELLS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s{2,}").unwrap());

/// Makes a transcript the same on every run.
pub fn redact(transcript: &str) -> String {
    let s = UID.replace_all(transcript, "<uid>");
    let s = TIMESTAMP.replace_all(&s, "<timestamp>");
    let s = VOLUME_VERSION.replace_all(&s, "..<timestamp>");
    let s = DESCRIBE_TIME.replace_all(&s, "<timestamp>");
    let s = RESOURCE_VERSION.replace_all(&s, r#"resourceVersion: "<rv>""#);
    let s = PORT.replace_all(&s, "127.0.0.1:<port>");
    let s = TMP.replace_all(&s, "<tmp>");
    let s = POD_SUFFIX.replace_all(&s, "$1-<id>");
    let s = GENERATED_SUFFIX.replace_all(&s, "$1-<id>");
    let s = CRON_JOB_NAME.replace_all(&s, "$1-<minutes>");
    let s = CLUSTER_IP.replace_all(&s, |c: &regex::Captures| match &c[0] {
        fixed @ ("10.96.0.1" | "10.96.0.10") => fixed.to_string(),
        _ => "<cluster-ip>".to_string(),
    });
    // Also in DNS names, where dots become dashes (`10-244-1-7.web…`).
    let s = POD_IP.replace_all(&s, "10${1}244${1}${2}${1}<x>");
    let s = NODE_PORT.replace_all(&s, "${1}<node-port>");
    // `rollout status` reports progress as it happens: how many of those
    // lines appear depends on timing, so they are left out.
    let s = ROLLOUT_PROGRESS.replace_all(&s, "");
    let s = HELM_TIME.replace_all(&s, "<time>");
    let s = HELM_ANSIC.replace_all(&s, "<time>");
    let s = HELM_UPDATED_HEADER.replace_all(&s, "UPDATED\t");
    realign_tables(&s)
}

/// kubectl pads table columns to their widest cell, so an age of `9s` and
/// one of `10s` shift every column after it. Tables are split into cells,
/// ages replaced, and the columns padded again.
fn realign_tables(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_table_header(lines[i]) {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < lines.len()
            && !lines[end].is_empty()
            && !lines[end].starts_with("$ ")
            && !lines[end].starts_with("[exit")
        {
            end += 1;
        }
        let mut rows: Vec<Vec<String>> = lines[i..end]
            .iter()
            .map(|l| CELLS.split(l.trim_end()).map(String::from).collect())
            .collect();
        let age_cols: Vec<usize> = rows[0]
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                *h == "AGE" || *h == "LAST SEEN" || *h == "DURATION" || *h == "LAST SCHEDULE"
            })
            .map(|(n, _)| n)
            .collect();
        for row in rows.iter_mut().skip(1) {
            for &c in &age_cols {
                if let Some(cell) = row.get_mut(c) {
                    *cell = "<age>".into();
                }
            }
        }
        let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..ncols)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|x| x.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}   ", w = widths[c]));
                }
            }
            out.push(line);
        }
        i = end;
    }
    let mut joined = out.join("\n");
    if s.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// `NAME   READY   STATUS` — upper-case words separated by 2+ spaces.
fn is_table_header(line: &str) -> bool {
    // `rollout history` pads with two spaces, not three, and has no ages:
    // it is printed as kubectl printed it.
    if line.starts_with("REVISION  CHANGE-CAUSE") {
        return false;
    }
    let cells: Vec<&str> = CELLS.split(line.trim_end()).collect();
    cells.len() >= 2
        && cells.iter().all(|c| {
            !c.is_empty()
                && c.chars().all(|ch| {
                    ch.is_ascii_uppercase() || ch.is_ascii_digit() || " -()_/".contains(ch)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_skip_comments_and_blank_lines() {
        assert_eq!(
            commands("# title\n\nkubectl get ns\n  # note\nkubectl get cm\n"),
            ["kubectl get ns", "kubectl get cm"]
        );
    }

    #[test]
    fn redaction_hides_what_varies_and_keeps_tables_aligned() {
        let raw = "$ kubectl get cm\nNAME         DATA   AGE\nweb-config   2      9s\nother        0      10s\n\nuid: 1d9c62ed-cee1-4759-88da-83860f3e62aa\nat 2026-11-23T01:13:45Z on https://127.0.0.1:34127\n";
        let a = redact(raw);
        let b = redact(&raw.replace("10s", "3m20s").replace("34127", "51234"));
        assert_eq!(a, b);
        assert_eq!(
            a,
            "$ kubectl get cm\nNAME         DATA   AGE\nweb-config   2      <age>\nother        0      <age>\n\nuid: <uid>\nat <timestamp> on https://127.0.0.1:<port>\n"
        );
    }

    #[test]
    fn addresses_and_node_ports_are_redacted_but_fixed_ones_stay() {
        let raw = "NAME   TYPE   CLUSTER-IP   PORT(S)\nweb   NodePort   10.107.3.9   80:31234/TCP\nkubernetes   ClusterIP   10.96.0.1   443/TCP\n\npod 10.244.2.17 dns 10.96.0.10 srv 10-244-1-3.web\n";
        assert_eq!(
            redact(raw),
            "NAME         TYPE        CLUSTER-IP     PORT(S)\nweb          NodePort    <cluster-ip>   80:<node-port>/TCP\nkubernetes   ClusterIP   10.96.0.1      443/TCP\n\npod 10.244.2.<x> dns 10.96.0.10 srv 10-244-1-<x>.web\n"
        );
    }

    #[test]
    fn volume_versions_are_redacted() {
        let raw = "..2026_11_29_18_18_57.044599048\n..data\ncolour\n";
        assert_eq!(redact(raw), "..<timestamp>\n..data\ncolour\n");
    }

    #[test]
    fn error_lines_are_not_tables() {
        assert!(!is_table_header(
            "Error from server (NotFound): deployments.apps \"nope\" not found"
        ));
        assert!(is_table_header(
            "NAME   READY   UP-TO-DATE   AVAILABLE   AGE"
        ));
    }
}
