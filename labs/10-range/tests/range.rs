//! Lab 10's checks: your `range_items` called directly, then inside the
//! real template engine, then rendering whole charts. Expected outputs
//! were recorded with the real helm 3.18 on the same inputs.

use lab_10_range::{Value, range_items, render, render_template};

fn data() -> Value {
    Value::from_json(&serde_json::json!({
        "tags": ["a", "b", "c"],
        "labels": {"tier": "front", "app": "web", "team": "shop"},
        "empty": [],
        "name": "web"
    }))
}

fn texts(pairs: &[(Value, Value)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                kubelab_helm::template::gofmt::sprint(k),
                kubelab_helm::template::gofmt::sprint(v)
            )
        })
        .collect()
}

#[test]
fn a_list_gives_its_items_with_int_indexes() {
    let tags = data().get("tags").unwrap();
    let items = range_items(&tags, 2).unwrap();
    assert_eq!(texts(&items), ["0=a", "1=b", "2=c"]);
    assert!(
        items.iter().all(|(i, _)| i.type_name() == "int"),
        "indexes are Go ints"
    );
}

#[test]
fn a_map_gives_its_entries_in_key_order() {
    let labels = data().get("labels").unwrap();
    assert_eq!(
        texts(&range_items(&labels, 2).unwrap()),
        ["app=web", "team=shop", "tier=front"]
    );
}

#[test]
fn an_integer_counts_from_zero_with_its_own_type() {
    assert_eq!(
        texts(&range_items(&Value::Int(3), 1).unwrap()),
        ["0=0", "1=1", "2=2"]
    );
    let typed = range_items(&Value::Int64(2), 1).unwrap();
    assert!(
        typed
            .iter()
            .all(|(i, v)| i.type_name() == "int64" && v.type_name() == "int64")
    );
    assert!(range_items(&Value::Int(0), 1).unwrap().is_empty());
    assert!(range_items(&Value::Int(-4), 0).unwrap().is_empty());
    assert_eq!(
        range_items(&Value::Int(3), 2).unwrap_err(),
        "can't use 3 to iterate over more than one variable"
    );
}

#[test]
fn nil_is_nothing_and_a_string_is_an_error() {
    assert!(range_items(&Value::Nil, 1).unwrap().is_empty());
    assert_eq!(
        range_items(&Value::str("hello"), 1).unwrap_err(),
        "range can't iterate over hello"
    );
    assert_eq!(
        range_items(&Value::Bool(true), 0).unwrap_err(),
        "range can't iterate over true"
    );
}

#[test]
fn inside_the_engine() {
    let d = data();
    let r = |t: &str| render_template(t, &d);
    assert_eq!(
        r("{{ range $i, $t := .tags }}{{ $i }}:{{ $t }} {{ end }}").unwrap(),
        "0:a 1:b 2:c "
    );
    assert_eq!(
        r("{{ range $k, $v := .labels }}{{ $k }}={{ $v }};{{ end }}").unwrap(),
        "app=web;team=shop;tier=front;"
    );
    assert_eq!(r("{{ range .empty }}x{{ else }}none{{ end }}|{{ range .missing }}x{{ else }}none{{ end }}").unwrap(), "none|none");
    assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}").unwrap(), "012");
    assert_eq!(
        r("{{ range .name }}{{ . }}{{ end }}").unwrap_err(),
        "template: lab:1:9: executing \"lab\" at <.name>: range can't iterate over web"
    );
}

#[test]
fn whole_charts_render_as_helm_renders_them() {
    let charts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../chapters/10-helm/charts");
    let web = render("demo", &charts.join("web")).unwrap();
    // the env list and the ConfigMap come from {{range}} over maps
    assert!(
        web.contains("  feature-flags: \"a,b\"\n  log-level: \"info\"\n"),
        "{web}"
    );
    assert!(web.contains("            - name: FEATURE_FLAGS\n              value: \"a,b\"\n            - name: LOG_LEVEL\n              value: \"info\"\n"), "{web}");
    let shop = render("s", &charts.join("shop")).unwrap();
    assert!(shop.contains("  dependency-0: \"kubelab-common@0.1.0 as kubelab-common\"\n  dependency-1: \"storefront@0.1.0 as storefront\"\n  dependency-2: \"random@0.1.0 as random\"\n"), "{shop}");
    assert!(
        shop.contains("    app.kubernetes.io/part-of: \"shop\"\n"),
        "{shop}"
    );
}
