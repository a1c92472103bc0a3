//! What the kubelet serves to the API server: container logs, exec,
//! attach and port-forward (upstream: the kubelet's HTTPS endpoints on
//! port 10250; here a [`NodeStreams`] the API server calls in-process).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use kubelab_client::ApiError;
use kubelab_client::streams::{ExecRequest, LogRequest, NodeStreams, PortStream, Session};
use kubelab_runtime::ContainerState;
use kubelab_runtime::container::parse_log_line;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::Kubelet;

pub struct KubeletStreams(pub Arc<Kubelet>);

fn key(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        pod["metadata"]["name"].as_str().unwrap_or_default()
    )
}

impl KubeletStreams {
    /// The runtime id of a container of `pod` (current or previous).
    fn container_id(&self, pod: &Value, name: &str, previous: bool) -> Result<String, ApiError> {
        let state = self.0.state.lock().unwrap();
        let rec = state
            .get(&key(pod))
            .filter(|r| pod["metadata"]["uid"] == r.uid.as_str())
            .and_then(|r| r.containers.get(name));
        let id = rec.and_then(|c| {
            if previous {
                c.previous_id.clone()
            } else {
                c.id.clone()
            }
        });
        id.ok_or_else(|| {
            ApiError::bad_request(if previous {
                format!(
                    "previous terminated container \"{name}\" in pod \"{}\" not found",
                    pod["metadata"]["name"].as_str().unwrap_or_default()
                )
            } else {
                format!(
                    "container \"{name}\" in pod \"{}\" is not available",
                    pod["metadata"]["name"].as_str().unwrap_or_default()
                )
            })
        })
    }

