//! Types and schemas: what a well-formed object of each kind looks like.
//!
//! kubelab stores objects as JSON, but every object that comes in is first
//! *decoded into its real Kubernetes type* from the `k8s-openapi` crate and
//! encoded back — what the real API server does when it converts a request
//! body into its internal Go struct. That one round trip gives us, for free
//! and exactly as upstream's schema says:
//!
//! - **type errors with a field path** (`spec.replicas: expected i32`),
//!   thanks to `serde_path_to_error`;
//! - **missing required fields** (`spec.containers[0].name`);
//! - **unknown fields**: anything the input had that did not survive the
//!   round trip is not part of the schema — a typo such as `spec.replica`.
//!   With `fieldValidation=Strict` (kubectl's default) that is an error;
//!   with `Warn` (the server's default) it is a warning and the field is
//!   dropped.
//!
//! The same types also produce the OpenAPI v3 documents (`/openapi/v3`)
//! that `kubectl explain` and kubectl's validation read.

use k8s_openapi::api::{
    apps, autoscaling, batch, coordination, core, discovery, events, policy, rbac, storage,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::registry::ResourceInfo;

/// Why a body could not be decoded into its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A required field is absent: (field path).
    Required(String),
    /// Wrong JSON type or an unparsable value: (field path, message).
    Invalid(String, String),
}

/// The result of a successful round trip.
#[derive(Debug)]
pub struct Decoded {
    /// The object as its type sees it (unknown fields dropped).
    pub object: Value,
    /// Paths of fields that are not in the schema.
    pub unknown_fields: Vec<String>,
}

/// Calls `$f::<T>` with the `k8s-openapi` type for a (group, kind).
macro_rules! for_kind {
    ($group:expr, $kind:expr, $f:ident ( $($arg:expr),* )) => {
        match ($group, $kind) {
            ("", "Binding") => Some($f::<core::v1::Binding>($($arg),*)),
            ("", "ConfigMap") => Some($f::<core::v1::ConfigMap>($($arg),*)),
            ("", "Endpoints") => Some($f::<core::v1::Endpoints>($($arg),*)),
            ("", "Event") => Some($f::<core::v1::Event>($($arg),*)),
            ("", "Namespace") => Some($f::<core::v1::Namespace>($($arg),*)),
            ("", "Node") => Some($f::<core::v1::Node>($($arg),*)),
            ("", "PersistentVolumeClaim") => Some($f::<core::v1::PersistentVolumeClaim>($($arg),*)),
            ("", "PersistentVolume") => Some($f::<core::v1::PersistentVolume>($($arg),*)),
            ("", "Pod") => Some($f::<core::v1::Pod>($($arg),*)),
            ("", "ReplicationController") => Some($f::<core::v1::ReplicationController>($($arg),*)),
            ("", "Secret") => Some($f::<core::v1::Secret>($($arg),*)),
            ("", "ServiceAccount") => Some($f::<core::v1::ServiceAccount>($($arg),*)),
            ("", "Service") => Some($f::<core::v1::Service>($($arg),*)),
            ("apps", "ControllerRevision") => Some($f::<apps::v1::ControllerRevision>($($arg),*)),
            ("apps", "DaemonSet") => Some($f::<apps::v1::DaemonSet>($($arg),*)),
            ("apps", "Deployment") => Some($f::<apps::v1::Deployment>($($arg),*)),
            ("apps", "ReplicaSet") => Some($f::<apps::v1::ReplicaSet>($($arg),*)),
            ("apps", "StatefulSet") => Some($f::<apps::v1::StatefulSet>($($arg),*)),
            ("autoscaling", "HorizontalPodAutoscaler") => Some($f::<autoscaling::v2::HorizontalPodAutoscaler>($($arg),*)),
            ("batch", "CronJob") => Some($f::<batch::v1::CronJob>($($arg),*)),
            ("batch", "Job") => Some($f::<batch::v1::Job>($($arg),*)),
            ("coordination.k8s.io", "Lease") => Some($f::<coordination::v1::Lease>($($arg),*)),
            ("discovery.k8s.io", "EndpointSlice") => Some($f::<discovery::v1::EndpointSlice>($($arg),*)),
            ("events.k8s.io", "Event") => Some($f::<events::v1::Event>($($arg),*)),
            ("policy", "PodDisruptionBudget") => Some($f::<policy::v1::PodDisruptionBudget>($($arg),*)),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Some($f::<rbac::v1::ClusterRoleBinding>($($arg),*)),
            ("rbac.authorization.k8s.io", "ClusterRole") => Some($f::<rbac::v1::ClusterRole>($($arg),*)),
            ("rbac.authorization.k8s.io", "RoleBinding") => Some($f::<rbac::v1::RoleBinding>($($arg),*)),
            ("rbac.authorization.k8s.io", "Role") => Some($f::<rbac::v1::Role>($($arg),*)),
            ("storage.k8s.io", "StorageClass") => Some($f::<storage::v1::StorageClass>($($arg),*)),
            _ => None,
        }
    };
}

