//! Chapter order: a crate never depends on a later chapter's crate.
//!
//! kubelab is read chapter by chapter. A learner who has read chapters
//! 1..=N should be able to open any of chapter N's crates and understand it
//! from what they have already met; if `kubelet` (chapter 2) imported
//! `network` (chapter 3), they would have to jump ahead to read chapter 2.
//! Later chapters plug *into* earlier ones instead, through their
//! `install` entry point (see CONTRIBUTING.md, "Adding a chapter").
//!
//! Each crate states its chapter in its Cargo.toml:
//!
//! ```toml
//! [package.metadata.kubelab]
//! chapter = 2
//! ```
//!
//! and the one binary crate that puts every chapter together says
//! `assembles = true` instead. This test reads that metadata with
//! `cargo metadata` and checks three rules, so the order cannot rot:
//!
//! 1. every workspace member (but the assembling one) states a chapter 1..=10;
//! 2. no member depends — normal, dev or build dependency — on a member of a
//!    later chapter, nor on the assembling crate;
//! 3. the kubelet does not depend on the API server crate: like upstream's
//!    kubelet, which talks to the API server over HTTP through client-go, it
//!    reaches the API only through `kubelab-client`.
//!
//! The rules live in the pure function [`check_chapter_order`] over the
//! metadata JSON, so a second test can feed it a broken workspace and show
//! that the check really fails.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The chapters the course has (01 Objects & the API … 10 Helm).
const CHAPTERS: std::ops::RangeInclusive<u64> = 1..=10;

/// Pairs that must never depend on each other even when the chapters allow
/// it, with the reason a newcomer is told.
const FORBIDDEN: &[(&str, &str, &str)] = &[(
    "kubelab-kubelet",
    "kubelab-apiserver",
    "The kubelet talks to the API server only through `kubelab-client` (over HTTP), \
     as upstream's kubelet talks to kube-apiserver through client-go; it never links \
     the server's code. Use the client crate's REST client and informers instead.",
)];

/// One workspace member, as far as these rules care.
struct Member<'a> {
    name: &'a str,
    /// The Cargo.toml, relative to the workspace root, for messages.
    manifest: String,
    /// `[package.metadata.kubelab]`, or `Value::Null` if absent.
    kubelab: &'a Value,
    dependencies: Vec<Dependency<'a>>,
}

struct Dependency<'a> {
    /// The package name (a `package = "…"` rename does not hide it).
    name: &'a str,
    /// "normal", "dev" or "build", for messages.
    kind: &'a str,
}

impl Member<'_> {
    fn assembles(&self) -> bool {
        self.kubelab.get("assembles").and_then(Value::as_bool) == Some(true)
    }

    /// The stated chapter, if it is valid (rule 1 reports it otherwise).
    fn chapter(&self) -> Option<u64> {
        let n = self.kubelab.get("chapter")?.as_u64()?;
        CHAPTERS.contains(&n).then_some(n)
    }
}

/// Checks the chapter-order rules over the output of
/// `cargo metadata --format-version 1 --no-deps` and returns one readable
/// message per violation (empty when all is well).
fn check_chapter_order(metadata: &Value) -> Vec<String> {
    let members = members(metadata);
    let mut violations = Vec::new();
    violations.extend(members.iter().filter_map(check_chapter_stated));
    violations.extend(check_dependencies(&members));
    violations.extend(check_forbidden(&members));
    violations
}

