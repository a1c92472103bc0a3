//! Server-side printing: the columns of `kubectl get`.
//!
//! kubectl does not know how to print a Deployment. It asks the server for
//! a `Table` (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) and
//! prints whatever columns come back; `-o wide` shows the `priority: 1`
//! ones too. So the columns you see are the server's choice. Each row also
//! carries the object's metadata, from which kubectl fills `-A`'s NAMESPACE
//! column, `--show-labels` and `-L`.
//!
//! ## One printer per kind
//! Upstream's `pkg/printers/internalversion/printers.go` registers, for
//! each kind, a handler together with its column definitions
//! (`h.TableHandler(podColumnDefinitions, printPodList)`), so a column's
//! header and the code that fills it sit side by side. kubelab does the
//! same with a [`Printer`]: a list of columns, each carrying its definition
//! *and* the function that computes its cell from the object.
//!
//! ```text
//! Printer::new()                                   Name (always first)
//!     .column("Ready", "string", "…", ready)       shown by kubectl get
//!     .age()                                       Age, upstream's wording
//!     .wide("IP", "string", "…", pod_ip)           shown by kubectl get -o wide
//! ```
//!
//! A chapter that adds a kind writes one `fn my_kind() -> Printer` and hands
//! it over under its (group, kind); the built-in kinds are in
//! [`crate::printers`], whose [`crate::printers::lookup`] the server calls.
//! [`table`] itself is generic: it runs whichever printer it is given over
//! the objects and never names a kind. A kind without a printer gets
//! [`Printer::fallback`] (Name and Age).

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Computes one cell of a row from the whole object. Boxed so that a
/// printer can hold closures; `Send + Sync` so that one printer can be
/// shared by every request thread.
type Cell = Box<dyn Fn(&Value) -> Value + Send + Sync>;

/// One column: a `meta.k8s.io/v1` `TableColumnDefinition` and its cells.
struct Column {
    name: &'static str,
    /// The OpenAPI type kubectl may use to align it: `string`, `integer`,
    /// `boolean`, `date`.
    ty: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    priority: u8,
    description: &'static str,
    cell: Cell,
}

/// How to print one kind: its columns, in order, each with its cell.
pub struct Printer {
    columns: Vec<Column>,
}

/// Upstream's description of the Name column (from `ObjectMeta.name`).
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace.";

/// Upstream's description of the Age column (from `ObjectMeta.creationTimestamp`).
const AGE_DESCRIPTION: &str =
    "CreationTimestamp is a timestamp representing the server time when this object was created.";

impl Printer {
    /// A printer whose first column is Name, as upstream's always is
    /// (except Event's, see [`Printer::empty`]).
    pub fn new() -> Self {
        Self::named(name)
    }

