//! The same [`Store`] over a real etcd cluster (`--store etcd://…`).
//!
//! kube-apiserver talks to etcd's v3 API over gRPC. etcd also serves that
//! very API as JSON over HTTP/1.1 (its "gRPC gateway": `POST /v3/kv/range`,
//! `/v3/kv/txn`, `/v3/watch` …, with keys and values in base64 and 64-bit
//! numbers as strings). kubelab uses the gateway: no protobuf compiler, no
//! gRPC stack, and every request can be read with `curl`. The calls and
//! their meaning are the ones kube-apiserver makes:
//!
//! | [`Store`] method | etcd request |
//! |---|---|
//! | `get`, `range` | `Range` (with `revision` and `limit`) |
//! | `create` | `Txn`: if `create_revision == 0` then `Put` else `Range` |
//! | `update`, `delete` with a resourceVersion | `Txn`: if `mod_revision == R` then `Put`/`DeleteRange` else `Range` |
//! | `watch` | `Watch` from `after + 1`, with `prev_kv` |
//! | `compact` | `Compaction` |
//!
//! The revision *is* etcd's revision, so resourceVersions are etcd's, and so
//! is compaction. An optional path names a key prefix
//! (`etcd://h1:2379,h2:2379/team-a`), like kube-apiserver's `--etcd-prefix`:
//! several clusters (or tests) can share one etcd.
//!
//! **Several members.** The URL lists every member. A request goes to the
//! member that answered last; when it cannot be reached, or has no leader for
//! a moment (after a member died), the next one is tried, for up to
//! [`RETRY_FOR`]. A watch whose stream breaks is reopened on another member
//! from the revision after the last event it delivered, so it loses nothing
//! and repeats nothing.
//!
//! **Simplifications.** Plain HTTP only (no client certificates). A write
//! whose connection breaks after it was sent is retried on another member,
//! as gRPC clients do for a broken stream; if the first member had applied
//! it, a create then answers "already exists".

use std::io::{ErrorKind, Read, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::mvcc::{Pending, Watch};
use crate::{Error, Event, EventType, KeyValue, RangeRequest, RangeResponse, Store, Write};

/// How long a request keeps trying other members before it gives up.
pub const RETRY_FOR: Duration = Duration::from_secs(10);
/// Writes are sent by this many threads, each with its own connection, so
/// that concurrent writes reach etcd together (etcd batches them).
const WRITERS: usize = 16;
/// A request whose answer does not start within this is given up on.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a watch stream with nothing to say checks that its watcher
/// is still there (the thread ends when it is not).
const WATCH_POLL: Duration = Duration::from_secs(1);
/// Events a watcher may have waiting before it is closed, as in `mvcc`.
const WATCH_BUFFER: usize = 4096;

/// A [`Store`] kept in an etcd cluster.
pub struct EtcdStore {
    shared: Arc<Shared>,
    writes: Mutex<std_mpsc::Sender<Job>>,
}

struct Shared {
    endpoints: Vec<String>,
    prefix: Vec<u8>,
    /// The member that answered last: requests start there.
    preferred: AtomicUsize,
    /// Idle keep-alive connections, with the member each one goes to.
    idle: Mutex<Vec<(usize, Conn)>>,
    /// The highest revision any answer carried.
    revision: AtomicU64,
    /// The highest compaction this client made or was told about.
    compacted: AtomicU64,
}

struct Job {
    key: Vec<u8>,
    write: Write,
    done: oneshot::Sender<Result<KeyValue, Error>>,
}

/// `etcd://h1:2379,h2:2379[/prefix]` → members and key prefix.
pub fn parse_url(url: &str) -> Result<(Vec<String>, Vec<u8>), Error> {
    let bad = |why: &str| Error::Backend(format!("--store {url:?}: {why}"));
    let rest = url
        .strip_prefix("etcd://")
        .ok_or_else(|| bad("expected etcd://host:port[,host:port…][/prefix]"))?;
    let (hosts, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let mut endpoints = Vec::new();
    for h in hosts.split(',') {
        let h = h.trim();
        match h.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                endpoints.push(h.to_string())
            }
            _ => return Err(bad(&format!("{h:?} is not host:port"))),
        }
    }
    Ok((endpoints, prefix.as_bytes().to_vec()))
}

