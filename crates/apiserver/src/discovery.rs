//! Discovery: how a client learns what the API server offers.
//!
//! Before kubectl can run `get deploy`, it must learn that `deploy` is a
//! short name for `deployments` in group `apps`, version `v1`, namespaced.
//! It asks:
//!
//! - `/version` — which Kubernetes this is (the kubectl dispatcher on
//!   these machines picks its bundled client by the minor version);
//! - `/api` and `/apis` — with *aggregated discovery* (one answer listing
//!   every group, version and resource at once, `apidiscovery.k8s.io/v2`),
//!   or the older *legacy discovery* that needs one more request per
//!   group/version (`/api/v1`, `/apis/apps/v1` …). kubelab serves both.
//! - `/openapi/v3` — the schemas, for `kubectl explain` and for kubectl's
//!   decision to leave field validation to the server.

use std::collections::HashMap;
use std::sync::OnceLock;

use kubelab_api::registry::{self, RESOURCES, ResourceInfo};
use kubelab_api::{KUBERNETES_MAJOR, KUBERNETES_MINOR, KUBERNETES_VERSION};
use serde_json::{Value, json};

pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub const OPENAPI_V2_CONTENT_TYPE: &str = "application/octet-stream";
/// An `openapi_v2.Document` with only `swagger: "2.0"` (field 1, a string).
pub const EMPTY_OPENAPI_V2: &[u8] = &[0x0a, 0x03, b'2', b'.', b'0'];

pub fn version() -> Value {
    json!({
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    })
}

fn verbs(r: &ResourceInfo) -> Vec<&'static str> {
    if r.kind == "Binding" {
        return vec!["create"];
    }
    r.verbs.to_vec()
}

