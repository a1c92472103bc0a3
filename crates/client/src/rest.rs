//! The REST client every cluster component uses (client-go's `rest` and
//! dynamic clients).
//!
//! Upstream, the scheduler, the controller manager and every kubelet talk
//! to kube-apiserver over HTTPS with client-go. kubelab runs them in the
//! API server's own process, so [`Client`] hands each request straight to
//! the server's router: it still passes through authentication, admission,
//! validation and the store exactly as kubectl's requests do — only the
//! TCP connection is skipped.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::{Stream, StreamExt};
use kubelab_api::ResourceInfo;
use kubelab_api::registry;
use serde_json::{Value, json};
use tower::ServiceExt;

/// An error answer from the API server (a `Status`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

impl ApiError {
    /// 400 Bad Request, e.g. a kubelet refusing an exec into a stopped container.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 400,
            reason: "BadRequest".into(),
            message: message.into(),
        }
    }
    /// 500: something broke on the serving side.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 500,
            reason: "InternalError".into(),
            message: message.into(),
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    pub fn is_conflict(&self) -> bool {
        self.code == 409
    }
    pub fn is_gone(&self) -> bool {
        self.code == 410
    }
    /// A create of a name that is taken (also a 409, with its own reason).
    pub fn is_already_exists(&self) -> bool {
        self.reason == "AlreadyExists"
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

/// One event of a watch.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub kind: String,
    pub object: Value,
}

#[derive(Clone)]
pub struct Client {
    transport: Transport,
    token: Option<String>,
    /// Who is asking, as the `User-Agent` upstream components send.
    agent: String,
    /// What it accepts: JSON objects, or only their metadata.
    accept: &'static str,
}

/// What client-go's metadata client sends: the server answers lists with a
/// `PartialObjectMetadataList` and watches with `PartialObjectMetadata`.
pub const ACCEPT_METADATA: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// How requests reach the API server: its router, in this process, or
/// the network ([`crate::remote`]).
#[derive(Clone)]
enum Transport {
    Local(axum::Router),
    Remote(std::sync::Arc<crate::remote::Remote>),
}

impl Client {
    pub fn new(router: axum::Router, token: Option<String>) -> Client {
        Client {
            transport: Transport::Local(router),
            token: token.filter(|t| !t.is_empty()),
            agent: "kubelab".into(),
            accept: "application/json",
        }
    }

    /// A client of an API server in another process (or on another
    /// machine), over HTTP(S): `server` is its URL, `ca_pem` the CA that
    /// signed its serving certificate.
    pub fn remote(
        server: &str,
        ca_pem: Option<&str>,
        token: Option<String>,
    ) -> anyhow::Result<Client> {
        let remote = crate::remote::Remote::new(server, ca_pem)?;
        Ok(Client {
            transport: Transport::Remote(std::sync::Arc::new(remote)),
            token: token.filter(|t| !t.is_empty()),
            agent: "kubelab".into(),
            accept: "application/json",
        })
    }

    /// The bearer token this client sends.
    pub fn bearer_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The cluster CA a remote client trusts (from its kubeconfig).
    pub fn ca_pem(&self) -> Option<String> {
        match &self.transport {
            Transport::Remote(r) => r.ca_pem.clone(),
            _ => None,
        }
    }

    /// A remote client from a kubeconfig's current context.
    pub fn from_kubeconfig(path: &std::path::Path) -> anyhow::Result<Client> {
        let k = crate::remote::KubeConfig::load(path)?;
        Client::remote(&k.server, k.ca_pem.as_deref(), k.token)
    }

    /// The same client, asking for objects' metadata only (client-go's
    /// metadata client): lists and watches carry no `spec` or `status`,
    /// which is all a garbage collector needs, at a fraction of the cost.
    pub fn metadata_only(&self) -> Client {
        Client {
            accept: ACCEPT_METADATA,
            ..self.clone()
        }
    }