/// Decodes `value` as the kind `info` names and encodes it back.
///
/// The caller must have set `apiVersion` and `kind` already (the typed
/// decoders insist on them).
pub fn round_trip(info: &ResourceInfo, value: &Value) -> Result<Decoded, DecodeError> {
    for_kind!(info.group, info.kind, round_trip_as(value)).unwrap_or_else(|| {
        Err(DecodeError::Invalid(
            String::new(),
            format!("no type for kind {}", info.kind),
        ))
    })
}

// ANCHOR: round_trip
fn round_trip_as<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Decoded, DecodeError> {
    let typed: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = json_path(&e.path().to_string());
        let msg = e.inner().to_string();
        // serde says "missing field `name`"; upstream says "<path>.name: Required value".
        match msg
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            Some(field) => DecodeError::Required(join(&path, field)),
            None => DecodeError::Invalid(path, msg),
        }
    })?;
    let object = serde_json::to_value(&typed)
        .map_err(|e| DecodeError::Invalid(String::new(), e.to_string()))?;
    let mut unknown_fields = Vec::new();
    find_unknown(value, &object, "", &mut unknown_fields);
    Ok(Decoded {
        object,
        unknown_fields,
    })
}
// ANCHOR_END: round_trip

/// serde_path_to_error writes `.` for the root and `?` for unknown spots;
/// upstream writes `spec.containers[0].name`.
fn json_path(p: &str) -> String {
    if p == "." {
        String::new()
    } else {
        p.replace(".[", "[")
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Every non-null field of `input` that is missing from `output`.
fn find_unknown(input: &Value, output: &Value, path: &str, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let p = join(path, k);
                match o.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(ov) => find_unknown(v, ov, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                find_unknown(iv, ov, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

// ---- OpenAPI v3 -------------------------------------------------------------

/// The `components.schemas` of one group/version's OpenAPI v3 document:
/// every kind of that group/version plus every type they reference, each
/// top-level kind tagged with `x-kubernetes-group-version-kind` as upstream
/// does (that tag is how `kubectl explain` finds a kind's schema).
pub fn openapi_schemas(resources: &[&ResourceInfo]) -> Map<String, Value> {
    let settings = schemars::generate::SchemaSettings::openapi3();
    let mut generator = settings.into_generator();
    let mut roots = Vec::new();
    for info in resources {
        if let Some(name) = for_kind!(info.group, info.kind, add_schema(&mut generator)) {
            roots.push((name, *info));
        }
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    for (name, info) in roots {
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            s.insert(
                "x-kubernetes-group-version-kind".into(),
                serde_json::json!([{"group": info.group, "version": info.version, "kind": info.kind}]),
            );
        }
    }
    schemas
}

fn add_schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_kind;
    use serde_json::json;

    #[test]
    fn round_trip_reports_type_errors_with_paths() {
        let info = by_kind("apps/v1", "Deployment").unwrap();
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                         "spec": {"replicas": "three", "selector": {}, "template": {}}});
        match round_trip(info, &bad) {
            Err(DecodeError::Invalid(path, _)) => assert_eq!(path, "spec.replicas"),
            other => panic!("{other:?}"),
        }
        let missing = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
                             "spec": {"containers": [{"image": "busybox"}]}});
        // k8s-openapi fills a missing required string with "": the semantic
        // validation then reports it as "Required value" (see validation.rs).
        let decoded = round_trip(by_kind("v1", "Pod").unwrap(), &missing).unwrap();
        assert_eq!(decoded.object["spec"]["containers"][0]["name"], "");
        let mut causes = Vec::new();
        crate::validation::pod(&decoded.object, &mut causes);
        assert_eq!(
            causes[0].to_line(),
            "spec.containers[0].name: Required value"
        );
    }

    #[test]
    fn round_trip_finds_unknown_fields_and_keeps_known_ones() {
        let info = by_kind("v1", "ConfigMap").unwrap();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "a", "labelz": {"x": "y"}, "labels": {"k": "v"}},
                        "data": {"k": "v"}, "dta": {}, "binaryData": null});
        let d = round_trip(info, &cm).unwrap();
        assert_eq!(d.unknown_fields, vec!["metadata.labelz", "dta"]);
        assert_eq!(d.object["data"]["k"], "v");
        assert_eq!(d.object["metadata"]["labels"]["k"], "v");
        assert!(d.object.get("dta").is_none());
    }

    #[test]
    fn openapi_schemas_tag_kinds_for_explain() {
        let pod = by_kind("v1", "Pod").unwrap();
        let schemas = openapi_schemas(&[pod]);
        let s = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(s["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
        // Referenced types come along, so `explain pod.spec.containers` resolves.
        assert!(schemas.contains_key("io.k8s.api.core.v1.Container"));
        let spec_ref = s["properties"]["spec"]["$ref"]
            .as_str()
            .or_else(|| s["properties"]["spec"]["allOf"][0]["$ref"].as_str());
        assert_eq!(
            spec_ref,
            Some("#/components/schemas/io.k8s.api.core.v1.PodSpec")
        );
    }
}