/// (verbs, response kind) of a subresource.
fn subresource(r: &ResourceInfo, sub: &str) -> (Vec<&'static str>, Value) {
    let own = json!({"group": r.group, "version": r.version, "kind": r.kind});
    match sub {
        "status" => (vec!["get", "patch", "update"], own),
        "scale" => (
            vec!["get", "patch", "update"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        ),
        "log" => (
            vec!["get"],
            json!({"group": "", "version": "v1", "kind": "Pod"}),
        ),
        "exec" | "attach" | "portforward" => (
            vec!["create", "get"],
            json!({"group": "", "version": "v1", "kind": "PodExecOptions"}),
        ),
        "binding" => (
            vec!["create"],
            json!({"group": "", "version": "v1", "kind": "Binding"}),
        ),
        "eviction" => (
            vec!["create"],
            json!({"group": "policy", "version": "v1", "kind": "Eviction"}),
        ),
        "finalize" => (vec!["update"], own),
        "token" => (
            vec!["create"],
            json!({"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}),
        ),
        _ => (
            vec!["create", "delete", "get", "patch", "update"],
            json!({"group": "", "version": "v1", "kind": "NodeProxyOptions"}),
        ),
    }
}

/// Aggregated discovery for the core group (`/api`) or all others (`/apis`).
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|g| g.is_empty() == core)
        .map(|g| {
            let versions: Vec<Value> = registry::versions(g)
                .into_iter()
                .map(|v| {
                    let resources: Vec<&ResourceInfo> = RESOURCES
                        .iter()
                        .filter(|r| r.group == g && r.version == v)
                        .collect();
                    aggregated_version(v, &resources)
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// One version of a group in aggregated discovery.
fn aggregated_version(v: &str, resources: &[&ResourceInfo]) -> Value {
    let resources: Vec<Value> = resources
        .iter()
        .map(|r| {
            let subresources: Vec<Value> = r
                .subresources
                .iter()
                .map(|s| {
                    let (verbs, kind) = subresource(r, s);
                    json!({"subresource": s, "responseKind": kind, "verbs": verbs})
                })
                .collect();
            let mut e = json!({
                "resource": r.plural,
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular,
                "verbs": verbs(r),
            });
            if !r.short_names.is_empty() {
                e["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                e["categories"] = json!(r.categories);
            }
            if !subresources.is_empty() {
                e["subresources"] = json!(subresources);
            }
            e
        })
        .collect();
    json!({"version": v, "resources": resources, "freshness": "Current"})
}

/// Discovery of an aggregated API (chapter 06's `metrics.k8s.io`), whose
/// resources are not in the built-in table: `(group, version, resources)`.
pub struct ExtraGroup<'a>(pub &'a str, pub &'a str, pub &'a [ResourceInfo]);

impl ExtraGroup<'_> {
    /// Its item of `/apis` with aggregated discovery.
    pub fn aggregated(&self) -> Value {
        let resources: Vec<&ResourceInfo> = self.2.iter().collect();
        json!({"metadata": {"name": self.0, "creationTimestamp": null},
               "versions": [aggregated_version(self.1, &resources)]})
    }
    /// Its entry of the legacy `/apis` (and, as `APIGroup`, of `/apis/<group>`).
    pub fn api_group(&self) -> Value {
        let gv = json!({"groupVersion": format!("{}/{}", self.0, self.1), "version": self.1});
        json!({"name": self.0, "versions": [gv], "preferredVersion": gv})
    }
    /// The legacy `/apis/<group>/<version>`.
    pub fn resource_list(&self) -> Value {
        let resources: Vec<Value> = self
            .2
            .iter()
            .map(|r| json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs(r)}))
            .collect();
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": format!("{}/{}", self.0, self.1), "resources": resources})
    }
}

/// Legacy `/api`: the core group's versions.
pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

fn api_group(g: &str) -> Value {
    let versions: Vec<Value> = registry::versions(g)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
}

/// Legacy `/apis`: every named group.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(api_group)
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/apis/<group>`.
pub fn group(g: &str) -> Option<Value> {
    if g.is_empty() || registry::versions(g).is_empty() {
        return None;
    }
    let mut v = api_group(g);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// Legacy `/api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(g: &str, v: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == g && r.version == v) {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs(r)});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        for s in r.subresources {
            let (verbs, kind) = subresource(r, s);
            let mut e = json!({"name": format!("{}/{s}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": kind["kind"], "verbs": verbs});
            // A subresource of another group's kind names that group and
            // version (pods/eviction is a policy/v1 Eviction, x/scale an
            // autoscaling/v1 Scale): kubectl drain looks for exactly that.
            if kind["group"] != r.group || kind["version"] != r.version {
                e["group"] = kind["group"].clone();
                e["version"] = kind["version"].clone();
            }
            resources.push(e);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if g.is_empty() {
        v.to_string()
    } else {
        format!("{g}/{v}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

// ---- OpenAPI v3 ---------------------------------------------------------------

/// `api/v1`, `apis/apps/v1` …: the group/versions with an OpenAPI document.
fn openapi_group_versions() -> Vec<(String, &'static str, &'static str)> {
    let mut out = Vec::new();
    for g in registry::groups() {
        for v in registry::versions(g) {
            let path = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            out.push((path, g, v));
        }
    }
    out
}

/// The OpenAPI documents, built once: (path → (hash, document)).
fn documents() -> &'static HashMap<String, (String, Value)> {
    static DOCS: OnceLock<HashMap<String, (String, Value)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        openapi_group_versions()
            .into_iter()
            .map(|(path, g, v)| {
                let doc = openapi_document(g, v);
                let hash = format!("{:016X}", fnv1a(doc.to_string().as_bytes()));
                (path, (hash, doc))
            })
            .collect()
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `/openapi/v3`: where each group/version's document is.
pub fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    for (path, (hash, _)) in documents() {
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<path>`.
pub fn openapi(path: &str) -> Option<&'static Value> {
    documents().get(path).map(|(_, d)| d)
}

fn openapi_document(g: &str, v: &str) -> Value {
    let resources: Vec<&ResourceInfo> = RESOURCES
        .iter()
        .filter(|r| r.group == g && r.version == v)
        .collect();
    let schemas = kubelab_api::schema::openapi_schemas(&resources);
    let mut paths = serde_json::Map::new();
    let field_validation = json!({"name": "fieldValidation", "in": "query", "description": "how the server treats unknown or duplicate fields: Ignore, Warn or Strict", "schema": {"type": "string", "uniqueItems": true}});
    for r in &resources {
        let base = if g.is_empty() {
            format!("/api/{v}")
        } else {
            format!("/apis/{g}/{v}")
        };
        let item = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let schema_ref = schemas
            .iter()
            .find(|(_, s)| s["x-kubernetes-group-version-kind"][0] == gvk)
            .map(|(name, _)| format!("#/components/schemas/{name}"));
        let body = json!({"content": {"application/json": {"schema": {"$ref": schema_ref}}}});
        let op = |action: &str| {
            json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "parameters": [field_validation],
                   "requestBody": body, "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}}}})
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_lists_deployments_with_scale() {
        let apis = aggregated(false);
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "apps")
            .unwrap();
        let d = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(d["shortNames"], json!(["deploy"]));
        assert_eq!(d["categories"], json!(["all"]));
        assert_eq!(d["scope"], "Namespaced");
        assert!(
            d["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["subresource"] == "scale" && s["responseKind"]["kind"] == "Scale")
        );
        let core = aggregated(true);
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert_eq!(core["items"][0]["metadata"]["name"], "");
    }

    #[test]
    fn legacy_discovery_lists_subresources() {
        let core = resource_list("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"pods/log") && names.contains(&"namespaces"));
        assert!(resource_list("apps", "v2").is_none());
        assert_eq!(
            group("apps").unwrap()["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
    }

    #[test]
    fn openapi_marks_patch_with_gvk_and_field_validation() {
        let doc = openapi("apis/apps/v1").unwrap();
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert_eq!(p["parameters"][0]["name"], "fieldValidation");
        assert!(
            openapi_index()["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1?hash=")
        );
    }
}