/// The workspace members, in the order cargo lists them.
fn members(metadata: &Value) -> Vec<Member<'_>> {
    let root = metadata["workspace_root"].as_str().unwrap_or("");
    let ids: Vec<&Value> = metadata["workspace_members"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let packages = metadata["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    packages
        .iter()
        .filter(|p| ids.is_empty() || ids.contains(&&p["id"]))
        .map(|p| {
            let manifest = p["manifest_path"].as_str().unwrap_or("?");
            Member {
                name: p["name"].as_str().unwrap_or("?"),
                manifest: manifest
                    .strip_prefix(root)
                    .map(|m| m.trim_start_matches('/'))
                    .unwrap_or(manifest)
                    .to_string(),
                kubelab: &p["metadata"]["kubelab"],
                dependencies: p["dependencies"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .map(|d| Dependency {
                        name: d["name"].as_str().unwrap_or("?"),
                        // cargo writes `null` for a normal dependency.
                        kind: d["kind"].as_str().unwrap_or("normal"),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Rule 1: the member says which chapter it belongs to.
fn check_chapter_stated(m: &Member) -> Option<String> {
    if m.assembles() || m.chapter().is_some() {
        return None;
    }
    let found = match m.kubelab.get("chapter") {
        None => "no chapter".to_string(),
        Some(v) => format!("`chapter = {v}`"),
    };
    Some(format!(
        "{name} ({manifest}) has {found}. Every crate says which chapter of the \
         course introduces it, as a whole number from {lo} to {hi}. Add to its \
         [package] section:\n\n    [package.metadata.kubelab]\n    chapter = N\n\n\
         with N the chapter whose book page introduces this crate \
         (see CONTRIBUTING.md, \"Adding a chapter\").",
        name = m.name,
        manifest = m.manifest,
        lo = CHAPTERS.start(),
        hi = CHAPTERS.end(),
    ))
}

/// Rule 2: dependencies between members point to the same or an earlier
/// chapter, never to a later one or to the assembling crate.
fn check_dependencies(members: &[Member]) -> Vec<String> {
    let mut out = Vec::new();
    for m in members.iter().filter(|m| !m.assembles()) {
        let Some(chapter) = m.chapter() else { continue };
        for d in &m.dependencies {
            let Some(dep) = members.iter().find(|o| o.name == d.name) else {
                continue; // not a workspace member: crates.io etc.
            };
            if dep.assembles() {
                out.push(format!(
                    "{name} (chapter {chapter}, {manifest}) has a {kind} dependency on \
                     {dep}, the crate that assembles every chapter. A chapter's crate \
                     must not need the whole course; depend on the chapter crates it \
                     uses instead.",
                    name = m.name,
                    manifest = m.manifest,
                    kind = d.kind,
                    dep = dep.name,
                ));
            } else if let Some(dep_chapter) = dep.chapter().filter(|&c| c > chapter) {
                out.push(later_chapter_message(m, chapter, d, dep_chapter));
            }
        }
    }
    out
}

fn later_chapter_message(m: &Member, chapter: u64, d: &Dependency, dep_chapter: u64) -> String {
    format!(
        "{name} (chapter {chapter}) has a {kind} dependency on {dep} (chapter {dep_chapter}) \
         in {manifest}. A learner reading chapter {chapter} has not met chapter {dep_chapter} \
         yet, so chapter {chapter}'s crates must not need it. Either move what {name} uses \
         into a crate of chapter {chapter} or earlier, or turn the dependency around: let \
         chapter {dep_chapter} plug into {name} from its `install` entry point \
         (CONTRIBUTING.md, \"Adding a chapter\"). If {name} really belongs to \
         chapter {dep_chapter}, change its `[package.metadata.kubelab] chapter` instead.",
        name = m.name,
        kind = d.kind,
        dep = d.name,
        manifest = m.manifest,
    )
}

/// Rule 3: the explicitly forbidden pairs in [`FORBIDDEN`].
fn check_forbidden(members: &[Member]) -> Vec<String> {
    let mut out = Vec::new();
    for &(from, to, why) in FORBIDDEN {
        let Some(m) = members.iter().find(|m| m.name == from) else {
            continue;
        };
        for d in m.dependencies.iter().filter(|d| d.name == to) {
            out.push(format!(
                "{from} has a {kind} dependency on {to} in {manifest}. {why}",
                kind = d.kind,
                manifest = m.manifest,
            ));
        }
    }
    out
}

/// `cargo metadata` for the real workspace.
fn workspace_metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("could not run `{cargo} metadata`: {e}"));
    assert!(
        output.status.success(),
        "`cargo metadata` failed in {}:\n{}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("`cargo metadata` printed invalid JSON")
}

#[test]
fn every_crate_states_its_chapter_and_needs_no_later_chapter() {
    let metadata = workspace_metadata();
    let violations = check_chapter_order(&metadata);
    assert!(
        violations.is_empty(),
        "\n{} chapter-order problem(s) (tests/chapter_order.rs says why the rule exists):\n\n{}\n",
        violations.len(),
        violations.join("\n\n")
    );
}

/// A package entry as `cargo metadata` prints it, reduced to what the check reads.
fn package(name: &str, kubelab: Value, deps: &[(&str, Option<&str>)]) -> Value {
    json!({
        "name": name,
        "id": format!("path+file:///ws/{name}#0.1.0"),
        "manifest_path": format!("/ws/{name}/Cargo.toml"),
        "metadata": { "kubelab": kubelab },
        "dependencies": deps
            .iter()
            .map(|(dep, kind)| json!({ "name": dep, "kind": kind }))
            .collect::<Vec<_>>(),
    })
}

#[test]
fn the_check_reports_a_later_chapter_dependency_and_a_missing_chapter() {
    let packages = vec![
        // Allowed: same chapter, an earlier chapter, crates.io.
        package("store", json!({ "chapter": 1 }), &[("serde", None)]),
        package("api", json!({ "chapter": 1 }), &[("store", None)]),
        package(
            "proxy",
            json!({ "chapter": 3 }),
            &[("api", None), ("store", Some("dev"))],
        ),
        package(
            "kubelab",
            json!({ "assembles": true }),
            &[("proxy", None), ("stray", None)],
        ),
        // Violation: chapter 1 needs chapter 3 (as a dev-dependency, still counted).
        package(
            "apiserver",
            json!({ "chapter": 1 }),
            &[("store", None), ("proxy", Some("dev"))],
        ),
        // Violation: no chapter stated.
        package("stray", Value::Null, &[("api", None)]),
    ];
    let metadata = json!({
        "workspace_root": "/ws",
        "workspace_members": packages.iter().map(|p| p["id"].clone()).collect::<Vec<_>>(),
        "packages": packages,
    });

    let violations = check_chapter_order(&metadata);

    assert_eq!(
        violations.len(),
        2,
        "expected exactly two problems, got:\n{violations:#?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.contains("apiserver (chapter 1) has a dev dependency on proxy (chapter 3)")),
        "the later-chapter dependency was not reported: {violations:#?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("stray (stray/Cargo.toml) has no chapter")),
        "the missing chapter was not reported: {violations:#?}"
    );
}

#[test]
fn the_check_reports_the_kubelet_linking_the_api_server() {
    let packages = vec![
        package("kubelab-apiserver", json!({ "chapter": 1 }), &[]),
        package("kubelab-client", json!({ "chapter": 1 }), &[]),
        package(
            "kubelab-kubelet",
            json!({ "chapter": 2 }),
            &[("kubelab-client", None), ("kubelab-apiserver", None)],
        ),
    ];
    let metadata = json!({ "workspace_root": "/ws", "packages": packages });

    let violations = check_chapter_order(&metadata);

    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].contains("only through `kubelab-client`"),
        "{violations:#?}"
    );
}
