//! # Lab 10 — what `{{range}}` walks over
//!
//! `{{ range $i, $v := .Values.tags }}` is the loop of every chart. The
//! executor of chapter 10 asks one function which `(index, element)` pairs
//! to walk, in which order, and what to say when a value cannot be walked.
//! Write that function: [`range_items`]. [`render`] plugs it into the real
//! engine (through `Templates::range_items`), and the tests render real
//! charts with it.
//!
//! **Edit only `src/range.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod range;
#[cfg(feature = "solution")]
#[path = "../solution/range.rs"]
mod range;

pub use kubelab_helm::template::Value;
pub use range::range_items;

/// Your function as the template engine takes it.
pub const RANGE_ITEMS: kubelab_helm::template::exec::RangeItemsFn = range_items;

/// Renders one template with `data`, `{{range}}` walking with your function.
pub fn render_template(text: &str, data: &Value) -> Result<String, String> {
    let mut set =
        kubelab_helm::template::Templates::new("gotpl", kubelab_helm::funcs::Funcs::helm());
    set.range_items = RANGE_ITEMS;
    set.parse("lab", text).map_err(|e| e.to_string())?;
    set.execute("lab", data).map_err(|e| e.msg)
}

/// Renders a whole chart folder as `helm template NAME CHART` does, with
/// your `{{range}}`: every manifest, in helm's install order.
pub fn render(name: &str, chart_dir: &std::path::Path) -> Result<String, String> {
    use kubelab_helm::{chart, cli, engine};
    let mut c = chart::load(chart_dir).map_err(|e| format!("{e:#}"))?;
    let values = cli::prepare(&mut c, &Value::empty_map()).map_err(|e| e.0)?;
    let release = engine::ReleaseOptions {
        name: name.into(),
        namespace: "default".into(),
        revision: 1,
        is_install: true,
        is_upgrade: false,
    };
    let caps = engine::Capabilities::default();
    let mut files =
        engine::render_with(&c, &values, &release, &caps, None, RANGE_ITEMS).map_err(|e| e.0)?;
    engine::take_notes(&mut files, c.name(), false);
    let (_, manifests) = engine::sort_manifests(&files).map_err(|e| e.0)?;
    Ok(engine::manifest_text(&manifests))
}
