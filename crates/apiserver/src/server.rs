//! The HTTP front: one handler, the request pipeline made explicit.
//!
//! ```text
//! request ─▶ authenticate ─▶ route (discovery? resource?) ─▶ authorize
//!         ─▶ decode body ─▶ verb handler ─▶ objects (admission: defaults,
//!            validation) ─▶ store ─▶ encode (JSON or Table) ─▶ response
//! ```
//!
//! Upstream builds this as a chain of HTTP filters (`WithAuthentication`,
//! `WithAuthorization` …) in front of per-resource handlers. Here it is one
//! function, [`handle`], so you can read the whole path of a request from
//! top to bottom.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use kubelab_api::ResourceInfo;
use kubelab_api::meta;
use kubelab_api::selector::{FieldSelector, LabelSelector};
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;

use axum::extract::ws::WebSocketUpgrade;

use crate::discovery;
use crate::objects::{FieldValidation, ListOptions, Objects, Propagation, WriteOptions};
use crate::patch;
use crate::request::{self, Query, RequestInfo};
use crate::status::{self, ApiError};
use crate::streaming;
use crate::table::{self, IncludeObject};
use crate::watch::{self, WatchRequest};

/// Largest request body accepted (upstream: 3 MiB).
const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Everything a request handler needs.
pub struct ApiState {
    pub objects: Objects,
    /// Bearer tokens that authenticate as the admin; empty = no auth (tests).
    pub tokens: Vec<String>,
    /// The kubelets, for logs, exec, attach and port-forward (chapter 02).
    pub nodes: crate::streaming::NodeConnections,
    /// Later chapters' authenticators and subresources.
    pub extensions: crate::extensions::ApiExtensions,
}

/// Who is asking (authentication's answer).
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
}

/// Step 1: authentication. The admin's bearer token, then each
/// authenticator a later chapter added (ServiceAccount tokens, chapter
/// 05); anything else is refused with 401 (health checks excepted, as
/// upstream lets anonymous users read them).
async fn authenticate(state: &ApiState, headers: &HeaderMap) -> Option<User> {
    if state.tokens.is_empty() {
        return Some(User {
            name: "kubelab-admin".into(),
        });
    }
    // The scheme is case-insensitive (the Python client's in-cluster
    // configuration sends `bearer`).
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if state.tokens.iter().any(|t| t == token) {
        return Some(User {
            name: "kubelab-admin".into(),
        });
    }
    for a in &state.extensions.authenticators {
        if let Some(user) = a.authenticate(&state.objects, token).await {
            return Some(user);
        }
    }
    None
}

/// Step 3: authorization. Today every authenticated user may do everything
/// (upstream's `AlwaysAllow` mode); RBAC plugs in here later.
fn authorize(_user: &User, _info: &RequestInfo) -> Result<(), ApiError> {
    Ok(())
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let quoted = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// The one entry point for every request.
// ANCHOR: handle
pub async fn handle(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // exec, attach and port-forward switch the connection to a WebSocket.
    let ws = if parts.headers.contains_key("upgrade") && parts.method == Method::GET {
        use axum::extract::FromRequestParts;
        WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .ok()
    } else {
        None
    };
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let is_health = matches!(path.as_str(), "/healthz" | "/livez" | "/readyz");
    let Some(user) = authenticate(&state, &parts.headers)
        .await
        .or(is_health.then(|| User {
            name: "system:anonymous".into(),
        }))
    else {
        return ApiError::unauthorized().into_response();
    };
    // A bug (or a lab's `todo!()`) must not drop the connection: like
    // upstream's panic recovery filter, answer 500 with what happened.
    let work = route(
        &state,
        &user,
        &parts.method,
        &path,
        &query,
        &parts.headers,
        body,
        ws,
    );
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        // Kubernetes 1.33 deprecates core/v1 Endpoints: every request for
        // them carries a warning, which kubectl prints.
        Ok(Ok(r)) if is_core_endpoints(&path) => with_warnings(
            r,
            &[
                "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
                    .into(),
            ],
        ),
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.into_response(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            ApiError::internal(format!(
                "the API server panicked while handling {path}: {what}"
            ))
            .into_response()
        }
    }
}
// ANCHOR_END: handle

