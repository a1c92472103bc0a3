//! Running one probe or hook handler: `exec`, `httpGet`, `tcpSocket`,
//! `grpc` (and `sleep`, for hooks), with upstream's outputs.
//!
//! The kubelet reaches the pod the way upstream's does: HTTP, TCP and gRPC
//! go to the pod's IP (or the handler's `host`), on a socket made inside
//! the pod's network namespace ([`Runtime::connect`]); `exec` runs the
//! command inside the container ([`Runtime::exec`]), as `kubectl exec`
//! does.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use kubelab_runtime::Runtime;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Outputs are cut at 10 KiB, as upstream's.
const MAX_OUTPUT: usize = 10 * 1024;

/// What one attempt gave: success, or failure with upstream's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure(String),
}

/// Where a handler runs: the container and its pod.
pub struct Target<'a> {
    pub runtime: &'a Arc<dyn Runtime>,
    pub sandbox: &'a str,
    /// The container's runtime id (for `exec`).
    pub id: &'a str,
    /// The container's spec (named ports).
    pub container: &'a Value,
    /// The pod's IP: the default host.
    pub pod_ip: Option<IpAddr>,
    /// `kube-probe/1.33` or `kube-lifecycle/1.33`.
    pub user_agent: &'a str,
}

/// The handler kinds of a probe, in the order validation checks them.
pub const PROBE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];

/// Runs the handler of `probe` (a probe or a lifecycle handler) with
/// `timeout`.
pub async fn run(handler: &Value, target: &Target<'_>, timeout: Duration) -> Outcome {
    if let Some(cmd) = handler["exec"]["command"].as_array() {
        let argv: Vec<String> = cmd
            .iter()
            .map(|a| a.as_str().unwrap_or_default().to_string())
            .collect();
        return exec(&argv, target, timeout).await;
    }
    let result = if handler["httpGet"].is_object() {
        http_get(&handler["httpGet"], target, timeout).await
    } else if handler["tcpSocket"].is_object() {
        let addr = address(&handler["tcpSocket"], target);
        match addr {
            Ok(addr) => match target.runtime.connect(target.sandbox, addr, timeout).await {
                Ok(_) => Ok(()),
                Err(e) => Err(dial_error(addr, &e)),
            },
            Err(e) => Err(e),
        }
    } else if handler["grpc"].is_object() {
        grpc(&handler["grpc"], target, timeout).await
    } else if let Some(secs) = handler["sleep"]["seconds"].as_u64() {
        tokio::time::sleep(Duration::from_secs(secs).min(timeout)).await;
        match Duration::from_secs(secs) <= timeout {
            true => Ok(()),
            false => Err("container terminated before sleep hook finished".into()),
        }
    } else {
        Err("no handler".into())
    };
    match result {
        Ok(()) => Outcome::Success,
        Err(e) => Outcome::Failure(e),
    }
}

/// Runs `argv` in the container; exit 0 is success, the combined output
/// is the message.
async fn exec(argv: &[String], target: &Target<'_>, timeout: Duration) -> Outcome {
    match exec_output(argv, target, timeout).await {
        Ok((0, _)) => Outcome::Success,
        Ok((_, output)) => Outcome::Failure(output),
        Err(e) => Outcome::Failure(e),
    }
}

/// Runs `argv` in the container: its exit code and combined output (at
/// most 10 KiB), or why it could not run or did not finish in time.
pub async fn exec_output(
    argv: &[String],
    target: &Target<'_>,
    timeout: Duration,
) -> Result<(i32, String), String> {
    let run = async {
        let mut p = target
            .runtime
            .exec(target.id, argv, false, false)
            .await
            .map_err(|e| e.to_string())?;
        // Read everything (a command blocked on a full pipe would never
        // exit) and keep the first 10 KiB.
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = read_capped(&mut p.stdout, &mut out);
        let read_err = async {
            if let Some(e) = p.stderr.as_mut() {
                read_capped(e, &mut err).await;
            }
        };
        let ((), ()) = tokio::join!(read_out, read_err);
        let code = (&mut p.exit).await;
        out.extend(err);
        out.truncate(MAX_OUTPUT);
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    };
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| Err(format!("command {:?} timed out", argv.join(" "))))
}

/// Reads `r` to its end, keeping the first [`MAX_OUTPUT`] bytes.
async fn read_capped(r: &mut (impl tokio::io::AsyncRead + Unpin), into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(into.len());
        into.extend_from_slice(&buf[..n.min(room)]);
    }
}

/// The port of a handler: a number, or the name of one of the
/// container's ports.
fn port(handler: &Value, container: &Value) -> Result<u16, String> {
    match &handler["port"] {
        Value::Number(n) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("invalid port number: {n}")),
        Value::String(s) => {
            if let Ok(n) = s.parse::<u16>() {
                return Ok(n);
            }
            container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == s.as_str())
                .and_then(|p| p["containerPort"].as_u64())
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("couldn't find port: {s} in {}", container["name"]))
        }
        _ => Err("no port".into()),
    }
}

