//! From a URL to a [`RequestInfo`]: which resource, which verb.
//!
//! Upstream's `RequestInfoFactory` turns every request path into the same
//! few facts, and everything after it (authorization, admission, the
//! handlers) works with those facts, never with the raw path:
//!
//! ```text
//! /api/v1/namespaces/default/pods/web/log
//!  └┬┘ └┬┘            └──┬──┘ └┬─┘ └┬┘ └┬┘
//! prefix version    namespace  │   name subresource
//! (core group)              resource
//! /apis/apps/v1/deployments?watch=true   → group apps, verb "watch"
//! ```

use std::collections::HashMap;

use axum::http::Method;
use kubelab_api::ResourceInfo;
use kubelab_api::registry;

use crate::status::ApiError;

/// What a resource request is about.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub resource: &'static ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
}

/// Parses a resource path. `Ok(None)` means "not a resource path" (so it
/// may be discovery); `Err` means a resource path naming something unknown.
pub fn parse(method: &Method, path: &str, query: &Query) -> Result<Option<RequestInfo>, ApiError> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Ok(None),
    };
    // namespaces/{ns}/{resource}/... — but `namespaces/{name}` alone (and its
    // subresources `status`, `finalize`) is the Namespace object itself.
    let (namespace, rest) = match rest {
        ["namespaces", ns, resource, tail @ ..] if group.is_empty() || !resource.is_empty() => {
            if group.is_empty() && matches!(*resource, "status" | "finalize") && tail.is_empty() {
                (None, rest)
            } else {
                (Some(ns.to_string()), &rest[2..])
            }
        }
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(ApiError::no_route(path)),
    };
    let resource =
        registry::by_resource(group, version, plural).ok_or_else(|| ApiError::no_route(path))?;
    if namespace.is_some() && !resource.namespaced {
        return Err(ApiError::no_route(path));
    }
    if let Some(sub) = &subresource
        && !resource.subresources.contains(&sub.as_str())
    {
        return Err(ApiError::no_route(path));
    }
    let watch = query.flag("watch");
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "{m} is not supported"
            )));
        }
    };
    Ok(Some(RequestInfo {
        resource,
        namespace,
        name,
        subresource,
        verb,
    }))
}

/// The query string, decoded. Repeated keys (`command=a&command=b`) keep
/// every value.
#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            map.entry(decode(k)).or_default().push(decode(v));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }

    /// `?watch=true`, `?watch=1` or a bare `?watch`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str) -> RequestInfo {
        parse(
            &method,
            path,
            &Query::parse(path.split_once('?').map(|(_, q)| q)),
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn paths_map_to_resources_and_verbs() {
        let i = info(Method::GET, "/api/v1/namespaces/default/pods/web/log");
        assert_eq!(
            (
                i.resource.plural,
                i.namespace.as_deref(),
                i.name.as_deref(),
                i.subresource.as_deref(),
                i.verb
            ),
            ("pods", Some("default"), Some("web"), Some("log"), "get")
        );
        let i = info(Method::GET, "/apis/apps/v1/deployments");
        assert_eq!(
            (i.resource.kind, i.namespace, i.verb),
            ("Deployment", None, "list")
        );
        let i = info(Method::DELETE, "/api/v1/namespaces/dev");
        assert_eq!(
            (i.resource.kind, i.name.as_deref(), i.verb),
            ("Namespace", Some("dev"), "delete")
        );
        let i = info(Method::PUT, "/api/v1/namespaces/dev/finalize");
        assert_eq!(
            (i.resource.kind, i.name.as_deref(), i.subresource.as_deref()),
            ("Namespace", Some("dev"), Some("finalize"))
        );
    }

    #[test]
    fn unknown_resources_are_404_and_discovery_is_not_a_resource() {
        let q = Query::default();
        assert!(parse(&Method::GET, "/api/v1", &q).unwrap().is_none());
        assert!(parse(&Method::GET, "/apis/apps/v1", &q).unwrap().is_none());
        let e = parse(&Method::GET, "/api/v1/widgets", &q).unwrap_err();
        assert_eq!(e.code.as_u16(), 404);
        let e = parse(&Method::GET, "/api/v1/namespaces/x/nodes", &q).unwrap_err();
        assert_eq!(e.code.as_u16(), 404);
    }

    #[test]
    fn queries_decode_and_keep_repeats() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&command=a&command=b&watch",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.all("command"), vec!["a", "b"]);
        assert!(q.flag("watch"));
    }
}
