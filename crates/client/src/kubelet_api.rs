//! The kubelet's API over the network: how the API server reaches the
//! kubelet of a node that runs in another process (`kubelab node`), for
//! `kubectl logs`, `exec`, `attach` and `port-forward`.
//!
//! Upstream, kube-apiserver opens `https://<node>:10250/containerLogs/…`
//! (or `/exec/…` with a SPDY or WebSocket upgrade) on the kubelet and
//! relays the bytes to kubectl. kubelab does the same hop with a protocol
//! of its own, small enough to read in one sitting:
//!
//! 1. TLS to the node's `InternalIP`, port 10250 (the port the Node
//!    object announces in `status.daemonEndpoints`).
//! 2. `POST /kubelab/v1/{logs|exec|attach|portforward}` with a bearer
//!    token and a JSON body `{"pod": <the pod>, "request": {…}}`. Sending
//!    the pod spares the kubelet a lookup: it checks the pod's uid against
//!    what it runs.
//! 3. Logs: `200` and the log bytes until the connection closes. Exec and
//!    attach: `101 Switching Protocols`, then frames in both directions —
//!    one byte of channel, four of length, the bytes — like the
//!    `v5.channel.k8s.io` WebSocket frames kubectl speaks to the API
//!    server: 0 stdin, 1 stdout, 2 stderr, 3 the exit (JSON), 4 a terminal
//!    resize (JSON), 5 stdin closed. Port-forward: `101`, then the raw
//!    byte stream to the pod's port. An error is its HTTP code with a JSON
//!    `Status`-like body.
//!
//! **Simplifications.** The kubelet presents a self-signed certificate that
//! the API server does not verify — upstream's default too, unless
//! `--kubelet-certificate-authority` is given. The kubelet accepts the
//! credential of its own kubeconfig, which the API server also holds;
//! upstream's kubelet authenticates the API server's client certificate
//! and authorizes with a SubjectAccessReview.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::remote::InsecureSkipVerify;
use crate::rest::ApiError;
use crate::streams::{ExecRequest, LogRequest, NodeStreams, PortStream, Session};

/// The kubelet's port, as upstream.
pub const KUBELET_PORT: u16 = 10250;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;
const STDIN_CLOSED: u8 = 5;

trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

async fn write_frame(
    w: &mut (impl AsyncWrite + Unpin),
    channel: u8,
    data: &[u8],
) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(5 + data.len());
    frame.push(channel);
    frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame).await
}

async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 16 << 20 {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut data = vec![0; len];
    r.read_exact(&mut data).await?;
    Ok((head[0], data))
}