fn address(handler: &Value, target: &Target<'_>) -> Result<SocketAddr, String> {
    let port = port(handler, target.container)?;
    let host = match handler["host"].as_str().filter(|h| !h.is_empty()) {
        Some(h) => h
            .parse::<IpAddr>()
            .map_err(|_| format!("kubelab probes take an IP address as host, not {h:?}"))?,
        None => target.pod_ip.ok_or("the pod has no IP address yet")?,
    };
    Ok(SocketAddr::new(host, port))
}

/// Go's words for a failed dial, which upstream's outputs carry.
fn dial_error(addr: SocketAddr, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "i/o timeout".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {addr}: {why}")
}

/// `GET scheme://host:port/path`; 200..=399 is success.
async fn http_get(h: &Value, target: &Target<'_>, timeout: Duration) -> Result<(), String> {
    let addr = address(h, target)?;
    let path = h["path"].as_str().filter(|p| !p.is_empty()).unwrap_or("/");
    let scheme = h["scheme"].as_str().unwrap_or("HTTP").to_lowercase();
    let url = format!("{scheme}://{addr}{path}");
    if scheme != "http" {
        // Simplification (the book says so): no TLS in kubelab's prober.
        return Err(format!("Get {url:?}: kubelab probes speak plain HTTP only"));
    }
    let mut headers = vec![
        ("Host".to_string(), addr.to_string()),
        ("User-Agent".to_string(), target.user_agent.to_string()),
        ("Accept".to_string(), "*/*".to_string()),
    ];
    for hd in h["httpHeaders"].as_array().into_iter().flatten() {
        let name = hd["name"].as_str().unwrap_or_default().to_string();
        let value = hd["value"].as_str().unwrap_or_default().to_string();
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(slot) => slot.1 = value,
            None => headers.push((name, value)),
        }
    }
    let request = async {
        let mut s = target
            .runtime
            .connect(target.sandbox, addr, timeout)
            .await
            .map_err(|e| format!("Get {url:?}: {}", dial_error(addr, &e)))?;
        let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
        for (n, v) in headers.iter().filter(|(_, v)| !v.is_empty()) {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_OUTPUT {
            let n = s
                .read(&mut buf)
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
            if n == 0 {
                return Err(format!("Get {url:?}: EOF"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        line.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("Get {url:?}: malformed HTTP response"))
    };
    let code = tokio::time::timeout(timeout, request).await.map_err(|_| {
        format!("Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    })??;
    match code {
        200..=399 => Ok(()),
        _ => Err(format!("HTTP probe failed with statuscode: {code}")),
    }
}

/// The gRPC health-checking protocol (`grpc.health.v1.Health/Check`) over
/// HTTP/2, with the request and response encoded by hand: both are
/// one-field protobuf messages.
async fn grpc(g: &Value, target: &Target<'_>, timeout: Duration) -> Result<(), String> {
    let addr = address(g, target)?;
    let service = g["service"].as_str().unwrap_or_default();
    let secs = timeout.as_secs().max(1);
    let stream = target
        .runtime
        .connect(target.sandbox, addr, timeout)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => format!(
                "timeout: failed to connect service \"{addr}\" within {secs}s: context deadline exceeded"
            ),
            _ => format!(
                "error: failed to connect service at \"{addr}\": {}",
                dial_error(addr, &e)
            ),
        })?;
    let rpc = async {
        let (client, conn) = h2::client::handshake(stream)
            .await
            .map_err(|e| format!("error: failed to connect service at \"{addr}\": {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.map_err(|e| e.to_string())?;
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/grpc.health.v1.Health/Check"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("user-agent", target.user_agent)
            .body(())
            .map_err(|e| e.to_string())?;
        let (response, mut send) = client
            .send_request(req, false)
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        // HealthCheckRequest { string service = 1; }, length-prefixed.
        let mut msg = Vec::new();
        if !service.is_empty() {
            msg.push(0x0a);
            let mut len = service.len();
            while len >= 0x80 {
                msg.push((len as u8 & 0x7f) | 0x80); // a varint, 7 bits at a time
                len >>= 7;
            }
            msg.push(len as u8);
            msg.extend_from_slice(service.as_bytes());
        }
        let mut frame = vec![0u8];
        frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        frame.extend_from_slice(&msg);
        send.send_data(bytes::Bytes::from(frame), true)
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        let response = response
            .await
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        let status_of = |h: &http::HeaderMap| {
            h.get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let mut grpc_status = status_of(response.headers());
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| format!("error: health rpc probe failed: {e}"))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        if let Ok(Some(trailers)) = body.trailers().await {
            grpc_status = grpc_status.or(status_of(&trailers));
        }
        match grpc_status.as_deref() {
            Some("0") | None => {}
            Some("12") => {
                return Err(
                    "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health".to_string(),
                );
            }
            Some(code) => {
                return Err(format!(
                    "error: health rpc probe failed: grpc-status {code}"
                ));
            }
        }
        // HealthCheckResponse { ServingStatus status = 1; } (SERVING = 1).
        let status = match data.get(5..) {
            Some([0x08, s, ..]) => *s,
            _ => 0,
        };
        match status {
            1 => Ok(()),
            s => {
                let name = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]
                    .get(s as usize)
                    .unwrap_or(&"UNKNOWN");
                Err(format!("service unhealthy (responded with \"{name}\")"))
            }
        }
    };
    tokio::time::timeout(timeout, rpc)
        .await
        .map_err(|_| format!("timeout: health rpc did not complete within {secs}s"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_named_port_is_looked_up_in_the_container() {
        let c = json!({"name": "web", "ports": [{"name": "http", "containerPort": 8080}]});
        assert_eq!(port(&json!({"port": "http"}), &c), Ok(8080));
        assert_eq!(port(&json!({"port": 9090}), &c), Ok(9090));
        assert_eq!(
            port(&json!({"port": "admin"}), &c),
            Err("couldn't find port: admin in \"web\"".into())
        );
    }

    /// A gRPC health server on loopback, answering `status` to every check.
    async fn health_server(status: u8) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut conn = h2::server::handshake(s).await.unwrap();
                    while let Some(Ok((req, mut respond))) = conn.accept().await {
                        assert_eq!(req.uri().path(), "/grpc.health.v1.Health/Check");
                        let resp = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        let body = vec![0, 0, 0, 0, 2, 0x08, status];
                        send.send_data(bytes::Bytes::from(body), false).unwrap();
                        let mut t = http::HeaderMap::new();
                        t.insert("grpc-status", "0".parse().unwrap());
                        send.send_trailers(t).unwrap();
                    }
                });
            }
        });
        addr
    }

    fn runtime() -> Arc<dyn Runtime> {
        let dir = tempfile::tempdir().unwrap();
        let images = kubelab_runtime::ImageStore::open(dir.path().join("images")).unwrap();
        Arc::new(kubelab_runtime::fake::FakeRuntime::new(images))
    }

    #[tokio::test]
    async fn grpc_health_checks_tell_serving_from_not_serving() {
        let rt = runtime();
        let c = json!({"name": "g"});
        for (status, want) in [
            (1, Outcome::Success),
            (
                2,
                Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into()),
            ),
        ] {
            let addr = health_server(status).await;
            let target = Target {
                runtime: &rt,
                sandbox: "s",
                id: "c",
                container: &c,
                pod_ip: Some(addr.ip()),
                user_agent: "kube-probe/1.33",
            };
            let probe = json!({"grpc": {"port": addr.port()}});
            assert_eq!(run(&probe, &target, Duration::from_secs(2)).await, want);
        }
    }

    #[tokio::test]
    async fn the_demo_health_server_speaks_enough_http2_for_the_probe() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || kubelab_demo::grpc_health::serve(l));
        let rt = runtime();
        let c = json!({"name": "health"});
        let target = Target {
            runtime: &rt,
            sandbox: "s",
            id: "c",
            container: &c,
            pod_ip: Some(addr.ip()),
            user_agent: "kube-probe/1.33",
        };
        let probe = json!({"grpc": {"port": addr.port(), "service": "x".repeat(200)}});
        // SERVING unless /tmp/not-serving exists (this test does not create it).
        let want = match std::path::Path::new("/tmp/not-serving").exists() {
            true => Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into()),
            false => Outcome::Success,
        };
        assert_eq!(run(&probe, &target, Duration::from_secs(2)).await, want);
    }

    #[tokio::test]
    async fn http_and_tcp_failures_read_like_upstreams() {
        let rt = runtime();
        let c = json!({"name": "web"});
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let target = Target {
            runtime: &rt,
            sandbox: "s",
            id: "c",
            container: &c,
            pod_ip: Some("127.0.0.1".parse().unwrap()),
            user_agent: "kube-probe/1.33",
        };
        let tcp = json!({"tcpSocket": {"port": port}});
        assert_eq!(
            run(&tcp, &target, Duration::from_secs(1)).await,
            Outcome::Failure(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
        let http = json!({"httpGet": {"path": "/healthz", "port": port}});
        assert_eq!(
            run(&http, &target, Duration::from_secs(1)).await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
        // A server answering 500, then one answering 200.
        for (code, want) in [
            (
                500,
                Outcome::Failure("HTTP probe failed with statuscode: 500".into()),
            ),
            (200, Outcome::Success),
        ] {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(req.contains("User-Agent: kube-probe/1.33"), "{req}");
                let _ = s
                    .write_all(format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            });
            let http = json!({"httpGet": {"path": "/", "port": port}});
            assert_eq!(run(&http, &target, Duration::from_secs(1)).await, want);
        }
    }
}
