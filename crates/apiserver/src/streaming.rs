//! `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` (chapter 02).
//!
//! The API server does not run containers, so it cannot answer these
//! itself. Upstream it opens a connection to the kubelet of the pod's node
//! (`https://<node>:10250/containerLogs/…`) and relays the bytes. In
//! kubelab the nodes live in the same process, so each kubelet registers a
//! [`NodeStreams`] under its node name ([`NodeConnections`]) and the API
//! server calls it directly — the same relay, without the second hop.
//!
//! The wire protocols are upstream's:
//! * logs: a chunked `text/plain` body (follow = the body never ends);
//! * exec/attach: a WebSocket speaking `v5.channel.k8s.io` (or v4): every
//!   binary message starts with a channel byte — 0 stdin, 1 stdout,
//!   2 stderr, 3 the final status, 4 terminal resize, 255 "close channel";
//! * port-forward: SPDY/3.1 frames inside WebSocket messages ([`crate::spdy`]).

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::request::Query;
use crate::status::ApiError;
pub use kubelab_client::streams::{
    ExecRequest, LogRequest, NodeConnections, NodeStreams, PortStream, Session,
};

/// The container a request means: `?container=`, or the pod's only one,
/// or the one named by the `kubectl.kubernetes.io/default-container`
/// annotation; else upstream's error listing the choices.
pub fn pick_container(pod: &Value, query: &Query) -> Result<String, ApiError> {
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let list = |k: &str| -> Vec<&str> {
        pod["spec"][k]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default()
    };
    let (init, ephemeral) = (list("initContainers"), list("ephemeralContainers"));
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(c) = query.get("container").filter(|c| !c.is_empty()) {
        if names.contains(&c) || init.contains(&c) || ephemeral.contains(&c) {
            return Ok(c.to_string());
        }
        return Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        )));
    }
    if let Some(d) =
        pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as_str()
        && names.contains(&d)
    {
        return Ok(d.to_string());
    }
    match names.as_slice() {
        [one] => Ok(one.to_string()),
        _ => {
            let mut choices = format!("choose one of: [{}]", names.join(" "));
            if !init.is_empty() {
                choices += &format!(" or one of the init containers: [{}]", init.join(" "));
            }
            if !ephemeral.is_empty() {
                choices += &format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                );
            }
            Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, {choices}"
            )))
        }
    }
}

/// The statuses of every container of the pod: app, init and ephemeral.
fn all_statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .into_iter()
    .filter_map(|k| pod["status"][k].as_array())
    .flatten()
}

/// Upstream refuses logs of a container that never started with
/// `container "x" in pod "y" is waiting to start: <reason>`.
fn check_started(pod: &Value, container: &str, previous: bool) -> Result<(), ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let status = all_statuses(pod).find(|s| s["name"] == container);
    let Some(s) = status else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
        )));
    };
    if previous {
        if s["lastState"]["terminated"].is_null() {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            )));
        }
        return Ok(());
    }
    let started = !s["state"]["running"].is_null()
        || !s["state"]["terminated"].is_null()
        || !s["lastState"]["terminated"].is_null();
    if !started {
        let reason = s["state"]["waiting"]["reason"]
            .as_str()
            .unwrap_or("ContainerCreating");
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        )));
    }
    Ok(())
}

/// `GET pods/x/log`.
pub async fn logs(
    nodes: &NodeConnections,
    pod: &Value,
    query: &Query,
) -> Result<Response, ApiError> {
    let container = pick_container(pod, query)?;
    let req = LogRequest {
        previous: query.flag("previous"),
        follow: query.flag("follow"),
        timestamps: query.flag("timestamps"),
        tail_lines: query.number("tailLines")?,
        since_seconds: query.number("sinceSeconds")?,
        limit_bytes: query.number("limitBytes")?,
        container,
    };
    check_started(pod, &req.container, req.previous)?;
    let stream = nodes.for_pod(pod)?.logs(pod, req).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(Body::from_stream(stream.map(Ok::<_, std::io::Error>)))
        .unwrap())
}