/// Reads an HTTP/1.1 head byte by byte (so nothing after it is consumed):
/// the first line and the headers, lower-cased.
async fn read_head(
    r: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut raw = Vec::new();
    let mut b = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if raw.len() > 64 * 1024 {
            return Err(std::io::Error::other("header too large"));
        }
        r.read_exact(&mut b).await?;
        raw.push(b[0]);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((first, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn error_body(e: &ApiError) -> Vec<u8> {
    json!({"code": e.code, "reason": e.reason, "message": e.message})
        .to_string()
        .into_bytes()
}

// ---- the kubelet's side ---------------------------------------------------------------

// ANCHOR: serve
/// Serves one connection from the API server with the node's `streams`,
/// for requests that carry `token`.
pub async fn serve(
    mut conn: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
    token: &str,
    streams: Arc<dyn NodeStreams>,
) {
    let Ok((first, headers)) = read_head(&mut conn).await else {
        return;
    };
    let path = first.split(' ').nth(1).unwrap_or_default().to_string();
    let len: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(8 << 20)];
    if conn.read_exact(&mut body).await.is_err() {
        return;
    }
    if header(&headers, "authorization") != Some(&format!("Bearer {token}")) {
        let e = ApiError {
            code: 401,
            reason: "Unauthorized".into(),
            message: "Unauthorized".into(),
        };
        return refuse(&mut conn, &e).await;
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let e = ApiError::bad_request(format!("kubelet API: {e}"));
            return refuse(&mut conn, &e).await;
        }
    };
    let (pod, req) = (&body["pod"], &body["request"]);
    let flag = |k: &str| req[k].as_bool().unwrap_or(false);
    let num = |k: &str| req[k].as_u64();
    let str_of = |k: &str| req[k].as_str().unwrap_or_default().to_string();
    let exec_req = || ExecRequest {
        container: str_of("container"),
        command: req["command"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect(),
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
        tty: flag("tty"),
    };
    match path.as_str() {
        "/kubelab/v1/logs" => {
            let lr = LogRequest {
                container: str_of("container"),
                follow: flag("follow"),
                previous: flag("previous"),
                tail_lines: num("tail_lines"),
                timestamps: flag("timestamps"),
                since_seconds: num("since_seconds"),
                limit_bytes: num("limit_bytes"),
            };
            match streams.logs(pod, lr).await {
                Ok(mut logs) => {
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    while let Some(chunk) = logs.next().await {
                        if conn.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    let _ = conn.shutdown().await;
                }
                Err(e) => refuse(&mut conn, &e).await,
            }
        }
        "/kubelab/v1/exec" | "/kubelab/v1/attach" => {
            let session = if path.ends_with("exec") {
                streams.exec(pod, exec_req()).await
            } else {
                streams.attach(pod, exec_req()).await
            };
            match session {
                Ok(s) => {
                    if switch(&mut conn).await.is_ok() {
                        pump_session(conn, s).await;
                    }
                }
                Err(e) => refuse(&mut conn, &e).await,
            }
        }
        "/kubelab/v1/portforward" => {
            let port = num("port").unwrap_or(0) as u16;
            match streams.port_forward(pod, port).await {
                Ok(mut target) => {
                    if switch(&mut conn).await.is_ok() {
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut target).await;
                    }
                }
                Err(e) => refuse(&mut conn, &e).await,
            }
        }
        _ => {
            refuse(
                &mut conn,
                &ApiError {
                    code: 404,
                    reason: "NotFound".into(),
                    message: format!("the kubelet serves no {path}"),
                },
            )
            .await
        }
    }
}
// ANCHOR_END: serve

async fn refuse(conn: &mut (impl AsyncWrite + Unpin), e: &ApiError) {
    let body = error_body(e);
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        e.code,
        e.reason,
        body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(&body).await;
    let _ = conn.shutdown().await;
}

async fn switch(conn: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
    conn.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: kubelab-streams\r\nConnection: Upgrade\r\n\r\n")
        .await
}

/// Moves a local exec session's bytes over the connection, as frames.
async fn pump_session(conn: impl AsyncRead + AsyncWrite + Send + Unpin + 'static, s: Session) {
    let (mut rd, wr) = tokio::io::split(conn);
    let wr = Arc::new(tokio::sync::Mutex::new(wr));
    // API server → container: stdin and resizes.
    let (mut stdin, resize) = (s.stdin, s.resize);
    let inbound = tokio::spawn(async move {
        while let Ok((channel, data)) = read_frame(&mut rd).await {
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut()
                        && w.write_all(&data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                STDIN_CLOSED => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                RESIZE => {
                    let size: Value = serde_json::from_slice(&data).unwrap_or_default();
                    if let (Some(f), Some(w), Some(h)) =
                        (&resize, size["width"].as_u64(), size["height"].as_u64())
                    {
                        f(w as u16, h as u16);
                    }
                }
                _ => {}
            }
        }
    });
    // Container → API server: stdout and stderr, then the exit.
    let copy = |src: Option<Pin<Box<dyn AsyncRead + Send>>>, channel: u8| {
        let wr = wr.clone();
        async move {
            let Some(mut src) = src else { return };
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = src.read(&mut buf).await {
                if n == 0
                    || write_frame(&mut *wr.lock().await, channel, &buf[..n])
                        .await
                        .is_err()
                {
                    return;
                }
            }
        }
    };
    futures::join!(copy(s.stdout, STDOUT), copy(s.stderr, STDERR));
    let exit = match s.exit.await {
        Ok(code) => json!({"code": code}),
        Err(why) => json!({"error": why}),
    };
    let mut w = wr.lock().await;
    let _ = write_frame(&mut *w, EXIT, exit.to_string().as_bytes()).await;
    let _ = w.shutdown().await;
    inbound.abort();
}

// ---- the API server's side -------------------------------------------------------------

/// How the API server finds a node's kubelet: its address, from the Node.
pub type Locate = Arc<
    dyn Fn(String) -> futures::future::BoxFuture<'static, Result<std::net::SocketAddr, ApiError>>
        + Send
        + Sync,
>;

/// A kubelet in another process, reached over TLS.
pub struct RemoteKubelet {
    pub node: String,
    pub locate: Locate,
    pub token: String,
}

/// The TLS settings for every kubelet connection, made once: the kubelet's
/// certificate is self-signed and not verified (upstream's default without
/// `--kubelet-certificate-authority`).
fn kubelet_tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(InsecureSkipVerify(provider)))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

impl RemoteKubelet {
    /// Connects, sends the request, reads the answer's head; an error
    /// answer becomes its ApiError.
    async fn open(
        &self,
        what: &str,
        pod: &Value,
        request: Value,
    ) -> Result<(u16, Box<dyn Conn>), ApiError> {
        let unreachable = |e: String| ApiError {
            code: 502,
            reason: "BadGateway".into(),
            message: format!("the kubelet of node {:?}: {e}", self.node),
        };
        let addr = (self.locate)(self.node.clone()).await?;
        let tcp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .map_err(|_| unreachable(format!("connecting to {addr}: timed out")))?
        .map_err(|e| unreachable(format!("connecting to {addr}: {e}")))?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let mut tls = tokio_rustls::TlsConnector::from(kubelet_tls())
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let body = json!({"pod": pod, "request": request}).to_string();
        let head = format!(
            "POST /kubelab/v1/{what} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: kubelab-streams\r\n\r\n",
            self.token,
            body.len()
        );
        let io = |e: std::io::Error| unreachable(e.to_string());
        tls.write_all(head.as_bytes()).await.map_err(io)?;
        tls.write_all(body.as_bytes()).await.map_err(io)?;
        let (first, headers) = read_head(&mut tls).await.map_err(io)?;
        let status: u16 = first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status == 200 || status == 101 {
            return Ok((status, Box::new(tls)));
        }
        let len: usize = header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut raw = vec![0; len.min(1 << 20)];
        let _ = tls.read_exact(&mut raw).await;
        let v: Value = serde_json::from_slice(&raw).unwrap_or_default();
        Err(ApiError {
            code: status,
            reason: v["reason"].as_str().unwrap_or("InternalError").into(),
            message: v["message"].as_str().unwrap_or(&first).into(),
        })
    }

    async fn session(
        &self,
        what: &str,
        pod: &Value,
        req: ExecRequest,
    ) -> Result<Session, ApiError> {
        let request = json!({
            "container": req.container, "command": req.command, "stdin": req.stdin,
            "stdout": req.stdout, "stderr": req.stderr, "tty": req.tty,
        });
        let (_, conn) = self.open(what, pod, request).await?;
        let (mut rd, mut wr) = tokio::io::split(conn);
        // The session's ends, as pipes; one task moves frames to and fro.
        let (stdin_near, mut stdin_far) = tokio::io::duplex(64 * 1024);
        let (mut stdout_far, stdout_near) = tokio::io::duplex(64 * 1024);
        let (mut stderr_far, stderr_near) = tokio::io::duplex(64 * 1024);
        let (resize_tx, mut resize_rx) = mpsc::unbounded_channel::<(u16, u16)>();
        let (exit_tx, exit_rx) = oneshot::channel::<Result<i32, String>>();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            let mut stdin_open = true;
            loop {
                tokio::select! {
                    n = stdin_far.read(&mut buf), if stdin_open => match n {
                        Ok(0) | Err(_) => {
                            stdin_open = false;
                            let _ = write_frame(&mut wr, STDIN_CLOSED, &[]).await;
                        }
                        Ok(n) => { let _ = write_frame(&mut wr, STDIN, &buf[..n]).await; }
                    },
                    Some((w, h)) = resize_rx.recv() => {
                        let size = json!({"width": w, "height": h}).to_string();
                        let _ = write_frame(&mut wr, RESIZE, size.as_bytes()).await;
                    }
                    frame = read_frame(&mut rd) => match frame {
                        Ok((STDOUT, data)) => { let _ = stdout_far.write_all(&data).await; }
                        Ok((STDERR, data)) => { let _ = stderr_far.write_all(&data).await; }
                        Ok((EXIT, data)) => {
                            let v: Value = serde_json::from_slice(&data).unwrap_or_default();
                            let exit = match v["code"].as_i64() {
                                Some(c) => Ok(c as i32),
                                None => Err(v["error"].as_str().unwrap_or("the kubelet did not say").to_string()),
                            };
                            let _ = exit_tx.send(exit);
                            return;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = exit_tx.send(Err(format!("the connection to the kubelet broke: {e}")));
                            return;
                        }
                    },
                }
            }
        });
        let stdin: Option<Pin<Box<dyn AsyncWrite + Send>>> = req
            .stdin
            .then(|| Box::pin(stdin_near) as Pin<Box<dyn AsyncWrite + Send>>);
        Ok(Session {
            stdin,
            stdout: req
                .stdout
                .then(|| Box::pin(stdout_near) as Pin<Box<dyn AsyncRead + Send>>),
            stderr: (req.stderr && !req.tty)
                .then(|| Box::pin(stderr_near) as Pin<Box<dyn AsyncRead + Send>>),
            resize: req.tty.then(|| {
                Arc::new(move |w: u16, h: u16| {
                    let _ = resize_tx.send((w, h));
                }) as Arc<dyn Fn(u16, u16) + Send + Sync>
            }),
            exit: Box::pin(async move {
                exit_rx
                    .await
                    .unwrap_or_else(|_| Err("the connection to the kubelet broke".into()))
            }),
        })
    }
}

#[async_trait::async_trait]
impl NodeStreams for RemoteKubelet {
    async fn logs(
        &self,
        pod: &Value,
        req: LogRequest,
    ) -> Result<BoxStream<'static, Bytes>, ApiError> {
        let request = json!({
            "container": req.container, "follow": req.follow, "previous": req.previous,
            "tail_lines": req.tail_lines, "timestamps": req.timestamps,
            "since_seconds": req.since_seconds, "limit_bytes": req.limit_bytes,
        });
        let (_, conn) = self.open("logs", pod, request).await?;
        let stream = futures::stream::unfold(conn, |mut conn| async move {
            let mut buf = vec![0u8; 16 * 1024];
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Bytes::from(buf), conn))
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn exec(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError> {
        self.session("exec", pod, req).await
    }

    async fn attach(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError> {
        self.session("attach", pod, req).await
    }

    async fn port_forward(&self, pod: &Value, port: u16) -> Result<Box<dyn PortStream>, ApiError> {
        let (_, conn) = self.open("portforward", pod, json!({"port": port})).await?;
        Ok(Box::new(conn))
    }
}
