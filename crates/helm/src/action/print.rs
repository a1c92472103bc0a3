//! What helm prints: the status block, uitable's tables, JSON and YAML.

use std::io::Write;

use serde_json::Value as J;

use crate::release::{Release, ansic, go_json};
use crate::template::Value;

/// The display width go-runewidth gives (control characters count 0).
fn rwidth(s: &str) -> usize {
    s.chars().filter(|c| !c.is_control()).count()
}

/// uitable's strutil.Resize: pad to `n`, or cut to `n - 3` and add `...`.
fn resize(s: &str, n: usize) -> String {
    let w = rwidth(s);
    if w == n {
        return s.to_string();
    }
    if w < n {
        return format!("{s}{}", " ".repeat(n - w));
    }
    let mut out: String = s.chars().take(n.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// gosuri/uitable as helm uses it: columns as wide as their widest line,
/// every cell padded to it (the last one too) or cut with `...`, cells
/// separated by a tab, multi-line cells spread over several lines.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .flat_map(|s| s.split('\n').map(rwidth))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut lines = vec![];
    for r in rows {
        let cells: Vec<Vec<String>> = r
            .iter()
            .enumerate()
            .map(|(c, s)| resize(s, widths[c]).split('\n').map(String::from).collect())
            .collect();
        let lc = cells.iter().map(|c| c.len()).max().unwrap_or(1);
        for x in 0..lc {
            let line: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(y, c)| match c.get(x) {
                    Some(l) => resize(l, widths[y]),
                    None => format!("{:>w$}", " ", w = widths[y]),
                })
                .collect();
            lines.push(line.join("\t"));
        }
    }
    if lines.is_empty() {
        return "\n".into();
    }
    format!("{}\n", lines.join("\n"))
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
    status_described(out, r, debug, show_metadata, hide_notes, false)
}

/// [`status`], with the release's description when `show_desc`
/// (`helm status --show-desc`).
pub fn status_described(
    out: &mut dyn Write,
    r: &Release,
    debug: bool,
    show_metadata: bool,
    hide_notes: bool,
    show_desc: bool,
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
    if show_desc {
        writeln!(out, "DESCRIPTION: {}", r.info.description)?;
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
        let long = "Release \"f1\" failed: failed post-install: 1 error occurred:\n\t* job f1-bad failed: BackoffLimitExceeded\n\n";
        let t = table(&[vec!["DESCRIPTION".into()], vec![long.into()]]);
        assert_eq!(
            t,
            format!(
                "DESCRIPTION{}\nRelease \"f1\" failed: failed post-install: 1 error occurr...\n",
                " ".repeat(48)
            )
        );
    }
}
