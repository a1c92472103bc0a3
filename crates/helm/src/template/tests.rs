//! The engine against Go's behaviour (expected outputs recorded from the
//! real helm 3.18 on these inputs).

use super::*;
use crate::funcs::Funcs;

fn render(src: &str, data: Value) -> Result<String, String> {
    let mut t = Templates::new("gotpl", Funcs::helm());
    t.parse("t", src).map_err(|e| e.to_string())?;
    t.execute("t", &data).map_err(|e| e.msg)
}

fn values() -> Value {
    Value::from_json(&serde_json::json!({
        "name": "web", "replicas": 3, "tags": ["a", "b"], "labels": {"app": "web", "tier": "front"}
    }))
}

#[test]
fn actions_pipelines_and_variables() {
    let v = values();
    assert_eq!(
        render("{{ .name }}-{{ .replicas }}", v.clone()).unwrap(),
        "web-3"
    );
    assert_eq!(
        render(
            "{{ $x := .name }}{{ $x }}{{ $x = \"y\" }}{{ $x }}",
            v.clone()
        )
        .unwrap(),
        "weby"
    );
    assert_eq!(
        render("{{ .name | printf \"%s!\" }}", v.clone()).unwrap(),
        "web!"
    );
    assert_eq!(render("a  {{- .name -}}  b", v.clone()).unwrap(), "awebb");
    assert_eq!(
        render("{{/* c */}}x{{- /* c */ -}} y", v.clone()).unwrap(),
        "xy"
    );
}

#[test]
fn control_structures() {
    let v = values();
    assert_eq!(
        render(
            "{{ range $i, $t := .tags }}{{ $i }}={{ $t }};{{ end }}",
            v.clone()
        )
        .unwrap(),
        "0=a;1=b;"
    );
    assert_eq!(
        render(
            "{{ range $k, $v := .labels }}{{ $k }}:{{ $v }} {{ end }}",
            v.clone()
        )
        .unwrap(),
        "app:web tier:front "
    );
    assert_eq!(
        render("{{ range .nope }}x{{ else }}empty{{ end }}", v.clone()).unwrap(),
        "empty"
    );
    assert_eq!(
        render("{{ range 3 }}{{ . }}{{ end }}", v.clone()).unwrap(),
        "012"
    );
    assert_eq!(
        render(
            "{{ range .tags }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            v.clone()
        )
        .unwrap(),
        "a"
    );
    assert_eq!(
        render(
            "{{ if .nope }}a{{ else if .name }}b{{ else }}c{{ end }}",
            v.clone()
        )
        .unwrap(),
        "b"
    );
    assert_eq!(render("{{ with .labels }}{{ .app }}{{ end }}{{ with .nope }}x{{ else with .name }}{{ . }}{{ end }}", v.clone()).unwrap(), "webweb");
    assert_eq!(
        render(
            "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .name }}",
            v.clone()
        )
        .unwrap(),
        "[web]"
    );
    assert_eq!(
        render("{{ block \"y\" .name }}<{{ . }}>{{ end }}", v.clone()).unwrap(),
        "<web>"
    );
}

#[test]
fn go_errors() {
    let v = values();
    assert_eq!(
        render("x\n{{ .nope.b }}", v.clone()).unwrap_err(),
        "template: t:2:8: executing \"t\" at <.nope.b>: nil pointer evaluating interface {}.b"
    );
    assert_eq!(
        render("{{ $x := .nope }}{{ $x.b }}", v.clone()).unwrap(),
        "<no value>"
    );
    assert_eq!(
        render("{{ foo }}", v.clone()).unwrap_err(),
        "template: t:1: function \"foo\" not defined"
    );
    assert_eq!(
        render("{{ if .x }}", v.clone()).unwrap_err(),
        "template: t:1: unexpected EOF"
    );
    assert_eq!(
        render("{{ eq 1 .replicas }}", v.clone()).unwrap_err(),
        "template: t:1:3: executing \"t\" at <eq 1 .replicas>: error calling eq: incompatible types for comparison"
    );
}
