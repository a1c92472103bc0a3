//! Subcharts: which are enabled (`condition`, `tags`), under which name
//! (`alias`), and which of their values the parent imports
//! (`import-values`), decided as helm decides before rendering.
//!
//! Rules (helm's `ProcessDependencies`):
//! - every dependency starts enabled;
//! - tags: disabled if one of its tags is `false` in `.Values.tags` and none
//!   is `true`;
//! - condition: a comma-separated list of value paths; the first that holds
//!   a boolean decides, overriding the tags (a path holding anything else is
//!   skipped with a warning);
//! - an alias renames the subchart (its values live under the alias);
//! - charts in `charts/` that Chart.yaml does not list are always on.

use crate::chart::Chart;
use crate::template::Value;

/// A value at a dotted path (`a.b.c`) of a values tree.
fn path_value(values: &Value, path: &str) -> Option<Value> {
    let mut cur = values.clone();
    for key in path.split('.') {
        cur = cur.get(key)?;
    }
    Some(cur)
}

/// Enables, renames and prunes subcharts of `chart` (recursively) for these
/// user values; then imports values. `coalesce` merges user values over a
/// chart's defaults.
pub fn process(
    chart: &mut Chart,
    user: &Value,
    coalesce: &dyn Fn(&Chart, &Value) -> Result<Value, String>,
) -> Result<(), String> {
    enable(chart, user, "", coalesce)?;
    import_values(chart, coalesce)
}

/// The dependencies Chart.yaml declares (`dependencies:`), as JSON.
pub(crate) fn deps_meta(chart: &Chart) -> Vec<serde_json::Value> {
    chart
        .metadata
        .get("dependencies")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default()
}

fn enable(
    chart: &mut Chart,
    user: &Value,
    path: &str,
    coalesce: &dyn Fn(&Chart, &Value) -> Result<Value, String>,
) -> Result<(), String> {
    let mut meta = deps_meta(chart);
    if meta.is_empty() {
        return Ok(());
    }
    let name_of = |d: &serde_json::Value| {
        d.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string()
    };
    // subcharts Chart.yaml does not list come first, always on
    let listed: Vec<String> = meta.iter().map(name_of).collect();
    let mut deps: Vec<Chart> = chart
        .dependencies
        .iter()
        .filter(|c| !listed.contains(&c.name().to_string()))
        .cloned()
        .collect();
    for d in meta.iter_mut() {
        let name = name_of(d);
        let alias = d
            .get("alias")
            .and_then(|a| a.as_str())
            .unwrap_or("")
            .to_string();
        if let Some(found) = chart.dependencies.iter().find(|c| c.name() == name) {
            let mut c = found.clone();
            if !alias.is_empty() {
                c.metadata["name"] = serde_json::Value::String(alias.clone());
                let parent = chart.full_path.clone();
                c.full_path = format!("{parent}/charts/{alias}");
                rebase(&mut c);
            }
            deps.push(c);
        }
        if !alias.is_empty() {
            d["name"] = serde_json::Value::String(alias);
        }
        d["enabled"] = serde_json::Value::Bool(true);
    }
    chart.dependencies = deps;
    let cvals = coalesce(chart, user)?;
    // tags
    for d in meta.iter_mut() {
        let Some(tags) = d.get("tags").and_then(|t| t.as_array()).cloned() else {
            continue;
        };
        let (mut has_true, mut has_false) = (false, false);
        for t in tags {
            let t = t.as_str().unwrap_or("");
            match cvals.get("tags").and_then(|tv| tv.get(t)) {
                Some(Value::Bool(true)) => has_true = true,
                Some(Value::Bool(false)) => has_false = true,
                _ => {}
            }
        }
        if !has_true && has_false {
            d["enabled"] = serde_json::Value::Bool(false);
        } else if has_true || !has_false {
            d["enabled"] = serde_json::Value::Bool(true);
        }
    }
    // conditions
    for d in meta.iter_mut() {
        let Some(cond) = d
            .get("condition")
            .and_then(|c| c.as_str())
            .map(String::from)
        else {
            continue;
        };
        for c in cond.split(',') {
            let c = c.trim();
            match path_value(&cvals, &format!("{path}{c}")) {
                Some(Value::Bool(b)) => {
                    d["enabled"] = serde_json::Value::Bool(b);
                    break;
                }
                Some(Value::Nil) | None => {}
                Some(_) => eprintln!(
                    "Warning: Condition path '{}{}' for chart {} returned non-bool value",
                    path,
                    c,
                    name_of(d)
                ),
            }
        }
    }
    let disabled: Vec<String> = meta
        .iter()
        .filter(|d| d.get("enabled") == Some(&serde_json::Value::Bool(false)))
        .map(name_of)
        .collect();
    chart
        .dependencies
        .retain(|c| !disabled.contains(&c.name().to_string()));
    meta.retain(|d| !disabled.contains(&name_of(d)));
    for sub in chart.dependencies.iter_mut() {
        let subpath = format!("{path}{}.", sub.name());
        enable(sub, &cvals, &subpath, coalesce)?;
    }
    chart.metadata["dependencies"] = serde_json::Value::Array(meta);
    Ok(())
}

/// After a rename, the subchart's own subcharts live under the new path.
fn rebase(c: &mut Chart) {
    let base = c.full_path.clone();
    for d in c.dependencies.iter_mut() {
        d.full_path = format!("{base}/charts/{}", d.name());
        rebase(d);
    }
}

/// `import-values`: copy a child's values into the parent's defaults (the
/// parent's own values win).
fn import_values(
    chart: &mut Chart,
    coalesce: &dyn Fn(&Chart, &Value) -> Result<Value, String>,
) -> Result<(), String> {
    for sub in chart.dependencies.iter_mut() {
        import_values(sub, coalesce)?;
    }
    let meta = deps_meta(chart);
    let mut imports: Vec<(String, String, String)> = vec![]; // (dep, child path, parent path)
    for d in &meta {
        let name = d
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        for iv in d
            .get("import-values")
            .and_then(|i| i.as_array())
            .cloned()
            .unwrap_or_default()
        {
            match iv {
                serde_json::Value::String(s) => {
                    imports.push((name.clone(), format!("exports.{s}"), ".".into()))
                }
                serde_json::Value::Object(o) => {
                    let child = o
                        .get("child")
                        .and_then(|c| c.as_str())
                        .unwrap_or("")
                        .to_string();
                    let parent = o
                        .get("parent")
                        .and_then(|c| c.as_str())
                        .unwrap_or("")
                        .to_string();
                    imports.push((name.clone(), child, parent));
                }
                _ => {}
            }
        }
    }
    if imports.is_empty() {
        return Ok(());
    }
    let cvals = coalesce(chart, &Value::empty_map())?;
    let mut imported = Value::empty_map();
    for (dep, child, parent) in imports {
        let Some(v @ Value::Map(..)) = path_value(&cvals, &format!("{dep}.{child}")) else {
            continue;
        };
        let target = if parent == "." || parent.is_empty() {
            v.deep_clone()
        } else {
            let mut t = v.deep_clone();
            for key in parent.split('.').rev() {
                t = Value::map(std::collections::BTreeMap::from([(key.to_string(), t)]));
            }
            t
        };
        imported = crate::values::merge_maps(&imported, &target);
    }
    // the parent's own values (already coalesced) win over imports
    let imported = crate::values::merge_maps(&imported, &cvals);
    chart.values_text = serde_json::to_string(&imported.to_json()).unwrap_or_default();
    Ok(())
}