#[allow(clippy::too_many_arguments)]
async fn route(
    state: &ApiState,
    user: &User,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
    ws: Option<WebSocketUpgrade>,
) -> Result<Response, ApiError> {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    let discovery_reply = |v: Value| {
        let mut r = json_response(StatusCode::OK, &v);
        if aggregated {
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
            );
        }
        Ok(r)
    };
    if method == Method::GET {
        let trimmed = path.trim_end_matches('/');
        match trimmed {
            "/healthz" | "/livez" | "/readyz" => return Ok((StatusCode::OK, "ok").into_response()),
            "/version" => return Ok(json_response(StatusCode::OK, &discovery::version())),
            "/api" => {
                return discovery_reply(if aggregated {
                    discovery::aggregated(true)
                } else {
                    discovery::api_versions()
                });
            }
            "/apis" => {
                let extra = state
                    .extensions
                    .aggregated
                    .iter()
                    .map(|a| discovery::ExtraGroup(a.group(), a.version(), a.resources()));
                return discovery_reply(if aggregated {
                    let mut list = discovery::aggregated(false);
                    for g in extra {
                        list["items"].as_array_mut().unwrap().push(g.aggregated());
                    }
                    list
                } else {
                    let mut list = discovery::api_group_list();
                    for g in extra {
                        list["groups"].as_array_mut().unwrap().push(g.api_group());
                    }
                    list
                });
            }
            "/openapi/v3" => return Ok(json_response(StatusCode::OK, &discovery::openapi_index())),
            // kubectl asks for OpenAPI v2 (protobuf only) just for kinds the v3
            // documents do not have. An empty v2 document makes it skip its
            // client-side check and report the real problem ("no matches for
            // kind"), as it does against an upstream server.
            "/openapi/v2" => {
                return Ok((
                    StatusCode::OK,
                    [("content-type", discovery::OPENAPI_V2_CONTENT_TYPE)],
                    discovery::EMPTY_OPENAPI_V2,
                )
                    .into_response());
            }
            _ => {}
        }
        if let Some(p) = trimmed.strip_prefix("/openapi/v3/") {
            return match discovery::openapi(p) {
                Some(doc) => Ok(json_response(StatusCode::OK, doc)),
                None => Err(ApiError::no_route(path)),
            };
        }
        let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
        if let ["apis", g, rest @ ..] = parts.as_slice()
            && let Some(api) = state.extensions.aggregated_group(g)
        {
            return aggregated_request(api.as_ref(), rest, query, path).await;
        }
        match parts.as_slice() {
            ["api", v] => {
                return discovery::resource_list("", v)
                    .map(|v| json_response(StatusCode::OK, &v))
                    .ok_or_else(|| ApiError::no_route(path));
            }
            ["apis", g] => {
                return discovery::group(g)
                    .map(|v| json_response(StatusCode::OK, &v))
                    .ok_or_else(|| ApiError::no_route(path));
            }
            ["apis", g, v] => {
                return discovery::resource_list(g, v)
                    .map(|v| json_response(StatusCode::OK, &v))
                    .ok_or_else(|| ApiError::no_route(path));
            }
            _ => {}
        }
    }
    if let ["apis", g, ..] = path
        .trim_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
        && state.extensions.aggregated_group(g).is_some()
    {
        return Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on {g}: it serves get, list"
        )));
    }
    let info = request::parse(method, path, query)?.ok_or_else(|| ApiError::no_route(path))?;
    authorize(user, &info)?;
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "Request entity too large: limit is {MAX_BODY_BYTES}"
            ))
        })?;
    let ctx = Ctx {
        objects: &state.objects,
        nodes: &state.nodes,
        extensions: &state.extensions,
        info,
        query,
        headers,
        accept,
        ws: std::sync::Mutex::new(ws),
    };
    ctx.dispatch(body).await
}

