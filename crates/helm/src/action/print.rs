//! What helm prints: the status block, uitable's tables, JSON and YAML.

use std::io::Write;

use serde_json::Value as J;

use crate::release::{Release, ansic, go_json};
use crate::template::Value;

/// gosuri/uitable as helm uses it: every cell padded to its column's
/// width (the last one too), cells separated by a tab.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s:<w$}", w = widths[c]))
            .collect();
        out.push_str(&cells.join("\t"));
    }
    out.push('\n');
    out
}

/// `json.NewEncoder(out).Encode(v)`.
pub fn json_line(v: &J) -> String {
    format!("{}\n", go_json(v))
}

/// `sigs.k8s.io/yaml.Marshal` of JSON data.
pub fn yaml_of(v: &J) -> String {
    crate::yaml::to_yaml(&Value::from_json(v)).unwrap_or_else(|e| format!("{e}\n"))
}

/// helm's statusPrinter (table form).
pub fn status(
    out: &mut dyn Write,
    r: &Release,
    debug: bool,
    show_metadata: bool,
    hide_notes: bool,
) -> std::io::Result<()> {
    writeln!(out, "NAME: {}", r.name)?;
    if let Some(t) = &r.info.last_deployed {
        writeln!(out, "LAST DEPLOYED: {}", ansic(t))?;
    }
    writeln!(out, "NAMESPACE: {}", r.namespace)?;
    writeln!(out, "STATUS: {}", r.info.status)?;
    writeln!(out, "REVISION: {}", r.version)?;
    if show_metadata {
        writeln!(out, "CHART: {}", r.chart_meta("name").unwrap_or_default())?;
        writeln!(
            out,
            "VERSION: {}",
            r.chart_meta("version").unwrap_or_default()
        )?;
        writeln!(
            out,
            "APP_VERSION: {}",
            r.chart_meta("appVersion").unwrap_or_default()
        )?;
    }
    let tests: Vec<_> = r
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test"))
        .collect();
    if tests.is_empty() {
        writeln!(out, "TEST SUITE: None")?;
    } else {
        for h in tests {
            let Some(started) = &h.last_run.started_at else {
                continue;
            };
            let completed = h
                .last_run
                .completed_at
                .as_ref()
                .map(ansic)
                .unwrap_or_else(|| "Mon Jan  1 00:00:00 0001".into());
            writeln!(
                out,
                "TEST SUITE:     {}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}",
                h.name,
                ansic(started),
                completed,
                h.last_run.phase
            )?;
        }
    }
    if debug {
        writeln!(out, "USER-SUPPLIED VALUES:")?;
        out.write_all(yaml_of(&r.config).as_bytes())?;
        writeln!(out)?;
        writeln!(out, "COMPUTED VALUES:")?;
        out.write_all(yaml_of(&super::computed_values(r)).as_bytes())?;
        writeln!(out)?;
    }
    if r.info.description.eq_ignore_ascii_case("Dry run complete") || debug {
        writeln!(out, "HOOKS:")?;
        for h in &r.hooks {
            write!(out, "---\n# Source: {}\n{}\n", h.path, h.manifest)?;
        }
        write!(out, "MANIFEST:\n{}\n", r.manifest)?;
    }
    if !hide_notes && !r.info.notes.is_empty() {
        write!(out, "NOTES:\n{}\n", r.info.notes.trim())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uitable_pads_every_cell() {
        let t = table(&[
            vec!["NAME".into(), "APP VERSION".into()],
            vec!["r1".into(), "1.16.0".into()],
        ]);
        assert_eq!(t, "NAME\tAPP VERSION\nr1  \t1.16.0     \n");
    }
}