    async fn running(&self, id: &str) -> bool {
        matches!(
            self.0
                .config
                .runtime
                .container_status(id)
                .await
                .map(|s| s.state),
            Ok(ContainerState::Running { .. }) | Ok(ContainerState::Created)
        )
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Formats one CRI log line for the reader: the content, with the
/// timestamp in front if asked for.
fn render(line: &[u8], timestamps: bool) -> Option<(String, Vec<u8>, String)> {
    let e = parse_log_line(line)?;
    let mut out = Vec::new();
    if timestamps {
        out.extend_from_slice(e.timestamp.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&e.content);
    Some((e.stream, out, e.timestamp))
}

/// The runtime logs long or unfinished lines in pieces (tag `P`, then the
/// final piece `F`); `--tail` counts whole lines, so glue pieces back
/// together (keeping the first piece's timestamp).
fn join_partial(entries: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open = false;
    for e in entries {
        let partial = e.splitn(4, |b| *b == b' ').nth(2) == Some(b"P");
        if open && let Some(last) = out.last_mut() {
            // Append this piece's content to the open line.
            let content = e
                .splitn(4, |b| *b == b' ')
                .nth(3)
                .unwrap_or_default()
                .to_vec();
            last.extend_from_slice(&content);
            if !partial {
                // Mark the whole line as final.
                if let Some(pos) = find_tag(last) {
                    last[pos] = b'F';
                }
            }
        } else {
            out.push(e);
        }
        open = partial;
    }
    out
}

/// Where the `P`/`F` tag of a CRI log line is.
fn find_tag(line: &[u8]) -> Option<usize> {
    let first = line.iter().position(|b| *b == b' ')?;
    let second = first + 1 + line[first + 1..].iter().position(|b| *b == b' ')?;
    Some(second + 1)
}

/// Splits complete lines off the front of `buf`.
fn take_lines(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
        let mut l: Vec<u8> = buf.drain(..=nl).collect();
        l.pop();
        lines.push(l);
    }
    lines
}

#[async_trait::async_trait]
impl NodeStreams for KubeletStreams {
    // ANCHOR: logs
    async fn logs(
        &self,
        pod: &Value,
        req: LogRequest,
    ) -> Result<BoxStream<'static, Bytes>, ApiError> {
        let id = self.container_id(pod, &req.container, req.previous)?;
        let status = self
            .0
            .config
            .runtime
            .container_status(&id)
            .await
            .map_err(internal)?;
        let path: PathBuf = status.log_path.clone();
        let kubelet = self.0.clone();
        let (mut tx, rx) = futures::channel::mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            let Ok(mut file) = tokio::fs::File::open(&path).await else {
                return;
            };
            let mut all = Vec::new();
            let _ = file.read_to_end(&mut all).await;
            let mut lines = join_partial(take_lines(&mut all));
            let mut pending = all; // a partly written last line
            // --since: by timestamp; --tail: the last N lines.
            if let Some(s) = req.since_seconds {
                let cutoff = chrono::Utc::now() - chrono::Duration::seconds(s as i64);
                lines.retain(|l| {
                    parse_log_line(l)
                        .and_then(|e| chrono::DateTime::parse_from_rfc3339(&e.timestamp).ok())
                        .is_none_or(|t| t >= cutoff)
                });
            }
            if let Some(n) = req.tail_lines {
                let skip = lines.len().saturating_sub(n as usize);
                lines.drain(..skip);
            }
            let mut budget = req.limit_bytes.unwrap_or(u64::MAX);
            let send = |chunk: Vec<u8>, budget: &mut u64| {
                let n = (chunk.len() as u64).min(*budget) as usize;
                *budget -= n as u64;
                Bytes::copy_from_slice(&chunk[..n])
            };
            for l in lines {
                if let Some((_, out, _)) = render(&l, req.timestamps) {
                    let b = send(out, &mut budget);
                    if tx.send(b).await.is_err() || budget == 0 {
                        return;
                    }
                }
            }
            if !req.follow {
                return;
            }
            // -f: keep reading as the log grows, until the container ends
            // (and its last words are read) or the client goes away.
            loop {
                let mut more = Vec::new();
                let _ = file.read_to_end(&mut more).await;
                if more.is_empty() {
                    let done = !matches!(
                        kubelet
                            .config
                            .runtime
                            .container_status(&id)
                            .await
                            .map(|s| s.state),
                        Ok(ContainerState::Running { .. }) | Ok(ContainerState::Created)
                    );
                    if done {
                        // One last read: the shim may have written after our read.
                        let _ = file.read_to_end(&mut more).await;
                        if more.is_empty() {
                            return;
                        }
                    } else {
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                pending.extend_from_slice(&more);
                for l in take_lines(&mut pending) {
                    if let Some((_, out, _)) = render(&l, req.timestamps) {
                        let b = send(out, &mut budget);
                        if tx.send(b).await.is_err() || budget == 0 {
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx.boxed())
    }
    // ANCHOR_END: logs

    async fn exec(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError> {
        let id = self.container_id(pod, &req.container, false)?;
        let p = self
            .0
            .config
            .runtime
            .exec(&id, &req.command, req.tty, req.stdin)
            .await
            .map_err(|e| ApiError::bad_request(format!("unable to start exec: {e}")))?;
        Ok(Session {
            stdin: p.stdin,
            stdout: Some(p.stdout),
            stderr: p.stderr,
            resize: p.resize,
            exit: Box::pin(async move { Ok(p.exit.await) }),
        })
    }

    async fn attach(&self, pod: &Value, req: ExecRequest) -> Result<Session, ApiError> {
        let id = self.container_id(pod, &req.container, false)?;
        let rt = self.0.config.runtime.clone();
        let status = rt.container_status(&id).await.map_err(internal)?;
        // Output: what the container writes from now on, read from its log.
        // The log is opened and its end found before stdin is handed over:
        // what the container answers to the first input must not fall
        // before the point the reader starts from.
        let mut file = tokio::fs::File::open(&status.log_path)
            .await
            .map_err(internal)?;
        file.seek(std::io::SeekFrom::End(0))
            .await
            .map_err(internal)?;
        let stdin = if req.stdin {
            Some(
                rt.attach_stdin(&id)
                    .await
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            )
        } else {
            None
        };
        let (out_w, out_r) = tokio::io::duplex(64 * 1024);
        let (err_w, err_r) = tokio::io::duplex(64 * 1024);
        let me = KubeletStreams(self.0.clone());
        let id2 = id.clone();
        tokio::spawn(async move {
            let (mut out_w, mut err_w) = (out_w, err_w);
            let mut pending = Vec::new();
            loop {
                // Alive first, then read: a container that had stopped
                // before the read has all its output in the log by then.
                let alive = me.running(&id2).await;
                let mut more = Vec::new();
                let _ = file.read_to_end(&mut more).await;
                pending.extend_from_slice(&more);
                for l in take_lines(&mut pending) {
                    if let Some(e) = parse_log_line(&l) {
                        let w = if e.stream == "stderr" {
                            &mut err_w
                        } else {
                            &mut out_w
                        };
                        if w.write_all(&e.content).await.is_err() {
                            return;
                        }
                    }
                }
                if more.is_empty() && !alive {
                    return;
                }
                if more.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        let me = KubeletStreams(self.0.clone());
        Ok(Session {
            stdin,
            stdout: Some(Box::pin(out_r)),
            stderr: if req.tty { None } else { Some(Box::pin(err_r)) },
            resize: None,
            exit: Box::pin(async move {
                loop {
                    match rt.container_status(&id).await.map(|s| s.state) {
                        Ok(ContainerState::Exited { exit_code, .. }) => return Ok(exit_code),
                        Err(e) => return Err(e.to_string()),
                        _ => {}
                    }
                    let _ = &me;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }),
        })
    }

    async fn port_forward(&self, pod: &Value, port: u16) -> Result<Box<dyn PortStream>, ApiError> {
        let sandbox = {
            let state = self.0.state.lock().unwrap();
            state
                .get(&key(pod))
                .filter(|r| pod["metadata"]["uid"] == r.uid.as_str())
                .and_then(|r| r.sandbox.clone())
        }
        .ok_or_else(|| ApiError::bad_request("the pod has no sandbox on this node"))?;
        let s = self
            .0
            .config
            .runtime
            .port_forward(&sandbox, port)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Box::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_entries_join_into_one_line() {
        let entries = vec![
            b"2026-01-01T00:00:00Z stdout P listening on".to_vec(),
            b"2026-01-01T00:00:01Z stdout F  :8080".to_vec(),
            b"2026-01-01T00:00:02Z stdout F next".to_vec(),
        ];
        let joined = join_partial(entries);
        assert_eq!(joined.len(), 2);
        let first = parse_log_line(&joined[0]).unwrap();
        assert_eq!(first.content, b"listening on :8080\n");
        assert_eq!(first.timestamp, "2026-01-01T00:00:00Z");
    }
}