/// A GET under an aggregated API's group (`/apis/metrics.k8s.io/…`):
/// discovery of the group and version, or a get/list its code answers.
async fn aggregated_request(
    api: &dyn crate::extensions::AggregatedApi,
    rest: &[&str],
    query: &Query,
    path: &str,
) -> Result<Response, ApiError> {
    let group = discovery::ExtraGroup(api.group(), api.version(), api.resources());
    let (ns, rest) = match rest {
        [] => {
            let mut g = group.api_group();
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            return Ok(json_response(StatusCode::OK, &g));
        }
        [v] if *v == api.version() => {
            return Ok(json_response(StatusCode::OK, &group.resource_list()));
        }
        [v, "namespaces", ns, rest @ ..] if *v == api.version() && !rest.is_empty() => {
            (Some(*ns), rest)
        }
        [v, rest @ ..] if *v == api.version() => (None, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let (plural, name) = match rest {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(*name)),
        _ => return Err(ApiError::no_route(path)),
    };
    let resource = api
        .resources()
        .iter()
        .find(|r| r.plural == plural)
        .ok_or_else(|| ApiError::no_route(path))?;
    let answer = api
        .get(resource, ns, name, query.get("labelSelector"))
        .await?;
    Ok(json_response(StatusCode::OK, &answer))
}

/// One resource request, parsed.
struct Ctx<'a> {
    objects: &'a Objects,
    nodes: &'a crate::streaming::NodeConnections,
    extensions: &'a crate::extensions::ApiExtensions,
    info: RequestInfo,
    query: &'a Query,
    headers: &'a HeaderMap,
    accept: &'a str,
    ws: std::sync::Mutex<Option<WebSocketUpgrade>>,
}

