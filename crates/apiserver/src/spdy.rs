//! Port-forward's wire protocol: SPDY/3.1 tunnelled through a WebSocket.
//!
//! `kubectl port-forward` predates HTTP/2. It multiplexes connections over
//! SPDY/3.1, and since kubectl 1.31 it carries the SPDY bytes inside the
//! binary messages of a WebSocket (sub-protocol
//! `SPDY/3.1+portforward.k8s.io`) so that proxies which understand only
//! WebSockets let it through. The messages are just a byte pipe: a SPDY
//! frame may span several of them.
//!
//! For every local connection kubectl opens two SPDY streams carrying the
//! same `requestid` header: an `error` stream (we write a message there if
//! the pod's port cannot be reached) and a `data` stream (the bytes). We
//! answer each `SYN_STREAM` with a `SYN_REPLY`, connect to the port inside
//! the pod, and copy bytes both ways. SPDY compresses header blocks with
//! zlib primed with a fixed dictionary ([`dictionary`]), one zlib stream
//! per direction for the whole connection.
//!
//! Only the parts of SPDY that kubectl uses are here: `SYN_STREAM`,
//! `SYN_REPLY`, `RST_STREAM`, `PING`, `GOAWAY`, and data frames.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::streaming::NodeStreams;

/// The WebSocket sub-protocol kubectl asks for.
pub const PORT_FORWARD_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;

/// The zlib dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00, section
/// 2.6.10.1): common header names, each with a 4-byte big-endian length,
/// then a run of common values without lengths. Both ends must use it
/// byte for byte, or header blocks cannot be decompressed.
pub fn dictionary() -> Vec<u8> {
    const NAMES: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const VALUES: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
        "501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
        "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
        "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut d = Vec::with_capacity(1423);
    for n in NAMES {
        d.extend_from_slice(&(n.len() as u32).to_be_bytes());
        d.extend_from_slice(n.as_bytes());
    }
    d.extend_from_slice(VALUES.as_bytes());
    d
}

/// One direction's header compression state.
struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
    dictionary: Vec<u8>,
}

