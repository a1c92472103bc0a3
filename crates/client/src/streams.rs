//! What a kubelet serves to the API server: `pods/log`, `exec`, `attach`
//! and `portforward` (chapter 02).
//!
//! Upstream the API server opens a connection to the kubelet of the pod's
//! node (`https://<node>:10250/containerLogs/…`) and relays the bytes. In
//! kubelab the nodes live in the same process, so each kubelet registers a
//! [`NodeStreams`] under its node name ([`NodeConnections`]) and the API
//! server calls it directly — the same relay, without the second hop.
//!
//! A node in another process (`kubelab node`) is reached over the network
//! instead ([`crate::kubelet_api`]): the second hop, as upstream.
//!
//! These types sit in the client crate because both sides need them: the
//! API server (chapter 01) calls them, the kubelet (chapter 02) implements
//! them, and neither depends on the other — as upstream, where the two only
//! share the kubelet's HTTP API.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::rest::ApiError;

/// What `kubectl logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    pub container: String,
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<u64>,
    pub timestamps: bool,
    pub since_seconds: Option<u64>,
    pub limit_bytes: Option<u64>,
}

/// What `kubectl exec` / `attach` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub container: String,
    /// Empty for attach.
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// A running exec or attach: its streams and, at the end, its exit code.
pub struct Session {
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    pub stdout: Option<Pin<Box<dyn AsyncRead + Send>>>,
    pub stderr: Option<Pin<Box<dyn AsyncRead + Send>>>,
    pub resize: Option<Arc<dyn Fn(u16, u16) + Send + Sync>>,
    /// The exit code, or why the command could not run.
    pub exit: Pin<Box<dyn Future<Output = Result<i32, String>> + Send>>,
}

/// A byte stream to a port inside a pod.
pub trait PortStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> PortStream for T {}

/// What a kubelet serves to the API server (upstream: the kubelet's
/// `/containerLogs`, `/exec`, `/attach`, `/portForward` endpoints).
#[async_trait::async_trait]
pub trait NodeStreams: Send + Sync {
    async fn logs(
        &self,
        pod: &Value,
        req: LogRequest,
    ) -> Result<BoxStream<'static, Bytes>, ApiError>;
    async fn exec(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError>;
    async fn attach(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError>;
    async fn port_forward(&self, pod: &Value, port: u16) -> Result<Box<dyn PortStream>, ApiError>;
}

/// The kubelets the API server can reach, by node name: those in this
/// process, and — when nodes run as processes of their own (`kubelab
/// node`) — any other, over the network ([`crate::kubelet_api`]).
#[derive(Clone, Default)]
pub struct NodeConnections {
    local: Arc<RwLock<HashMap<String, Arc<dyn NodeStreams>>>>,
    remote: Arc<RwLock<Option<RemoteNodes>>>,
}

type RemoteNodes = Arc<dyn Fn(&str) -> Arc<dyn NodeStreams> + Send + Sync>;

impl NodeConnections {
    pub fn register(&self, node: &str, streams: Arc<dyn NodeStreams>) {
        self.local
            .write()
            .unwrap()
            .insert(node.to_string(), streams);
    }
    pub fn unregister(&self, node: &str) {
        self.local.write().unwrap().remove(node);
    }
    /// How to reach a node that is not in this process.
    pub fn set_remote(
        &self,
        remote: impl Fn(&str) -> Arc<dyn NodeStreams> + Send + Sync + 'static,
    ) {
        *self.remote.write().unwrap() = Some(Arc::new(remote));
    }
    /// The kubelet of the pod's node.
    pub fn for_pod(&self, pod: &Value) -> Result<Arc<dyn NodeStreams>, ApiError> {
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        if let Some(local) = self.local.read().unwrap().get(node) {
            return Ok(local.clone());
        }
        match &*self.remote.read().unwrap() {
            Some(remote) if !node.is_empty() => Ok(remote(node)),
            _ => Err(ApiError::bad_request(format!(
                "pod {} is not running on a node kubelab can reach (node {node:?})",
                pod["metadata"]["name"].as_str().unwrap_or_default()
            ))),
        }
    }
}