impl Ctx<'_> {
    fn r(&self) -> &'static ResourceInfo {
        self.info.resource
    }
    fn ns(&self) -> Option<&str> {
        self.info.namespace.as_deref()
    }
    fn name(&self) -> &str {
        self.info.name.as_deref().unwrap_or_default()
    }
    fn sub(&self) -> Option<&str> {
        self.info.subresource.as_deref()
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let field_validation = match self.query.get("fieldValidation") {
            None | Some("") | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation parameter unsupported: {other}"
                )));
            }
        };
        let dry_run = match self.query.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
                )));
            }
        };
        Ok(WriteOptions {
            dry_run,
            field_validation,
        })
    }

    fn list_options(&self) -> Result<ListOptions, ApiError> {
        let label_selector = self
            .query
            .get("labelSelector")
            .map(LabelSelector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let field_selector = self
            .query
            .get("fieldSelector")
            .map(FieldSelector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(f) = field_selector
            .as_ref()
            .and_then(|f| f.unsupported_field(self.r().kind))
        {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {f}"
            )));
        }
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit: self
                .query
                .number("limit")?
                .filter(|l| *l > 0)
                .map(|l| l as usize),
            continue_token: self
                .query
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(String::from),
        })
    }

    /// `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`
    /// (or `as=PartialObjectMetadata` on a watch): metadata only.
    fn wants_metadata(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }

    fn wants_table(&self) -> bool {
        self.accept.contains("as=Table")
    }

    /// Reads a request body: JSON, YAML, or protobuf (kubectl's generators).
    fn decode_body(&self, body: &Bytes) -> Result<Value, ApiError> {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        let media = ct.split(';').next().unwrap_or("").trim();
        let v: Value = match media {
            "application/json" | "" | "*/*" => serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error decoding the request body as JSON: {e}"))
            })?,
            "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
                .map_err(|e| {
                    ApiError::bad_request(format!("error decoding the request body as YAML: {e}"))
                })?,
            crate::protobuf::MEDIA_TYPE => crate::protobuf::decode(body)?,
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        if !v.is_object() {
            return Err(ApiError::bad_request("the request body must be an object"));
        }
        Ok(v)
    }

    /// The body's kind and apiVersion, if present, must be the URL's.
    fn check_type(&self, obj: &Value) -> Result<(), ApiError> {
        let r = self.r();
        if let Some(k) = obj
            .get("kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            && k != r.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                r.kind
            )));
        }
        if let Some(av) = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            && av != r.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                r.api_version()
            )));
        }
        Ok(())
    }

    /// An object for the client: JSON, or a one-row Table.
    fn object_response(&self, code: StatusCode, obj: &Value) -> Response {
        if self.wants_table() {
            let rv = obj["metadata"]["resourceVersion"].clone();
            return json_response(
                code,
                &table::table(
                    &self.objects.strategy(self.r()).printer(),
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": rv}),
                    self.include_object(),
                    true,
                ),
            );
        }
        json_response(code, obj)
    }

    fn include_object(&self) -> IncludeObject {
        match self.query.get("includeObject") {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }

    /// Does the resource have this subresource (pods have `log`, `exec` …)?
    fn serves(&self, subresource: &str) -> bool {
        self.r().subresources.contains(&subresource)
    }

    async fn dispatch(&self, body: Bytes) -> Result<Response, ApiError> {
        match (self.info.verb, self.sub()) {
            ("get", Some("scale")) => Ok(json_response(
                StatusCode::OK,
                &self.scale_of(&self.get().await?)?,
            )),
            ("get", None | Some("status" | "ephemeralcontainers")) => {
                Ok(self.object_response(StatusCode::OK, &self.get().await?))
            }
            // Served by the pod's kubelet (chapter 02), relayed by us.
            ("get", Some("log")) if self.serves("log") => {
                streaming::logs(self.nodes, &self.get().await?, self.query).await
            }
            ("get" | "create", Some(sub @ ("exec" | "attach"))) if self.serves(sub) => {
                let ws = self.ws.lock().unwrap().take();
                streaming::exec(
                    self.nodes,
                    &self.get().await?,
                    self.query,
                    ws,
                    sub == "attach",
                )
                .await
            }
            ("get" | "create", Some("portforward")) if self.serves("portforward") => {
                let ws = self.ws.lock().unwrap().take();
                streaming::port_forward(self.nodes, &self.get().await?, ws).await
            }
            ("get", Some(sub)) => Err(ApiError::bad_request(format!(
                "{sub} is not served for {}",
                self.r().plural
            ))),
            ("list", _) => self.list().await,
            ("watch", _) => self.watch().await,
            ("create", None) if self.info.name.is_none() => self.create(body).await,
            ("create", Some("binding")) => self.bind(body).await,
            ("create", Some(sub))
                if let Some(h) = self.extensions.handler(self.r().group, self.r().kind, sub) =>
            {
                let parent = self.get().await?;
                let body = self.decode_body(&body)?;
                let answer = h.create(self.objects, &parent, body).await?;
                Ok(json_response(StatusCode::CREATED, &answer))
            }
            ("create", Some("eviction")) => {
                self.objects
                    .delete(self.r(), self.ns(), self.name(), None, None, false)
                    .await?;
                Ok(json_response(
                    StatusCode::CREATED,
                    &status::success(json!({"name": self.name(), "kind": "pods"})),
                ))
            }
            ("update", Some("scale")) => {
                let scale = self.decode_body(&body)?;
                self.set_replicas(&scale).await
            }
            ("update", None | Some("status" | "finalize" | "ephemeralcontainers")) => {
                let obj = self.decode_body(&body)?;
                self.check_type(&obj)?;
                let w = self
                    .objects
                    .update(
                        self.r(),
                        self.ns(),
                        self.name(),
                        obj,
                        self.sub(),
                        self.write_options()?,
                    )
                    .await?;
                Ok(with_warnings(
                    self.object_response(StatusCode::OK, &w.object),
                    &w.warnings,
                ))
            }
            ("patch", _) => self.patch(body).await,
            ("delete", None) => self.delete(body).await,
            ("deletecollection", None) => self.delete_collection().await,
            (verb, sub) => Err(ApiError::method_not_allowed(format!(
                "{verb} is not supported on {}{}",
                self.r().plural,
                sub.map(|s| format!("/{s}")).unwrap_or_default()
            ))),
        }
    }

    async fn get(&self) -> Result<Value, ApiError> {
        self.objects.get(self.r(), self.ns(), self.name()).await
    }

    async fn list(&self) -> Result<Response, ApiError> {
        let opts = self.list_options()?;
        if !self.wants_table()
            && !self.wants_metadata()
            && let Some(raw) = self.objects.list_raw(self.r(), self.ns(), &opts).await?
        {
            return Ok(raw_list_response(self.r(), raw));
        }
        let result = self.objects.list(self.r(), self.ns(), &opts).await?;
        let mut list_meta = json!({"resourceVersion": result.resource_version.to_string()});
        if let Some(c) = &result.continue_token {
            list_meta["continue"] = json!(c);
        }
        if let Some(n) = result.remaining {
            list_meta["remainingItemCount"] = json!(n);
        }
        if self.wants_table() {
            return Ok(json_response(
                StatusCode::OK,
                &table::table(
                    &self.objects.strategy(self.r()).printer(),
                    &result.items,
                    list_meta,
                    self.include_object(),
                    true,
                ),
            ));
        }
        if self.wants_metadata() {
            let items: Vec<Value> = result
                .items
                .iter()
                .map(crate::watch::partial_metadata)
                .collect();
            return Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": items}),
            ));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"kind": self.r().list_kind(), "apiVersion": self.r().api_version(), "metadata": list_meta, "items": result.items}),
        ))
    }

    async fn watch(&self) -> Result<Response, ApiError> {
        let rv = match self.query.get("resourceVersion") {
            None | Some("") | Some("0") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
            ),
        };
        let req = WatchRequest {
            info: self.r(),
            namespace: self.info.namespace.clone(),
            name: self.info.name.clone(),
            list: self.list_options()?,
            resource_version: rv,
            timeout: self
                .query
                .number("timeoutSeconds")?
                .map(Duration::from_secs),
            bookmarks: self.query.flag("allowWatchBookmarks"),
            as_table: self.wants_table(),
            as_metadata: self.wants_metadata(),
        };
        let rx = watch::start(self.objects, req).await?;
        let stream = futures::StreamExt::map(ReceiverStream::new(rx), Ok::<_, std::io::Error>);
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("cache-control", "no-cache, private")
            .body(Body::from_stream(stream))
            .unwrap())
    }

    async fn create(&self, body: Bytes) -> Result<Response, ApiError> {
        let obj = self.decode_body(&body)?;
        self.check_type(&obj)?;
        let w = self
            .objects
            .create(self.r(), self.ns(), obj, self.write_options()?)
            .await?;
        Ok(with_warnings(
            self.object_response(StatusCode::CREATED, &w.object),
            &w.warnings,
        ))
    }

    async fn patch(&self, body: Bytes) -> Result<Response, ApiError> {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let ct = ct.split(';').next().unwrap_or("").trim().to_string();
        let opts = self.write_options()?;
        if self.sub() == Some("scale") {
            let current = self.scale_of(&self.get().await?)?;
            let mut patched = patch::apply(&ct, &current, &body)?;
            // The resourceVersion is a precondition only if the patch set
            // one: a controller's status write in between is no conflict.
            if patched["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"] {
                patched["metadata"]["resourceVersion"] = Value::Null;
            }
            return self.set_replicas(&patched).await;
        }
        if !matches!(self.sub(), None | Some("status" | "ephemeralcontainers")) {
            return Err(ApiError::method_not_allowed(
                "patch is not supported on this subresource",
            ));
        }
        // Server-side apply creates what does not exist yet.
        if ct == "application/apply-patch+yaml" {
            match self.get().await {
                Err(e) if e.code == StatusCode::NOT_FOUND && self.sub().is_none() => {
                    let obj: Value = serde_yaml::from_slice(&body)
                        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
                    self.check_type(&obj)?;
                    let w = self.objects.create(self.r(), self.ns(), obj, opts).await?;
                    return Ok(with_warnings(
                        self.object_response(StatusCode::CREATED, &w.object),
                        &w.warnings,
                    ));
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        let w = self
            .objects
            .update_with(
                self.r(),
                self.ns(),
                self.name(),
                self.sub(),
                opts,
                |current| {
                    let mut patched = patch::apply(&ct, current, &body)?;
                    // A resourceVersion is a precondition only if the patch
                    // names one; otherwise a write in between (a
                    // controller's) is retried over, as upstream does.
                    if !names_resource_version(&body) {
                        patched["metadata"]["resourceVersion"] = Value::Null;
                    }
                    Ok(patched)
                },
            )
            .await?;
        Ok(with_warnings(
            self.object_response(StatusCode::OK, &w.object),
            &w.warnings,
        ))
    }

    async fn delete(&self, body: Bytes) -> Result<Response, ApiError> {
        // DeleteOptions arrive in the body (kubectl) or the query (curl, clients).
        let opts: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&body).unwrap_or(json!({}))
        };
        let policy = opts["propagationPolicy"]
            .as_str()
            .map(String::from)
            .or_else(|| self.query.get("propagationPolicy").map(String::from));
        let propagation = match policy.as_deref() {
            None | Some("") => None,
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: \"{other}\""
                )));
            }
        };
        let propagation = propagation.or(if opts["orphanDependents"] == true {
            Some(Propagation::Orphan)
        } else {
            None
        });
        let uid = opts["preconditions"]["uid"].as_str().map(String::from);
        let dry_run = self.write_options()?.dry_run
            || opts["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "All"));
        let grace = opts["gracePeriodSeconds"].as_i64().or(self
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok()));
        if let Some(marked) = self
            .objects
            .begin_graceful_deletion(self.r(), self.ns(), self.name(), grace, dry_run)
            .await?
        {
            return Ok(json_response(StatusCode::OK, &marked));
        }
        let obj = self
            .objects
            .delete(self.r(), self.ns(), self.name(), propagation, uid, dry_run)
            .await?;
        // Upstream answers with the object while its deletion is pending,
        // and always for some kinds; with a Status otherwise.
        if meta::is_being_deleted(&obj) || self.r().returns_deleted_object() {
            return Ok(json_response(StatusCode::OK, &obj));
        }
        Ok(json_response(
            StatusCode::OK,
            &status::success(
                json!({"name": self.name(), "group": self.r().group, "kind": self.r().plural, "uid": meta::uid(&obj)}),
            ),
        ))
    }

    async fn delete_collection(&self) -> Result<Response, ApiError> {
        let list = self
            .objects
            .list(self.r(), self.ns(), &self.list_options()?)
            .await?;
        let dry_run = self.write_options()?.dry_run;
        for o in &list.items {
            let ns = self.r().namespaced.then(|| meta::namespace(o).to_string());
            match self
                .objects
                .delete(self.r(), ns.as_deref(), meta::name(o), None, None, dry_run)
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == StatusCode::NOT_FOUND => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            StatusCode::OK,
            &status::success(json!({"kind": self.r().plural})),
        ))
    }

    /// `autoscaling/v1` Scale: the replicas of a Deployment, ReplicaSet,
    /// StatefulSet or ReplicationController (whose selector is a plain map).
    fn scale_of(&self, obj: &Value) -> Result<Value, ApiError> {
        let m = &obj["metadata"];
        let selector = if self.r().kind == "ReplicationController" {
            json!({"matchLabels": obj["spec"]["selector"]})
        } else {
            obj["spec"]["selector"].clone()
        };
        let selector = kubelab_api::selector::to_selector_string(&selector);
        Ok(json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"], "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
            "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
            "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        }))
    }

    async fn set_replicas(&self, scale: &Value) -> Result<Response, ApiError> {
        let replicas = scale["spec"]["replicas"].clone();
        if !replicas.is_i64() {
            return Err(ApiError::bad_request("spec.replicas must be an integer"));
        }
        let expected_rv = scale["metadata"]["resourceVersion"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from);
        let w = self
            .objects
            .update_with(
                self.r(),
                self.ns(),
                self.name(),
                None,
                self.write_options()?,
                |cur| {
                    if let Some(rv) = &expected_rv
                        && cur["metadata"]["resourceVersion"].as_str() != Some(rv)
                    {
                        return Err(ApiError::conflict(
                            self.r().group,
                            self.r().plural,
                            self.name(),
                        ));
                    }
                    let mut o = cur.clone();
                    o["spec"]["replicas"] = replicas.clone();
                    // Checked above: the write may retry on a conflict.
                    meta::metadata_mut(&mut o).remove("resourceVersion");
                    Ok(o)
                },
            )
            .await?;
        Ok(json_response(StatusCode::OK, &self.scale_of(&w.object)?))
    }

    /// `pods/<name>/binding`: the scheduler's one write — put a pod on a node.
    async fn bind(&self, body: Bytes) -> Result<Response, ApiError> {
        let binding = self.decode_body(&body)?;
        let node = binding["target"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ApiError::invalid(
                    "",
                    "Binding",
                    self.name(),
                    &[kubelab_api::validation::Cause::required("target.name")],
                )
            })?;
        let pods = self.r();
        self.objects
            .update_with(pods, self.ns(), self.name(), None, WriteOptions::default(), |cur| {
                if let Some(assigned) = cur["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                    return Err(ApiError {
                        code: StatusCode::CONFLICT,
                        reason: "Conflict",
                        message: format!("Operation cannot be fulfilled on pods/binding \"{}\": pod {} is already assigned to node \"{assigned}\"", self.name(), self.name()),
                        details: None,
                    });
                }
                let mut o = cur.clone();
                o["spec"]["nodeName"] = json!(node);
                Ok(o)
            })
            .await?;
        Ok(json_response(
            StatusCode::CREATED,
            &status::success(json!({})),
        ))
    }
}

/// A plain list written from the items' JSON bytes, without building a tree.
fn raw_list_response(info: &ResourceInfo, raw: crate::objects::RawList) -> Response {
    let mut list_meta = json!({"resourceVersion": raw.resource_version.to_string()});
    if let Some(c) = &raw.continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(n) = raw.remaining {
        list_meta["remainingItemCount"] = json!(n);
    }
    let head =
        json!({"kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": list_meta})
            .to_string();
    let size: usize = raw.items.iter().map(|i| i.len() + 1).sum();
    let mut body = Vec::with_capacity(head.len() + size + 16);
    // `{"kind":…,"metadata":{…}` + `,"items":[` + items + `]}`
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (n, item) in raw.items.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

/// Whether a patch body sets `resourceVersion` (in any patch format).
fn names_resource_version(body: &[u8]) -> bool {
    body.windows(b"resourceVersion".len())
        .any(|w| w == b"resourceVersion")
}

/// `/api/v1/endpoints` or `/api/v1/namespaces/<ns>/endpoints[/…]`.
fn is_core_endpoints(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["api", "v1", "endpoints", ..])
        || matches!(
            parts.as_slice(),
            ["api", "v1", "namespaces", _, "endpoints", ..]
        )
}