impl EtcdStore {
    /// Connects to the cluster at `url` and checks that a member answers.
    pub fn connect(url: &str) -> Result<EtcdStore, Error> {
        let (endpoints, prefix) = parse_url(url)?;
        let shared = Arc::new(Shared {
            endpoints,
            prefix,
            preferred: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            revision: AtomicU64::new(0),
            compacted: AtomicU64::new(0),
        });
        shared.header_revision()?;
        let (tx, rx) = std_mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WRITERS {
            let (shared, rx) = (shared.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("etcd-writer-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock().unwrap().recv() {
                            Ok(job) => job,
                            Err(_) => return, // the store was dropped
                        };
                        let answer = shared.write(&job.key, job.write);
                        let _ = job.done.send(answer);
                    }
                })
                .map_err(|e| Error::Backend(format!("starting etcd writers: {e}")))?;
        }
        Ok(EtcdStore {
            shared,
            writes: Mutex::new(tx),
        })
    }

    /// The members this store talks to.
    pub fn endpoints(&self) -> &[String] {
        &self.shared.endpoints
    }
}

/// Runs a blocking etcd call. Called from a task of a multi-threaded tokio
/// runtime (the API server's handlers), it tells tokio first, so the other
/// tasks move to another thread meanwhile.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Store for EtcdStore {
    fn current_revision(&self) -> u64 {
        blocking(|| self.shared.header_revision())
            .unwrap_or_else(|_| self.shared.revision.load(Ordering::SeqCst))
    }

    fn compacted_revision(&self) -> u64 {
        self.shared.compacted.load(Ordering::SeqCst)
    }

    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        let s = &self.shared;
        let answer = blocking(|| s.call("/v3/kv/range", json!({ "key": s.b64_key(key) })))?;
        Ok(s.kvs(&answer)?.into_iter().next())
    }

    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Error> {
        let s = &self.shared;
        let mut body = json!({
            "key": s.b64_key(&req.start),
            "range_end": s.b64_key(&req.end),
        });
        if let Some(r) = req.revision {
            body["revision"] = json!(r.to_string());
        }
        if let Some(l) = req.limit {
            body["limit"] = json!(l.to_string());
        }
        let answer = blocking(|| s.call("/v3/kv/range", body)).map_err(|e| match e {
            Error::Compacted { .. } | Error::FutureRevision { .. } => {
                s.revision_error(&e, req.revision.unwrap_or(0))
            }
            other => other,
        })?;
        let kvs = s.kvs(&answer)?;
        let count = number(&answer["count"]) as usize;
        Ok(RangeResponse {
            remaining: count.saturating_sub(kvs.len()),
            revision: number(&answer["header"]["revision"]),
            kvs,
        })
    }

    fn submit(&self, key: &[u8], write: Write) -> Pending {
        let (done, rx) = oneshot::channel();
        let job = Job {
            key: key.to_vec(),
            write,
            done,
        };
        if self.writes.lock().unwrap().send(job).is_err() {
            return Pending::failed(Error::Backend("the etcd writers stopped".into()));
        }
        Pending::from(rx)
    }

    fn watch(&self, start: &[u8], end: &[u8], after_revision: u64) -> Result<Watch, Error> {
        let s = self.shared.clone();
        // etcd reports a compacted start asynchronously, on the stream; a
        // read at that revision says it at once (and the same way: the
        // compacted revision itself can still be read, and watched from).
        if after_revision > 0 {
            let body = json!({
                "key": s.b64_key(start),
                "revision": after_revision.to_string(),
                "limit": "1",
                "count_only": true,
            });
            blocking(|| s.call("/v3/kv/range", body))
                .map_err(|e| s.revision_error(&e, after_revision))?;
        }
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let range = (start.to_vec(), end.to_vec());
        let stream = blocking(|| s.open_watch(&range, after_revision + 1))?;
        std::thread::Builder::new()
            .name("etcd-watch".into())
            .spawn(move || s.pump_watch(range, stream, after_revision, tx))
            .map_err(|e| Error::Backend(format!("starting a watch: {e}")))?;
        Ok(Watch::from_channel(rx))
    }

    fn compact(&self, revision: u64) -> Result<(), Error> {
        let s = &self.shared;
        let revision = revision.min(self.current_revision());
        if revision <= s.compacted.load(Ordering::SeqCst) {
            return Ok(());
        }
        let body = json!({ "revision": revision.to_string(), "physical": true });
        match blocking(|| s.call("/v3/kv/compaction", body)) {
            // Somebody compacted further already: nothing left to do.
            Ok(_) | Err(Error::Compacted { .. }) => {
                s.compacted.fetch_max(revision, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Shared {
    fn b64_key(&self, key: &[u8]) -> String {
        b64(&[&self.prefix[..], key].concat())
    }

    /// A cheap request whose only use is the revision in its header.
    fn header_revision(&self) -> Result<u64, Error> {
        let body = json!({ "key": b64(b"\0"), "limit": "1", "count_only": true });
        let answer = self.call("/v3/kv/range", body)?;
        Ok(number(&answer["header"]["revision"]))
    }

    /// Fills in the numbers of a revision error from what the request asked.
    fn revision_error(&self, e: &Error, requested: u64) -> Error {
        match e {
            Error::Compacted { .. } => {
                let compacted = self.compacted.fetch_max(requested, Ordering::SeqCst);
                Error::Compacted {
                    requested,
                    compacted: compacted.max(requested),
                }
            }
            Error::FutureRevision { .. } => Error::FutureRevision {
                requested,
                current: self.revision.load(Ordering::SeqCst),
            },
            other => other.clone(),
        }
    }

    fn kvs(&self, answer: &Value) -> Result<Vec<KeyValue>, Error> {
        let Some(list) = answer["kvs"].as_array() else {
            return Ok(Vec::new());
        };
        list.iter().map(|kv| self.key_value(kv)).collect()
    }

    fn key_value(&self, kv: &Value) -> Result<KeyValue, Error> {
        let key = unb64(&kv["key"])?;
        let key = key
            .strip_prefix(&self.prefix[..])
            .ok_or_else(|| Error::Corrupt("etcd returned a key outside the prefix".into()))?
            .to_vec();
        Ok(KeyValue {
            key,
            create_revision: number(&kv["create_revision"]),
            mod_revision: number(&kv["mod_revision"]),
            version: number(&kv["version"]),
            value: unb64(&kv["value"])?,
        })
    }

    // ANCHOR: txn
    /// One write as one etcd transaction: a compare, the write if it holds,
    /// and a read of the key if it does not (to say why).
    fn write(&self, key: &[u8], write: Write) -> Result<KeyValue, Error> {
        let k = self.b64_key(key);
        let (compare, then, expected) = match &write {
            Write::Create(value) => (
                json!({"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}),
                json!({"request_put": {"key": k, "value": b64(value), "prev_kv": true}}),
                None,
            ),
            Write::Update { value, expected } => (
                compare_mod(&k, *expected),
                json!({"request_put": {"key": k, "value": b64(value), "prev_kv": true}}),
                *expected,
            ),
            Write::Delete { expected } => (
                compare_mod(&k, *expected),
                json!({"request_delete_range": {"key": k, "prev_kv": true}}),
                *expected,
            ),
        };
        let txn = json!({
            "compare": [compare],
            "success": [then],
            "failure": [{"request_range": {"key": k}}],
        });
        let answer = self.call("/v3/kv/txn", txn)?;
        let revision = number(&answer["header"]["revision"]);
        let response = &answer["responses"][0];
        if answer["succeeded"].as_bool() != Some(true) {
            // The compare failed: the key exists (create), or is missing or
            // was modified since (update, delete).
            let current = self.kvs(&response["response_range"])?.into_iter().next();
            return Err(match (&write, current, expected) {
                (Write::Create(_), _, _) => Error::AlreadyExists,
                (_, None, _) => Error::NotFound,
                (_, Some(kv), Some(_)) => Error::Conflict {
                    current: kv.mod_revision,
                },
                (_, Some(_), None) => Error::Backend("etcd refused an unconditional write".into()),
            });
        }
        let prev = match &response["response_put"]["prev_kv"] {
            Value::Null => match &response["response_delete_range"]["prev_kvs"][0] {
                Value::Null => None,
                kv => Some(self.key_value(kv)?),
            },
            kv => Some(self.key_value(kv)?),
        };
        match write {
            // A delete answers with what was deleted, as etcd's `prev_kv` does.
            Write::Delete { .. } => prev.ok_or(Error::NotFound),
            Write::Create(value) | Write::Update { value, .. } => Ok(KeyValue {
                key: key.to_vec(),
                create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                mod_revision: revision,
                version: prev.as_ref().map_or(1, |p| p.version + 1),
                value,
            }),
        }
    }
    // ANCHOR_END: txn

    /// Sends one request, trying the members in turn; returns the answer's JSON.
    fn call(&self, path: &str, body: Value) -> Result<Value, Error> {
        let body = body.to_string();
        let (member, answer) = self.on_members(
            |member| self.call_member(member, path, &body),
            |endpoint, why| Error::Backend(format!("etcd is unavailable ({endpoint}: {why})")),
        )?;
        self.preferred.store(member, Ordering::Relaxed);
        self.revision
            .fetch_max(number(&answer["header"]["revision"]), Ordering::SeqCst);
        Ok(answer)
    }

    /// Tries `one` on each member in turn, starting with the one that
    /// answered last, for up to [`RETRY_FOR`]; `give_up` words the last
    /// failure. Returns the member that answered, and its answer.
    fn on_members<T>(
        &self,
        mut one: impl FnMut(usize) -> Result<T, Failure>,
        give_up: impl Fn(&str, String) -> Error,
    ) -> Result<(usize, T), Error> {
        let deadline = Instant::now() + RETRY_FOR;
        let mut attempt = 0;
        loop {
            let member = (self.preferred.load(Ordering::Relaxed) + attempt) % self.endpoints.len();
            attempt += 1;
            match one(member) {
                Ok(answer) => return Ok((member, answer)),
                Err(Failure::Refused(e)) => return Err(e),
                Err(Failure::Unavailable(why)) if Instant::now() > deadline => {
                    return Err(give_up(&self.endpoints[member], why));
                }
                Err(Failure::Unavailable(_)) => {}
            }
            // Once every member was tried, wait a little (a new leader is
            // usually elected within a second).
            if attempt % self.endpoints.len() == 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    fn call_member(&self, member: usize, path: &str, body: &str) -> Result<Value, Failure> {
        let endpoint = &self.endpoints[member];
        let idle = {
            let mut idle = self.idle.lock().unwrap();
            let at = idle.iter().position(|(m, _)| *m == member);
            at.map(|i| idle.swap_remove(i).1)
        };
        let unavailable = |e: std::io::Error| Failure::Unavailable(e.to_string());
        // An idle connection may have been closed by etcd meanwhile: then
        // the request goes once more, on a new one.
        let reused = idle.and_then(|mut c| {
            let answered = c.request(endpoint, path, body).ok()?;
            Some((c, answered))
        });
        let (conn, (status, answer)) = match reused {
            Some(done) => done,
            None => {
                let mut c = Conn::open(endpoint).map_err(unavailable)?;
                let answered = c.request(endpoint, path, body).map_err(unavailable)?;
                (c, answered)
            }
        };
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|e| Failure::Unavailable(format!("unreadable answer: {e}")))?;
        let mut idle = self.idle.lock().unwrap();
        if idle.len() < 4 * WRITERS {
            idle.push((member, conn));
        }
        drop(idle);
        if status == 200 {
            return Ok(answer);
        }
        Err(error_of(status, &answer))
    }

    /// Opens the watch stream for `range` from `start` on some member.
    fn open_watch(&self, range: &(Vec<u8>, Vec<u8>), start: u64) -> Result<WatchStream, Error> {
        let body = json!({"create_request": {
            "key": self.b64_key(&range.0),
            "range_end": self.b64_key(&range.1),
            "start_revision": start.to_string(),
            "prev_kv": true,
        }})
        .to_string();
        let open = |member: usize| {
            let endpoint = &self.endpoints[member];
            let mut c = Conn::open(endpoint)?;
            c.tcp.set_read_timeout(Some(WATCH_POLL))?;
            let since = Instant::now();
            let too_long = || since.elapsed() > READ_TIMEOUT;
            c.send(endpoint, "/v3/watch", &body)?;
            let head = c.head(&too_long)?;
            let mut stream = WatchStream {
                conn: c,
                body: Vec::new(),
            };
            if head.0 != 200 {
                return Err(std::io::Error::other(format!("HTTP {}", head.0)));
            }
            // The first message confirms the watch exists: from here on
            // etcd sends every event after `start`.
            match stream.message(&too_long)? {
                Some(m) if m["result"]["created"].as_bool() == Some(true) => Ok(stream),
                other => Err(std::io::Error::other(format!(
                    "watch not created: {other:?}"
                ))),
            }
        };
        let (_, stream) = self.on_members(
            |member| open(member).map_err(|e| Failure::Unavailable(e.to_string())),
            |_, why| Error::Backend(format!("etcd watch: {why}")),
        )?;
        Ok(stream)
    }

    /// Forwards the stream's events to the watcher until it goes away;
    /// reopens the stream elsewhere when a member fails.
    fn pump_watch(
        &self,
        range: (Vec<u8>, Vec<u8>),
        mut stream: WatchStream,
        mut delivered: u64,
        tx: mpsc::Sender<Event>,
    ) {
        let gone = || tx.is_closed();
        loop {
            match stream.message(&gone) {
                Ok(Some(m)) => {
                    let result = &m["result"];
                    if result["canceled"].as_bool() == Some(true)
                        || number(&result["compact_revision"]) > 0
                    {
                        return; // compacted under us: the watcher re-lists
                    }
                    let Some(events) = result["events"].as_array() else {
                        continue;
                    };
                    for e in events {
                        let Ok(event) = self.event(e) else { return };
                        delivered = event.revision;
                        // A full buffer closes the watch, as in `mvcc`.
                        if tx.try_send(event).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) if gone() => return,
                // The member went away: go on elsewhere, where we stopped.
                Ok(None) | Err(_) => match self.open_watch(&range, delivered + 1) {
                    Ok(s) => stream = s,
                    Err(_) => return,
                },
            }
        }
    }

    fn event(&self, e: &Value) -> Result<Event, Error> {
        let kv = self.key_value(&e["kv"])?;
        let prev = match &e["prev_kv"] {
            Value::Null => None,
            p => Some(self.key_value(p)?),
        };
        let deleted = e["type"].as_str() == Some("DELETE");
        Ok(Event {
            kind: if deleted {
                EventType::Delete
            } else {
                EventType::Put
            },
            revision: kv.mod_revision,
            key: kv.key.clone(),
            kv: (!deleted).then_some(kv),
            prev,
        })
    }
}

fn compare_mod(key: &str, expected: Option<u64>) -> Value {
    match expected {
        Some(r) => {
            json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": r.to_string()})
        }
        // No resourceVersion: the key only has to exist.
        None => {
            json!({"key": key, "target": "CREATE", "result": "GREATER", "create_revision": "0"})
        }
    }
}

enum Failure {
    /// etcd answered and said no: final.
    Refused(Error),
    /// Try another member.
    Unavailable(String),
}

/// etcd's gRPC status, as the gateway reports it, in the store's terms.
fn error_of(status: u16, answer: &Value) -> Failure {
    let message = answer["message"]
        .as_str()
        .or(answer["error"].as_str())
        .unwrap_or("")
        .to_string();
    if message.contains("required revision has been compacted") {
        return Failure::Refused(Error::Compacted {
            requested: 0,
            compacted: 0,
        });
    }
    if message.contains("future revision") {
        return Failure::Refused(Error::FutureRevision {
            requested: 0,
            current: 0,
        });
    }
    // 14 UNAVAILABLE ("no leader", "leader changed"), 4 DEADLINE_EXCEEDED.
    match answer["code"].as_u64() {
        Some(14) | Some(4) => Failure::Unavailable(message),
        _ if status >= 500 && message.contains("leader") => Failure::Unavailable(message),
        _ => Failure::Refused(Error::Backend(format!("etcd: {message} (HTTP {status})"))),
    }
}

/// etcd's JSON carries 64-bit numbers as strings and leaves zeros out.
fn number(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        v => v.as_u64().unwrap_or(0),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .map_err(|e| Error::Corrupt(format!("etcd sent bad base64: {e}")))
}

// ---- HTTP/1.1, as little as the gateway needs ----------------------------------------

struct Conn {
    tcp: TcpStream,
    /// Bytes read but not used yet.
    buf: Vec<u8>,
}

impl Conn {
    fn open(endpoint: &str) -> std::io::Result<Conn> {
        let addr: SocketAddr = endpoint
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Conn {
            tcp,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, host: &str, path: &str, body: &str) -> std::io::Result<()> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.tcp.write_all(req.as_bytes())
    }

    fn request(&mut self, host: &str, path: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        self.send(host, path, body)?;
        // A unary request gives up at the first read timeout.
        let give_up = || true;
        let (status, len) = self.head(&give_up)?;
        let body = match len {
            Some(n) => self.take(n)?,
            None => {
                let mut out = Vec::new();
                while let Some(chunk) = self.chunk(&give_up)? {
                    out.extend(chunk);
                }
                out
            }
        };
        Ok((status, body))
    }

    /// Reads more bytes into `buf`; `Ok(false)` on a read timeout.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut tmp = [0u8; 16 * 1024];
        match self.tcp.read(&mut tmp) {
            Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A line ending in CRLF (without it); `None` if `stop` says so while waiting.
    fn line(&mut self, stop: &dyn Fn() -> bool) -> std::io::Result<Option<String>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(Some(line));
            }
            if !self.fill()? && stop() {
                return Ok(None);
            }
        }
    }

    fn take(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(ErrorKind::TimedOut.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The status line and headers: (status, Content-Length or None if chunked).
    fn head(&mut self, stop: &dyn Fn() -> bool) -> std::io::Result<(u16, Option<usize>)> {
        let status_line = self
            .line(stop)?
            .ok_or_else(|| std::io::Error::from(ErrorKind::TimedOut))?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut len = Some(0);
        while let Some(h) = self.line(stop)? {
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((&h, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                len = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                len = None;
            }
        }
        Ok((status, len))
    }

    /// One chunk of a chunked body; `Ok(None)` at its end (or if `stop`).
    fn chunk(&mut self, stop: &dyn Fn() -> bool) -> std::io::Result<Option<Vec<u8>>> {
        let Some(size) = self.line(stop)? else {
            return Ok(None);
        };
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if size == 0 {
            self.line(stop)?;
            return Ok(None);
        }
        let data = loop {
            if self.buf.len() >= size + 2 {
                break self.buf.drain(..size + 2).take(size).collect();
            }
            if !self.fill()? && stop() {
                return Ok(None);
            }
        };
        Ok(Some(data))
    }
}

/// A watch's response: newline-separated JSON messages in a chunked body.
struct WatchStream {
    conn: Conn,
    body: Vec<u8>,
}

impl WatchStream {
    /// The next message; `Ok(None)` if `stop()` turned true while waiting.
    fn message(&mut self, stop: &dyn Fn() -> bool) -> std::io::Result<Option<Value>> {
        loop {
            if let Some(i) = self.body.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=i).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line)
                    .map(Some)
                    .map_err(std::io::Error::other);
            }
            match self.conn.chunk(stop)? {
                Some(data) => self.body.extend(data),
                None if stop() => return Ok(None),
                None => return Err(ErrorKind::UnexpectedEof.into()),
            }
        }
    }
}