    /// The same client, introducing itself as `agent` (e.g. `kube-scheduler`).
    pub fn named(&self, agent: &str) -> Client {
        Client {
            agent: agent.to_string(),
            ..self.clone()
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<axum::response::Response> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("user-agent", &self.agent)
            .header("accept", self.accept);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", content_type);
                Body::from(serde_json::to_vec(b).unwrap_or_default())
            }
            None => Body::empty(),
        };
        let req = req.body(body).map_err(|e| ApiError {
            code: 400,
            reason: "BadRequest".into(),
            message: e.to_string(),
        })?;
        let resp = match &self.transport {
            Transport::Local(router) => {
                router.clone().oneshot(req).await.map_err(|e| ApiError {
                    code: 500,
                    reason: "InternalError".into(),
                    message: e.to_string(),
                })?
            }
            Transport::Remote(remote) => remote.send(req).await.map_err(|e| ApiError {
                code: 503,
                reason: "ServiceUnavailable".into(),
                message: format!("the API server cannot be reached: {e}"),
            })?,
        };
        Ok(resp)
    }

    /// Sends a request and decodes the JSON answer (or the `Status` error).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let resp = self.send(method, path, content_type, body).await?;
        let code = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if code.is_success() {
            return Ok(value);
        }
        Err(error_of(code, &value, &bytes))
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.request(Method::GET, path, "", None).await
    }
    pub async fn create(&self, path: &str, obj: &Value) -> Result<Value> {
        self.request(Method::POST, path, "application/json", Some(obj))
            .await
    }
    pub async fn replace(&self, path: &str, obj: &Value) -> Result<Value> {
        self.request(Method::PUT, path, "application/json", Some(obj))
            .await
    }
    /// Creates `obj` in the collection `list`, or replaces the object of
    /// that name if there is one: for objects kubelab owns outright (the
    /// `kubernetes` and `kube-dns` Endpoints), rewritten on every start.
    pub async fn create_or_replace(&self, list: &str, obj: &Value) -> Result<Value> {
        match self.create(list, obj).await {
            Err(e) if e.is_already_exists() => {
                let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                self.replace(&format!("{list}/{name}"), obj).await
            }
            other => other,
        }
    }
    /// A JSON merge patch (RFC 7386).
    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Value> {
        self.request(
            Method::PATCH,
            path,
            "application/merge-patch+json",
            Some(patch),
        )
        .await
    }
    pub async fn delete(&self, path: &str, options: &Value) -> Result<Value> {
        self.request(Method::DELETE, path, "application/json", Some(options))
            .await
    }

    /// Watches `path` (a collection URL with any selectors in its query)
    /// from `resource_version`. The stream ends when the server ends it.
    pub async fn watch(
        &self,
        path: &str,
        resource_version: &str,
    ) -> Result<impl Stream<Item = WatchEvent> + Send + use<>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{path}{sep}watch=true&allowWatchBookmarks=true&resourceVersion={resource_version}&timeoutSeconds={}",
            // Like client-go: end each watch after a while and start
            // another, so that no connection lives forever.
            300 + rand::random::<u64>() % 300
        );
        let resp = self.send(Method::GET, &url, "", None).await?;
        let code = resp.status();
        if !code.is_success() {
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(error_of(code, &value, &bytes));
        }
        // The body is one JSON event per line.
        let mut pending: Vec<u8> = Vec::new();
        let stream = resp
            .into_body()
            .into_data_stream()
            .map(move |chunk| {
                let mut events = Vec::new();
                if let Ok(chunk) = chunk {
                    pending.extend_from_slice(&chunk);
                    while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=nl).collect();
                        if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                            events.push(WatchEvent {
                                kind: v["type"].as_str().unwrap_or_default().to_string(),
                                object: v["object"].clone(),
                            });
                        }
                    }
                }
                futures::stream::iter(events)
            })
            .flatten();
        Ok(stream)
    }
}

fn error_of(code: StatusCode, value: &Value, bytes: &[u8]) -> ApiError {
    ApiError {
        code: code.as_u16(),
        reason: value["reason"].as_str().unwrap_or("Unknown").to_string(),
        message: value["message"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).to_string()),
    }
}

/// The URL of a collection (`name = None`) or of one object.
pub fn path(info: &ResourceInfo, namespace: Option<&str>, name: Option<&str>) -> String {
    let mut p = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    if info.namespaced
        && let Some(ns) = namespace
    {
        p.push_str(&format!("/namespaces/{ns}"));
    }
    p.push('/');
    p.push_str(info.plural);
    if let Some(n) = name {
        p.push('/');
        p.push_str(n);
    }
    p
}

/// The resource of a kind, e.g. `resource("apps/v1", "ReplicaSet")`.
pub fn resource(api_version: &str, kind: &str) -> &'static ResourceInfo {
    registry::by_kind(api_version, kind)
        .unwrap_or_else(|| panic!("{api_version} {kind} is not registered"))
}

/// The URL of an existing object.
pub fn object_path(obj: &Value) -> String {
    let info = resource(
        obj["apiVersion"].as_str().unwrap_or_default(),
        obj["kind"].as_str().unwrap_or_default(),
    );
    let ns = obj["metadata"]["namespace"].as_str();
    path(info, ns, obj["metadata"]["name"].as_str())
}

/// Percent-encodes a query parameter value (selectors contain `=` and `,`).
pub fn query_value(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A reference to `obj` as `ownerReferences` and events write it.
pub fn owner_reference(obj: &Value, controller: bool) -> Value {
    json!({
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": controller,
    })
}

/// Retries `f` on conflicts (someone else wrote first), re-reading each time.
pub async fn retry_on_conflict<F, Fut, T>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(5);
    for _ in 0..8 {
        match f().await {
            Err(e) if e.is_conflict() => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
    f().await
}