/// The WebSocket sub-protocols we speak for exec and attach, best first.
const CHANNEL_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// `GET pods/x/exec` and `pods/x/attach` with a WebSocket upgrade.
pub async fn exec(
    nodes: &NodeConnections,
    pod: &Value,
    query: &Query,
    ws: Option<WebSocketUpgrade>,
    attach: bool,
) -> Result<Response, ApiError> {
    let Some(ws) = ws else {
        // kubectl then retries with SPDY, which kubelab does not speak;
        // say so plainly (kubectl ≥ 1.30 uses WebSockets by default).
        return Err(ApiError::bad_request(
            "Upgrade request required: kubelab serves exec and attach over WebSockets \
             (v5.channel.k8s.io or v4.channel.k8s.io), not SPDY",
        ));
    };
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot {} a container in a completed pod; current phase is {phase}",
            if attach { "attach" } else { "exec into" }
        )));
    }
    let container = pick_container(pod, query)?;
    let req = ExecRequest {
        command: query.all("command"),
        stdin: query.flag("stdin"),
        stdout: query.get("stdout").is_none_or(|v| v == "true" || v == "1"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
        container,
    };
    if !attach && req.command.is_empty() {
        return Err(ApiError::bad_request(
            "you must specify at least one command for the container",
        ));
    }
    let running = all_statuses(pod)
        .any(|s| s["name"] == req.container.as_str() && !s["state"]["running"].is_null());
    if !running {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{}\") in pod {pod_name}: it is not running",
            req.container
        )));
    }
    let node = nodes.for_pod(pod)?;
    let session = if attach {
        node.attach(pod, req).await?
    } else {
        node.exec(pod, req).await?
    };
    let ws = ws.protocols(CHANNEL_PROTOCOLS);
    let v5 = ws
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == CHANNEL_PROTOCOLS[0].as_bytes());
    Ok(ws
        .on_upgrade(move |socket| relay_session(socket, session, v5))
        .into_response())
}

/// Copies a session to and from the WebSocket until the command ends.
async fn relay_session(socket: WebSocket, session: Session, v5: bool) {
    let (mut sink, mut incoming) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    let Session {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
    } = session;

    // Output: one task per stream, each message prefixed with its channel.
    let mut readers = Vec::new();
    for (channel, stream) in [(1u8, stdout), (2u8, stderr)] {
        let Some(mut stream) = stream else { continue };
        let tx = out_tx.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stream.read(&mut buf[1..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf[0] = channel;
                        if tx
                            .send(Message::Binary(Bytes::copy_from_slice(&buf[..=n])))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        }));
    }
    // Input: stdin and resize messages from the client. Reading the socket
    // also answers its pings (kubectl's read deadline depends on pongs).
    let input = tokio::spawn(async move {
        let mut stdin = stdin;
        while let Some(Ok(msg)) = incoming.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            match data.split_first() {
                Some((0, rest)) => {
                    if let Some(w) = stdin.as_mut()
                        && w.write_all(rest).await.is_err()
                    {
                        stdin = None;
                    }
                    if let Some(w) = stdin.as_mut() {
                        let _ = w.flush().await;
                    }
                }
                Some((4, rest)) => {
                    if let (Some(r), Ok(size)) = (&resize, serde_json::from_slice::<Value>(rest)) {
                        r(
                            size["Width"].as_u64().unwrap_or(80) as u16,
                            size["Height"].as_u64().unwrap_or(24) as u16,
                        );
                    }
                }
                // v5: [255, 0] = the client closed stdin (Ctrl-D / EOF).
                Some((255, [0])) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || close {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let code = exit.await;
    for r in readers {
        let _ = r.await;
    }
    let status = match code {
        Ok(0) => json!({"metadata": {}, "status": "Success"}),
        Ok(n) => json!({
            "metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command, exit status {n}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": n.to_string()}]},
        }),
        Err(why) => {
            json!({"metadata": {}, "status": "Failure", "message": why, "reason": "InternalError"})
        }
    };
    let mut msg = vec![3u8];
    msg.extend_from_slice(status.to_string().as_bytes());
    let _ = out_tx.send(Message::Binary(msg.into())).await;
    let _ = v5; // v4 and v5 end the same way: the status, then a close frame.
    let _ = out_tx
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    drop(out_tx);
    let _ = writer.await;
    input.abort();
}

/// `GET pods/x/portforward` with a WebSocket upgrade speaking SPDY inside.
pub async fn port_forward(
    nodes: &NodeConnections,
    pod: &Value,
    ws: Option<WebSocketUpgrade>,
) -> Result<Response, ApiError> {
    let Some(ws) = ws else {
        return Err(ApiError::bad_request(
            "Upgrade request required: kubelab serves port-forward over WebSockets \
             (SPDY/3.1+portforward.k8s.io)",
        ));
    };
    if pod["status"]["phase"] != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to forward port because pod is not running. Current status={}",
            pod["status"]["phase"].as_str().unwrap_or("Pending")
        )));
    }
    let node = nodes.for_pod(pod)?;
    let pod = pod.clone();
    let ws = ws.protocols([crate::spdy::PORT_FORWARD_PROTOCOL]);
    Ok(ws
        .on_upgrade(move |socket| crate::spdy::serve_port_forward(socket, node, pod))
        .into_response())
}