impl HeaderCodec {
    fn new() -> Self {
        let dictionary = dictionary();
        let mut deflate = Compress::new(Compression::default(), true);
        let _ = deflate.set_dictionary(&dictionary);
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate,
            dictionary,
        }
    }

    /// Decompresses one header block (a sync-flushed piece of the stream).
    fn decode(&mut self, mut input: &[u8]) -> Result<HashMap<String, String>, String> {
        let mut out = Vec::with_capacity(input.len() * 4 + 256);
        while !input.is_empty() {
            let before = self.inflate.total_in();
            out.reserve(4096);
            let res = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            input = &input[(self.inflate.total_in() - before) as usize..];
            match res {
                Ok(Status::BufError) if out.len() < out.capacity() => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&self.dictionary)
                        .map_err(|e| format!("SPDY header dictionary: {e}"))?;
                }
                Err(e) => return Err(format!("SPDY header block: {e}")),
            }
        }
        let mut headers = HashMap::new();
        let mut p = Parser(&out);
        let count = p.u32()?;
        for _ in 0..count {
            let n = p.u32()? as usize;
            let name = String::from_utf8_lossy(p.take(n)?).to_lowercase();
            let n = p.u32()? as usize;
            let value = String::from_utf8_lossy(p.take(n)?).to_string();
            headers.insert(name, value);
        }
        Ok(headers)
    }

    /// Compresses an (empty or small) header block.
    fn encode(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (k, v) in headers {
            raw.extend_from_slice(&(k.len() as u32).to_be_bytes());
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(&(v.len() as u32).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = raw.as_slice();
        loop {
            let before = self.deflate.total_in();
            out.reserve(256);
            let _ = self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::Sync);
            input = &input[(self.deflate.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        out
    }
}

struct Parser<'a>(&'a [u8]);

impl<'a> Parser<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated SPDY header block".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// What the connection's writer sends.
enum Out {
    SynReply(u32),
    Data(u32, Bytes, bool),
    Ping(Vec<u8>),
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&[0x80, 0x03]);
    f.extend_from_slice(&kind.to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

fn data(stream: u32, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.push(if fin { FLAG_FIN } else { 0 });
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

/// Serves one `kubectl port-forward` connection until kubectl hangs up.
pub async fn serve_port_forward(socket: WebSocket, node: Arc<dyn NodeStreams>, pod: Value) {
    let (mut sink, mut incoming) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(256);
    let mut codec_out = HeaderCodec::new();
    let writer = tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            let frame = match o {
                Out::SynReply(id) => {
                    let mut p = (id & 0x7fff_ffff).to_be_bytes().to_vec();
                    p.extend(codec_out.encode(&[]));
                    control(SYN_REPLY, 0, &p)
                }
                Out::Data(id, bytes, fin) => data(id, fin, &bytes),
                Out::Ping(p) => control(PING, 0, &p),
            };
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut codec_in = HeaderCodec::new();
    let mut buf: Vec<u8> = Vec::new();
    // requestid → the error stream's id; data stream id → its input pipe.
    let mut error_streams: HashMap<String, u32> = HashMap::new();
    let mut data_streams: HashMap<u32, mpsc::UnboundedSender<Option<Bytes>>> = HashMap::new();
    'conn: while let Some(Ok(msg)) = incoming.next().await {
        match msg {
            Message::Binary(b) => buf.extend_from_slice(&b),
            Message::Close(_) => break,
            _ => continue,
        }
        // Every complete frame in the buffer.
        while buf.len() >= 8 {
            let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
            if buf.len() < 8 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..8 + len).collect();
            let (head, payload) = frame.split_at(8);
            let flags = head[4];
            if head[0] & 0x80 == 0 {
                let id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
                if let Some(pipe) = data_streams.get(&id) {
                    if !payload.is_empty() {
                        let _ = pipe.send(Some(Bytes::copy_from_slice(payload)));
                    }
                    if flags & FLAG_FIN != 0 {
                        let _ = pipe.send(None);
                    }
                }
                continue;
            }
            match u16::from_be_bytes([head[2], head[3]]) {
                SYN_STREAM if payload.len() >= 10 => {
                    let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & 0x7fff_ffff;
                    let headers = match codec_in.decode(&payload[10..]) {
                        Ok(h) => h,
                        Err(e) => {
                            tracing::warn!("port-forward: {e}");
                            break 'conn;
                        }
                    };
                    let _ = out_tx.send(Out::SynReply(id)).await;
                    let request = headers.get("requestid").cloned().unwrap_or_default();
                    match headers.get("streamtype").map(String::as_str) {
                        Some("error") => {
                            error_streams.insert(request, id);
                        }
                        Some("data") => {
                            let (in_tx, in_rx) = mpsc::unbounded_channel();
                            data_streams.insert(id, in_tx);
                            let port = headers.get("port").and_then(|p| p.parse::<u16>().ok());
                            tokio::spawn(forward(
                                node.clone(),
                                pod.clone(),
                                port,
                                id,
                                error_streams.get(&request).copied(),
                                in_rx,
                                out_tx.clone(),
                            ));
                        }
                        _ => {}
                    }
                }
                RST_STREAM if payload.len() >= 4 => {
                    let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & 0x7fff_ffff;
                    if let Some(pipe) = data_streams.remove(&id) {
                        let _ = pipe.send(None);
                    }
                }
                PING => {
                    let _ = out_tx.send(Out::Ping(payload.to_vec())).await;
                }
                GOAWAY => break 'conn,
                _ => {} // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do.
            }
        }
    }
    for (_, pipe) in data_streams.drain() {
        let _ = pipe.send(None);
    }
    drop(out_tx);
    let _ = writer.await;
}

/// One forwarded connection: pod port ⇄ SPDY data stream.
async fn forward(
    node: Arc<dyn NodeStreams>,
    pod: Value,
    port: Option<u16>,
    data_id: u32,
    error_id: Option<u32>,
    mut input: mpsc::UnboundedReceiver<Option<Bytes>>,
    out: mpsc::Sender<Out>,
) {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let conn = match port {
        None => Err("invalid or missing port header".to_string()),
        Some(p) => node.port_forward(&pod, p).await.map_err(|e| e.message),
    };
    let result = match conn {
        Err(e) => Err(e),
        Ok(conn) => {
            let (mut r, mut w) = tokio::io::split(conn);
            let up = async {
                while let Some(Some(chunk)) = input.recv().await {
                    if w.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = w.shutdown().await;
            };
            let down = async {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let chunk = Bytes::copy_from_slice(&buf[..n]);
                            if out.send(Out::Data(data_id, chunk, false)).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                // The pod closed its side: say so at once (a half-close), so
                // kubectl closes the local connection and a client that
                // reads until EOF (HTTP/1.0) gets it — not only once the
                // client stops sending too.
                let _ = out.send(Out::Data(data_id, Bytes::new(), true)).await;
            };
            tokio::join!(up, down);
            Ok(())
        }
    };
    if let (Err(e), Some(err_id)) = (&result, error_id) {
        let msg = format!(
            "error forwarding port {} to pod {pod_name}: {e}",
            port.unwrap_or(0)
        );
        let _ = out.send(Out::Data(err_id, Bytes::from(msg), false)).await;
    }
    if result.is_err() {
        let _ = out.send(Out::Data(data_id, Bytes::new(), true)).await;
    }
    if let Some(err_id) = error_id {
        let _ = out.send(Out::Data(err_id, Bytes::new(), true)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert!(d.starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(d.ends_with(b",utf-,*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_across_several_blocks() {
        let mut a = HeaderCodec::new();
        let mut b = HeaderCodec::new();
        for n in 0..3 {
            let port = format!("80{n}");
            let block = a.encode(&[("streamtype", "data"), ("port", &port)]);
            let h = b.decode(&block).unwrap();
            assert_eq!(h["streamtype"], "data");
            assert_eq!(h["port"], port);
        }
    }

    #[test]
    fn frames_have_spdy3_headers() {
        let f = control(SYN_REPLY, 0, &[0, 0, 0, 1]);
        assert_eq!(&f[..8], &[0x80, 3, 0, 2, 0, 0, 0, 4]);
        let d = data(3, true, b"hi");
        assert_eq!(d, [0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i']);
    }
}