    /// A printer whose Name column prints something other than the bare
    /// name: a StorageClass shows `standard (default)`.
    pub fn named(cell: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Self {
        Self::empty().column("Name", "string", NAME_DESCRIPTION, cell)
    }

    /// A printer with no column at all, not even Name: for the rare kind
    /// that puts Name elsewhere (an Event's row starts with Last Seen and
    /// names the event only in `-o wide`).
    pub fn empty() -> Self {
        Self {
            columns: Vec::new(),
        }
    }

    /// The table for a kind that has no printer. Upstream's generic
    /// `rest.NewDefaultTableConvertor` prints Name and "Created At";
    /// kubelab prints Name and Age, which reads better next to the other
    /// kinds.
    pub fn fallback() -> Self {
        Self::new().age()
    }

    /// Adds a column that `kubectl get` always shows (priority 0).
    pub fn column(
        self,
        name: &'static str,
        ty: &'static str,
        description: &'static str,
        cell: impl Fn(&Value) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.push(name, ty, 0, description, Box::new(cell))
    }

    /// Adds a column that only `kubectl get -o wide` shows (priority 1).
    pub fn wide(
        self,
        name: &'static str,
        ty: &'static str,
        description: &'static str,
        cell: impl Fn(&Value) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.push(name, ty, 1, description, Box::new(cell))
    }

    /// Adds the Age column almost every kind has: how long ago the object
    /// was created, in kubectl's words (`5d3h`).
    pub fn age(self) -> Self {
        self.column("Age", "string", AGE_DESCRIPTION, |o| {
            json!(age(&o["metadata"]["creationTimestamp"]))
        })
    }

    /// Passes the printer through `add`: for a group of columns several
    /// kinds share (the pod template's Containers and Images).
    pub fn with(self, add: impl FnOnce(Self) -> Self) -> Self {
        add(self)
    }

    fn push(
        mut self,
        name: &'static str,
        ty: &'static str,
        priority: u8,
        description: &'static str,
        cell: Cell,
    ) -> Self {
        self.columns.push(Column {
            name,
            ty,
            priority,
            description,
            cell,
        });
        self
    }

    /// The `columnDefinitions` of a Table.
    pub fn column_definitions(&self) -> Vec<Value> {
        self.columns
            .iter()
            .map(|c| {
                // Upstream marks the Name column with format "name"; kubectl
                // reads it there for `-o name` and for sorting.
                let format = if c.name == "Name" { "name" } else { "" };
                json!({"name": c.name, "type": c.ty, "format": format, "description": c.description, "priority": c.priority})
            })
            .collect()
    }

    /// The cells of one object's row, one per column.
    pub fn cells(&self, o: &Value) -> Vec<Value> {
        self.columns.iter().map(|c| (c.cell)(o)).collect()
    }
}

/// Same as [`Printer::new`] (just Name); the table for a kind without a
/// printer is [`Printer::fallback`].
impl Default for Printer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Printer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.columns.iter().map(|c| c.name))
            .finish()
    }
}

/// Which form each row's `object` takes (`?includeObject=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// A `meta.k8s.io/v1` Table of these objects, printed by `printer`.
///
/// With `with_columns` false, `columnDefinitions` is left empty (rows
/// only).
pub fn table(
    printer: &Printer,
    items: &[Value],
    list_meta: Value,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let column_definitions = if with_columns {
        printer.column_definitions()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            // kubectl asks for the metadata (`includeObject=Metadata`) to
            // print NAMESPACE, labels and `-L` columns itself.
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Object => o.clone(),
                IncludeObject::Metadata => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            json!({"cells": printer.cells(o), "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": column_definitions, "rows": rows})
}

/// The Name cell: `metadata.name`.
pub fn name(o: &Value) -> Value {
    json!(text(&o["metadata"]["name"]))
}

/// A field as a cell shows it: a string as is, a missing field empty,
/// anything else as its JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// How long ago a timestamp was, like kubectl: `5d3h`; `<unknown>` if it
/// is missing or unreadable.
pub fn age(ts: &Value) -> String {
    match ts
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// `kubectl`'s human durations: 45s, 5m30s, 150m, 5h30m, 36h, 5d3h, 400d, 3y20d.
/// (apimachinery's `duration.HumanDuration`: the shorter the time, the
/// finer the unit, and never more than two units.)
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let y = d / 365;
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (330, "5m30s"),
            (600, "10m"),
            (9000, "150m"),
            (19800, "5h30m"),
            (36 * 3600, "36h"),
            (5 * 86400 + 3 * 3600, "5d3h"),
            (400 * 86400, "400d"),
            (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn printers_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Printer>();
    }

    #[test]
    fn columns_and_cells_come_in_the_order_they_were_added() {
        let p = Printer::new()
            .column("Phase", "string", "The phase.", |o| {
                o["status"]["phase"].clone()
            })
            .age()
            .wide("Node", "string", "The node.", |o| {
                o["spec"]["nodeName"].clone()
            });
        let t = table(
            &p,
            &[
                json!({"metadata": {"name": "web"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}),
            ],
            json!({}),
            IncludeObject::None,
            true,
        );
        let defs = t["columnDefinitions"].as_array().unwrap();
        let names: Vec<&str> = defs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Phase", "Age", "Node"]);
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[3]["priority"], 1);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "Running", "<unknown>", "n1"])
        );
        assert_eq!(format!("{p:?}"), r#"["Name", "Phase", "Age", "Node"]"#);
    }
}
