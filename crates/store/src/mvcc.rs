//! etcd's multi-version model, implemented once over any [`Engine`].
//!
//! ## Layout in the engine's key space
//!
//! ```text
//! l/<revision:u64be> -> the write at that revision (the log): the key, put
//!                       or delete, the key's previous revision, the value
//! k/<key>            -> the key's index entry: its create revision, its
//!                       mod revision (where its value is in the log), version
//! m/revision         -> the last revision
//! m/compacted        -> the last compacted revision
//! m/format           -> the layout's version (this one is 2)
//! ```
//!
//! Every write appends one `l/` record, points the key's `k/` entry at it
//! and bumps `m/revision` in **one atomic, durable batch**, so after a crash
//! the data, the log and the revision can never disagree.
//!
//! As in etcd, a value is written once: the log *is* the data, and the index
//! says which revision of each key is current (etcd's `keyIndex` over its
//! revision-keyed B+tree). A log record names its key's previous revision
//! instead of copying the previous value, so a watch replay or a read of
//! the past follows that link. Reading the past *rolls back*: take the
//! range as it is now and undo, newest first, every write newer than the
//! revision asked for. It works for as long as the log has not been
//! compacted — as in etcd.
//!
//! Compaction forgets the writes at or below a revision except each key's
//! last one there (a later write still links to it, and a read of the past
//! may need it) — etcd's compaction keeps the same revisions.
//!
//! ## Concurrency
//!
//! One *committer* thread does all the writing, as etcd's apply loop does.
//! Writers queue a [`Write`] and get a [`Pending`] back at once; an async
//! caller awaits it without holding a thread, a sync caller waits on it.
//! The committer takes everything queued, decides each write against the
//! current values, and commits the whole group as one durable batch (one
//! fsync for many writes — etcd batches its WAL fsyncs the same way).
//!
//! Nothing becomes visible before it is durable. While a group is being
//! written, its keys sit in an *in-flight* table holding their values from
//! before the group; a reader that reads a key first and checks the table
//! second gets the old value if the group is not yet on disk. Once it is,
//! the committer takes the state lock, moves the revision forward, empties
//! the table and notifies the watchers — in revision order, once each. A new
//! watch replays the log and registers itself under that same lock, so no
//! event falls between "replayed" and "live".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

use crate::engine::{Batch, Engine};
use crate::{Error, Event, EventType, KeyValue, RangeRequest, RangeResponse, Store, Write};

const KV: &[u8] = b"k/";
const LOG: &[u8] = b"l/";
const META_REVISION: &[u8] = b"m/revision";
const META_COMPACTED: &[u8] = b"m/compacted";
const META_FORMAT: &[u8] = b"m/format";
/// Version 1 copied each value three times (the key, its write, the next
/// write's "previous"); version 2 writes it once.
const FORMAT: u64 = 2;

/// A watcher that falls this many events behind is closed, as the real API
/// server closes slow watchers; the client re-watches from its last revision.
const WATCH_BUFFER: usize = 100_000;

struct State {
    revision: u64,
    compacted: u64,
}

/// A write waiting for the next group commit.
struct Queued {
    key: Vec<u8>,
    write: Write,
    done: oneshot::Sender<Result<KeyValue, Error>>,
}

#[derive(Default)]
struct Queue {
    writes: Vec<Queued>,
    /// The store is being dropped: the committer finishes the queue and stops.
    closed: bool,
}

struct Watcher {
    start: Vec<u8>,
    end: Vec<u8>,
    tx: mpsc::Sender<Event>,
}

/// A write that has been queued; resolves once it is durable (or refused).
///
/// `.await` it from async code, or [`Pending::wait`] for it from a thread.
pub struct Pending(futures::future::BoxFuture<'static, Result<KeyValue, Error>>);

impl Pending {
    /// Blocks the calling thread until the write is decided and durable.
    pub fn wait(self) -> Result<KeyValue, Error> {
        futures::executor::block_on(self)
    }

    /// A write answered by any future (a store wrapping another one, say).
    pub fn from_future(
        f: impl Future<Output = Result<KeyValue, Error>> + Send + 'static,
    ) -> Pending {
        Pending(Box::pin(f))
    }

    /// A write refused before it was queued.
    pub fn failed(e: Error) -> Pending {
        Pending(Box::pin(std::future::ready(Err(e))))
    }
}

/// Another backend (an etcd client, say) answers its writes through a
/// oneshot channel of its own.
impl From<oneshot::Receiver<Result<KeyValue, Error>>> for Pending {
    fn from(rx: oneshot::Receiver<Result<KeyValue, Error>>) -> Pending {
        Pending(Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(Error::Backend("the store was closed".into())))
        }))
    }
}

impl Future for Pending {
    type Output = Result<KeyValue, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// etcd's data model over an [`Engine`]. See the module docs.
pub struct RevisionedStore<E: Engine> {
    shared: Arc<Shared<E>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

/// What the store's handle and its committer thread share.
struct Shared<E: Engine> {
    engine: E,
    state: RwLock<State>,
    watchers: Mutex<Vec<Watcher>>,
    queue: Mutex<Queue>,
    /// Wakes the committer when the queue gets its first write.
    queued: Condvar,
    /// Keys of the group being written, with their values from before it
    /// (`None`: the key did not exist). Empty between groups.
    in_flight: Mutex<HashMap<Vec<u8>, Option<KeyValue>>>,
}

impl<E: Engine> RevisionedStore<E> {
    /// Opens the store, reading back the revision a previous run reached,
    /// and starts its committer thread.
    pub fn open(engine: E) -> Result<Self, Error> {
        let revision = read_u64(&engine, META_REVISION)?;
        let compacted = read_u64(&engine, META_COMPACTED)?;
        match read_u64(&engine, META_FORMAT)? {
            FORMAT => {}
            0 if revision == 0 => {
                let mut batch = Batch::default();
                batch.put(META_FORMAT.to_vec(), FORMAT.to_be_bytes().to_vec());
                engine.commit(batch)?;
            }
            other => {
                return Err(Error::Format(format!(
                    "the data was written by another version of kubelab (store format {}, \
                     this one reads {FORMAT}); start with a new data directory",
                    other.max(1)
                )));
            }
        }
        let shared = Arc::new(Shared {
            engine,
            state: RwLock::new(State {
                revision,
                compacted,
            }),
            watchers: Mutex::new(Vec::new()),
            queue: Mutex::new(Queue::default()),
            queued: Condvar::new(),
            in_flight: Mutex::new(HashMap::new()),
        });
        let s = shared.clone();
        let committer = std::thread::Builder::new()
            .name("store-committer".into())
            .spawn(move || s.commit_loop())
            .map_err(|e| Error::Backend(format!("starting the committer: {e}")))?;
        Ok(RevisionedStore {
            shared,
            committer: Some(committer),
        })
    }
}

impl<E: Engine> Drop for RevisionedStore<E> {
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap().closed = true;
        self.shared.queued.notify_one();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

impl<E: Engine> Shared<E> {
    /// The committer thread: wait for writes, commit them as a group, repeat.
    /// Writes that arrive while a group is on its way to disk form the next
    /// group, so the busier the store, the bigger (and cheaper) the groups.
    // ANCHOR: write
    fn commit_loop(&self) {
        loop {
            let group = {
                let mut queue = self.queue.lock().unwrap();
                while queue.writes.is_empty() && !queue.closed {
                    queue = self.queued.wait(queue).unwrap();
                }
                if queue.writes.is_empty() {
                    return; // closed, and nothing left to write
                }
                std::mem::take(&mut queue.writes)
            };
            self.commit_group(group);
        }
    }
    // ANCHOR_END: write

    /// Decides and commits a group of queued writes, then answers each.
    // ANCHOR: commit_group
    fn commit_group(&self, group: Vec<Queued>) {
        // Only this thread moves the revision, so reading it once is enough.
        let mut revision = self.state.read().unwrap().revision;
        // What this group has written so far, so a later write to the same key sees it.
        let mut overlay: HashMap<Vec<u8>, Option<KeyValue>> = HashMap::new();
        // Each key's value from before the group: what readers see until it is durable.
        let mut before: HashMap<Vec<u8>, Option<KeyValue>> = HashMap::new();
        let mut batch = Batch::default();
        let mut events = Vec::new();
        let mut answers = Vec::new();
        for w in group {
            let prev = match overlay.get(&w.key) {
                Some(v) => Ok(v.clone()),
                None => self.get_current(&w.key),
            };
            // Look at the current value and decide what to write: Some(value)
            // to put, None to delete, or an error (the compare failed).
            let decided = prev.and_then(|prev| decide(w.write, prev.as_ref()).map(|v| (prev, v)));
            let (prev, new_value) = match decided {
                Ok(d) => d,
                Err(e) => {
                    answers.push((w.done, Err(e)));
                    continue;
                }
            };
            revision += 1;
            let kv = new_value.map(|value| KeyValue {
                key: w.key.clone(),
                create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                mod_revision: revision,
                version: prev.as_ref().map_or(1, |p| p.version + 1),
                value,
            });
            let event = Event {
                kind: if kv.is_some() {
                    EventType::Put
                } else {
                    EventType::Delete
                },
                revision,
                key: w.key.clone(),
                kv: kv.clone(),
                prev: prev.clone(),
            };
            batch.put(log_key(revision), encode_record(&event));
            match &kv {
                Some(kv) => batch.put(kv_key(&w.key), encode_index(kv)),
                None => batch.delete(kv_key(&w.key)),
            }
            before.entry(w.key.clone()).or_insert_with(|| prev.clone());
            overlay.insert(w.key, kv.clone());
            events.push(event);
            // A delete answers with what was deleted, as etcd's `prev_kv` does.
            let answer = kv
                .or(prev)
                .expect("a write either puts or deletes something");
            answers.push((w.done, Ok(answer)));
        }
        if !events.is_empty() {
            batch.put(META_REVISION.to_vec(), revision.to_be_bytes().to_vec());
            // Readers keep seeing the old values until the batch is on disk.
            *self.in_flight.lock().unwrap() = before;
            let committed = self.engine.commit(batch);
            // Readers and new watches wait while we hold this, so the
            // revision, the values they read and the live events move together.
            let mut state = self.state.write().unwrap();
            self.in_flight.lock().unwrap().clear();
            if let Err(e) = committed {
                // Nothing of the group was written: every writer in it fails.
                drop(state);
                for (done, answer) in answers {
                    let _ = done.send(answer.and(Err(e.clone())));
                }
                return;
            }
            state.revision = revision;
            for event in &events {
                self.notify(event);
            }
        }
        for (done, answer) in answers {
            let _ = done.send(answer);
        }
    }
    // ANCHOR_END: commit_group

    fn notify(&self, event: &Event) {
        let mut watchers = self.watchers.lock().unwrap();
        watchers.retain(|w| {
            if !in_range(&event.key, &w.start, &w.end) {
                return !w.tx.is_closed();
            }
            // A full buffer closes the watch; the receiver sees the end and
            // re-watches from the last revision it got.
            w.tx.try_send(event.clone()).is_ok()
        });
    }

    /// The key as the engine has it now: its index entry, then its value.
    fn get_current(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        match self.engine.get(&kv_key(key))? {
            Some(index) => self.value_at(key, &index).map(Some),
            None => Ok(None),
        }
    }

    /// A key's value, found through its index entry.
    fn value_at(&self, key: &[u8], index: &[u8]) -> Result<KeyValue, Error> {
        let mut r = Reader(index);
        let (create_revision, mod_revision) = (r.u64()?, r.u64()?);
        self.written_at(key, mod_revision).and_then(|kv| {
            kv.filter(|kv| kv.create_revision == create_revision)
                .ok_or_else(|| Error::Corrupt(format!("no value at revision {mod_revision}")))
        })
    }

    /// What a put at `revision` wrote to `key` (`None` if it was a delete).
    fn written_at(&self, key: &[u8], revision: u64) -> Result<Option<KeyValue>, Error> {
        let raw = self.engine.get(&log_key(revision))?.ok_or_else(|| {
            Error::Corrupt(format!("revision {revision} is missing from the log"))
        })?;
        let record = decode_record(revision, &raw)?;
        if record.key != key {
            return Err(Error::Corrupt(format!(
                "revision {revision} is not a write of this key"
            )));
        }
        Ok(record.kv)
    }

    /// Writes to keys in `[start, end)` with revision in `(after, upto]`,
    /// oldest first, each with the value its key had before.
    fn log_between(
        &self,
        start: &[u8],
        end: &[u8],
        after: u64,
        upto: u64,
    ) -> Result<Vec<Event>, Error> {
        if after >= upto {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        for (k, raw) in self
            .engine
            .scan(&log_key(after + 1), &log_key(upto + 1), None)?
        {
            let record = decode_record(revision_of(&k)?, &raw)?;
            // Filtered before the previous value is looked up: that costs a read.
            if !in_range(&record.key, start, end) {
                continue;
            }
            let prev = match record.prev_revision {
                0 => None,
                p => self.written_at(&record.key, p)?,
            };
            events.push(Event {
                kind: if record.kv.is_some() {
                    EventType::Put
                } else {
                    EventType::Delete
                },
                revision: record.revision,
                key: record.key,
                kv: record.kv,
                prev,
            });
        }
        Ok(events)
    }

    /// A key's durable value: read the engine first, the in-flight table
    /// second (see the module docs for why this order is enough).
    fn get_durable(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        // Compaction (which holds the write side) must not remove the value
        // between reading the key's index entry and reading its value.
        let _state = self.state.read().unwrap();
        let now = self.get_current(key)?;
        if let Some(before) = self.in_flight.lock().unwrap().get(key) {
            return Ok(before.clone());
        }
        Ok(now)
    }

    /// The first `limit` durable keys in `[start, end)`, in order, and how
    /// many there are in all. Only those returned have their values read
    /// (a page of a list reads one page of values). The caller holds the
    /// state lock, so the in-flight table cannot be emptied meanwhile.
    fn scan_durable(
        &self,
        start: &[u8],
        end: &[u8],
        limit: Option<usize>,
    ) -> Result<(Vec<KeyValue>, usize), Error> {
        /// A key as the index has it, or as it was before the group in flight.
        enum Found {
            Index(Vec<u8>),
            Before(KeyValue),
        }
        // Keys as the engine names them (`k/…`), not copied.
        let mut found: Vec<(Vec<u8>, Found)> = self
            .engine
            .scan(&kv_key(start), &kv_key(end), None)?
            .into_iter()
            .map(|(k, index)| (k, Found::Index(index)))
            .collect();
        let in_flight = self.in_flight.lock().unwrap();
        let touched: Vec<_> = in_flight
            .iter()
            .filter(|(k, _)| in_range(k, start, end))
            .collect();
        if !touched.is_empty() {
            // A group on its way to disk: put its keys back as they were.
            let mut view: BTreeMap<Vec<u8>, Found> = found.into_iter().collect();
            for (k, before) in touched {
                match before {
                    Some(kv) => view.insert(kv_key(k), Found::Before(kv.clone())),
                    None => view.remove(&kv_key(k)),
                };
            }
            found = view.into_iter().collect();
        }
        drop(in_flight);
        let total = found.len();
        let kvs = found
            .into_iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(|(k, f)| match f {
                Found::Index(index) => self.value_at(&k[KV.len()..], &index),
                Found::Before(kv) => Ok(kv),
            })
            .collect::<Result<_, _>>()?;
        Ok((kvs, total))
    }

    fn check_revision(&self, state: &State, revision: u64) -> Result<(), Error> {
        if revision > state.revision {
            return Err(Error::FutureRevision {
                requested: revision,
                current: state.revision,
            });
        }
        if revision < state.compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted: state.compacted,
            });
        }
        Ok(())
    }
}

impl<E: Engine> Store for RevisionedStore<E> {
    fn current_revision(&self) -> u64 {
        self.shared.state.read().unwrap().revision
    }

    fn compacted_revision(&self) -> u64 {
        self.shared.state.read().unwrap().compacted
    }

    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        self.shared.get_durable(key)
    }

    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Error> {
        let s = &self.shared;
        let state = s.state.read().unwrap();
        let at = req.revision.unwrap_or(state.revision);
        s.check_revision(&state, at)?;
        if at == state.revision {
            // Reading "now": values are read for the page asked for only.
            let (kvs, total) = s.scan_durable(&req.start, &req.end, req.limit)?;
            return Ok(RangeResponse {
                remaining: total - kvs.len(),
                kvs,
                revision: at,
            });
        }
        // Reading the past: start from now and undo newer events.
        let (now, _) = s.scan_durable(&req.start, &req.end, None)?;
        let mut view: BTreeMap<Vec<u8>, KeyValue> =
            now.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
        for event in s
            .log_between(&req.start, &req.end, at, state.revision)?
            .into_iter()
            .rev()
        {
            match event.prev {
                Some(prev) => view.insert(event.key.clone(), prev),
                None => view.remove(&event.key),
            };
        }
        let total = view.len();
        let kvs: Vec<KeyValue> = view
            .into_values()
            .take(req.limit.unwrap_or(usize::MAX))
            .collect();
        Ok(RangeResponse {
            remaining: total - kvs.len(),
            kvs,
            revision: at,
        })
    }

    fn submit(&self, key: &[u8], write: Write) -> Pending {
        let (done, rx) = oneshot::channel();
        let mut queue = self.shared.queue.lock().unwrap();
        queue.writes.push(Queued {
            key: key.to_vec(),
            write,
            done,
        });
        if queue.writes.len() == 1 {
            self.shared.queued.notify_one();
        }
        Pending::from(rx)
    }

    // ANCHOR: watch
    fn watch(&self, start: &[u8], end: &[u8], after_revision: u64) -> Result<Watch, Error> {
        let s = &self.shared;
        // Hold the read lock: no group can finish between the replay and the
        // registration below, so the watcher misses nothing and sees nothing twice.
        let state = s.state.read().unwrap();
        s.check_revision(&state, after_revision)?;
        let backlog: VecDeque<Event> = s
            .log_between(start, end, after_revision, state.revision)?
            .into();
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        s.watchers.lock().unwrap().push(Watcher {
            start: start.to_vec(),
            end: end.to_vec(),
            tx,
        });
        Ok(Watch {
            backlog,
            rx,
            map: None,
        })
    }
    // ANCHOR_END: watch

    fn compact(&self, revision: u64) -> Result<(), Error> {
        let s = &self.shared;
        let mut state = s.state.write().unwrap();
        let revision = revision.min(state.revision);
        if revision <= state.compacted {
            return Ok(());
        }
        // Each write at or below `revision` makes its key's previous one
        // unneeded; a delete is not needed itself either. What is left is
        // every key's last put at or below `revision`.
        let mut batch = Batch::default();
        for (k, raw) in
            s.engine
                .scan(&log_key(state.compacted + 1), &log_key(revision + 1), None)?
        {
            let (prev_revision, is_put) = decode_record_links(&raw)?;
            if prev_revision != 0 {
                batch.delete(log_key(prev_revision));
            }
            if !is_put {
                batch.delete(k);
            }
        }
        batch.put(META_COMPACTED.to_vec(), revision.to_be_bytes().to_vec());
        s.engine.commit(batch)?;
        state.compacted = revision;
        Ok(())
    }
}

/// What a queued write puts: `Some(value)`, `None` to delete — or why it
/// is refused, given the key's current value.
fn decide(write: Write, prev: Option<&KeyValue>) -> Result<Option<Vec<u8>>, Error> {
    match write {
        Write::Create(value) => match prev {
            Some(_) => Err(Error::AlreadyExists),
            None => Ok(Some(value)),
        },
        Write::Update { value, expected } => {
            compare(prev.ok_or(Error::NotFound)?, expected)?;
            Ok(Some(value))
        }
        Write::Delete { expected } => {
            compare(prev.ok_or(Error::NotFound)?, expected)?;
            Ok(None)
        }
    }
}

fn compare(prev: &KeyValue, expected: Option<u64>) -> Result<(), Error> {
    match expected {
        Some(rev) if rev != prev.mod_revision => Err(Error::Conflict {
            current: prev.mod_revision,
        }),
        _ => Ok(()),
    }
}

/// A stream of events: first the replayed backlog, then live events.
pub struct Watch {
    backlog: VecDeque<Event>,
    rx: mpsc::Receiver<Event>,
    /// Applied to every event on its way out (a store that transforms
    /// values, such as encryption at rest, decrypts here).
    map: Option<EventMap>,
}

type EventMap = std::sync::Arc<dyn Fn(Event) -> Event + Send + Sync>;

impl Watch {
    /// The next event; `None` when the watch was closed (the store dropped
    /// this watcher because it fell too far behind).
    pub async fn next(&mut self) -> Option<Event> {
        let e = match self.backlog.pop_front() {
            Some(e) => Some(e),
            None => self.rx.recv().await,
        };
        self.mapped(e)
    }

    /// A watch fed by another backend (the etcd client's stream reader).
    pub fn from_channel(rx: mpsc::Receiver<Event>) -> Watch {
        Watch {
            backlog: VecDeque::new(),
            rx,
            map: None,
        }
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        let e = self.backlog.pop_front().or_else(|| self.rx.try_recv().ok());
        self.mapped(e)
    }

    /// The same watch, with `f` applied to each event it yields.
    pub fn map(mut self, f: impl Fn(Event) -> Event + Send + Sync + 'static) -> Watch {
        let f: EventMap = match self.map.take() {
            Some(first) => std::sync::Arc::new(move |e| f(first(e))),
            None => std::sync::Arc::new(f),
        };
        self.map = Some(f);
        self
    }

    fn mapped(&self, e: Option<Event>) -> Option<Event> {
        match &self.map {
            Some(f) => e.map(|e| f(e)),
            None => e,
        }
    }
}

fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    key >= start && key < end
}

fn kv_key(key: &[u8]) -> Vec<u8> {
    [KV, key].concat()
}

fn log_key(revision: u64) -> Vec<u8> {
    [LOG, &revision.to_be_bytes()[..]].concat()
}

fn read_u64(engine: &impl Engine, key: &[u8]) -> Result<u64, Error> {
    match engine.get(key)? {
        None => Ok(0),
        Some(raw) => {
            Ok(u64::from_be_bytes(raw.try_into().map_err(|_| {
                Error::Corrupt("meta value is not 8 bytes".into())
            })?))
        }
    }
}

// ---- encoding -------------------------------------------------------------
// A tiny length-prefixed binary format. The value bytes are opaque to the
// store (the API server stores JSON in them).

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64, Error> {
        if self.0.len() < 8 {
            return Err(Error::Corrupt("truncated number".into()));
        }
        let (n, rest) = self.0.split_at(8);
        self.0 = rest;
        Ok(u64::from_be_bytes(n.try_into().unwrap()))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        let len = self.u64()? as usize;
        if self.0.len() < len {
            return Err(Error::Corrupt("truncated bytes".into()));
        }
        let (b, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(b.to_vec())
    }
}

/// A key's index entry: where its current value is.
fn encode_index(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    put_u64(&mut out, kv.create_revision);
    put_u64(&mut out, kv.mod_revision);
    put_u64(&mut out, kv.version);
    out
}

/// One write of the log, as stored.
struct Record {
    revision: u64,
    key: Vec<u8>,
    /// The key's revision before this write (0: it did not exist).
    prev_revision: u64,
    /// What was put (`None` for a delete).
    kv: Option<KeyValue>,
}

/// `prev revision, put?, key, [create revision, version, value]`.
fn encode_record(e: &Event) -> Vec<u8> {
    let value_len = e.kv.as_ref().map_or(0, |kv| kv.value.len());
    let mut out = Vec::with_capacity(e.key.len() + value_len + 48);
    put_u64(&mut out, e.prev.as_ref().map_or(0, |p| p.mod_revision));
    out.push(e.kv.is_some() as u8);
    put_bytes(&mut out, &e.key);
    if let Some(kv) = &e.kv {
        put_u64(&mut out, kv.create_revision);
        put_u64(&mut out, kv.version);
        put_bytes(&mut out, &kv.value);
    }
    out
}

/// Just the links compaction follows: the previous revision, and put or delete.
fn decode_record_links(raw: &[u8]) -> Result<(u64, bool), Error> {
    let mut r = Reader(raw);
    let prev_revision = r.u64()?;
    let put =
        *r.0.first()
            .ok_or_else(|| Error::Corrupt("truncated record".into()))?
            == 1;
    Ok((prev_revision, put))
}

fn decode_record(revision: u64, raw: &[u8]) -> Result<Record, Error> {
    let (prev_revision, put) = decode_record_links(raw)?;
    let mut r = Reader(&raw[9..]);
    let key = r.bytes()?;
    let kv = if put {
        Some(KeyValue {
            key: key.clone(),
            create_revision: r.u64()?,
            mod_revision: revision,
            version: r.u64()?,
            value: r.bytes()?,
        })
    } else {
        None
    };
    Ok(Record {
        revision,
        key,
        prev_revision,
        kv,
    })
}

fn revision_of(log_key: &[u8]) -> Result<u64, Error> {
    log_key[LOG.len()..]
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupt("a log key is not 8 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Rows;
    use crate::{MemoryEngine, SledEngine};

    fn mem() -> RevisionedStore<MemoryEngine> {
        RevisionedStore::open(MemoryEngine::default()).unwrap()
    }

    #[test]
    fn every_write_bumps_one_global_revision() {
        let s = mem();
        let a = s.create(b"a", b"1".to_vec()).unwrap();
        let b = s.create(b"b", b"1".to_vec()).unwrap();
        let a2 = s.update(b"a", b"2".to_vec(), None).unwrap();
        assert_eq!((a.mod_revision, b.mod_revision, a2.mod_revision), (1, 2, 3));
        assert_eq!((a2.create_revision, a2.version), (1, 2));
        let gone = s.delete(b"b", None).unwrap();
        assert_eq!(gone.value, b"1");
        assert_eq!(s.current_revision(), 4);
        assert_eq!(s.get(b"b").unwrap(), None);
    }

    #[test]
    fn create_refuses_an_existing_key_and_cas_refuses_a_stale_revision() {
        let s = mem();
        let kv = s.create(b"k", b"v".to_vec()).unwrap();
        assert_eq!(s.create(b"k", b"x".to_vec()), Err(Error::AlreadyExists));
        s.update(b"k", b"v2".to_vec(), Some(kv.mod_revision))
            .unwrap();
        // The second writer still holds the old revision: it must lose.
        assert_eq!(
            s.update(b"k", b"v3".to_vec(), Some(kv.mod_revision)),
            Err(Error::Conflict { current: 2 })
        );
        assert_eq!(s.delete(b"k", Some(1)), Err(Error::Conflict { current: 2 }));
        assert_eq!(s.get(b"k").unwrap().unwrap().value, b"v2");
        assert_eq!(s.update(b"nope", vec![], None), Err(Error::NotFound));
        // Failed writes do not consume revisions.
        assert_eq!(s.current_revision(), 2);
    }

    #[test]
    fn range_pages_and_reads_the_past() {
        let s = mem();
        for k in ["p/a", "p/b", "p/c", "q/x"] {
            s.create(k.as_bytes(), b"0".to_vec()).unwrap();
        }
        let at = s.current_revision();
        s.update(b"p/a", b"1".to_vec(), None).unwrap();
        s.delete(b"p/b", None).unwrap();
        s.create(b"p/d", b"1".to_vec()).unwrap();

        let mut req = RangeRequest::prefix(b"p/");
        req.limit = Some(2);
        let now = s.range(&req).unwrap();
        let keys: Vec<_> = now.kvs.iter().map(|kv| kv.key.clone()).collect();
        assert_eq!(keys, vec![b"p/a".to_vec(), b"p/c".to_vec()]);
        assert_eq!(now.remaining, 1);

        req.limit = None;
        req.revision = Some(at);
        let past = s.range(&req).unwrap();
        let view: Vec<_> = past
            .kvs
            .iter()
            .map(|kv| {
                (
                    String::from_utf8(kv.key.clone()).unwrap(),
                    kv.value.clone(),
                    kv.mod_revision,
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![
                ("p/a".into(), b"0".to_vec(), 1),
                ("p/b".into(), b"0".to_vec(), 2),
                ("p/c".into(), b"0".to_vec(), 3)
            ]
        );
        assert!(matches!(
            s.range(&RangeRequest {
                revision: Some(99),
                ..req.clone()
            }),
            Err(Error::FutureRevision { .. })
        ));
    }

    #[tokio::test]
    async fn watch_replays_then_goes_live_without_gaps_or_duplicates() {
        let s = mem();
        s.create(b"w/1", b"a".to_vec()).unwrap(); // rev 1
        s.create(b"other", b"a".to_vec()).unwrap(); // rev 2, outside the prefix
        s.update(b"w/1", b"b".to_vec(), None).unwrap(); // rev 3
        let mut w = s.watch(b"w/", &crate::prefix_end(b"w/"), 1).unwrap();
        s.delete(b"w/1", None).unwrap(); // rev 4, live
        let e1 = w.next().await.unwrap();
        let e2 = w.next().await.unwrap();
        assert_eq!((e1.revision, e1.kind.clone()), (3, EventType::Put));
        assert_eq!(e1.prev.unwrap().value, b"a");
        assert_eq!((e2.revision, e2.kind), (4, EventType::Delete));
        assert!(w.try_next().is_none());
    }

    #[test]
    fn compaction_expires_old_watches_and_reads() {
        let s = mem();
        for i in 0..5u8 {
            s.create(&[b'k', i], vec![i]).unwrap();
        }
        s.compact(3).unwrap();
        assert_eq!(s.compacted_revision(), 3);
        assert!(matches!(
            s.watch(b"k", b"l", 2),
            Err(Error::Compacted {
                requested: 2,
                compacted: 3
            })
        ));
        assert!(s.watch(b"k", b"l", 3).is_ok());
        let mut w = s.watch(b"k", b"l", 3).unwrap();
        assert_eq!(w.try_next().unwrap().revision, 4);
        let past = RangeRequest {
            revision: Some(1),
            ..RangeRequest::prefix(b"k")
        };
        assert!(matches!(s.range(&past), Err(Error::Compacted { .. })));
    }

    #[test]
    fn a_value_is_written_once_and_compaction_keeps_each_keys_last_write() {
        let s = mem();
        s.create(b"a", b"a1".to_vec()).unwrap(); // 1
        s.update(b"a", b"a2".to_vec(), None).unwrap(); // 2
        s.create(b"b", b"b1".to_vec()).unwrap(); // 3
        s.delete(b"b", None).unwrap(); // 4
        s.create(b"c", b"c1".to_vec()).unwrap(); // 5
        s.update(b"a", b"a3".to_vec(), None).unwrap(); // 6
        // The key space holds each value once: in the log, not in the index.
        let engine = &s.shared.engine;
        let index = engine.get(b"k/a").unwrap().unwrap();
        assert_eq!(index.len(), 24);
        let copies = engine
            .scan(b"", &[0xff], None)
            .unwrap()
            .iter()
            .filter(|(_, v)| v.windows(2).any(|w| w == b"a2"))
            .count();
        assert_eq!(copies, 1);

        s.compact(5).unwrap();
        let log: Vec<u64> = engine
            .scan(LOG, &crate::prefix_end(LOG), None)
            .unwrap()
            .iter()
            .map(|(k, _)| revision_of(k).unwrap())
            .collect();
        // 1 was replaced by 2 and 3 by 4; 4 was a delete; 2 is still needed
        // (6 links to it) and 5 is c's current value.
        assert_eq!(log, vec![2, 5, 6]);
        let at5 = RangeRequest {
            revision: Some(5),
            ..RangeRequest::prefix(b"")
        };
        let view: Vec<_> = s
            .range(&at5)
            .unwrap()
            .kvs
            .into_iter()
            .map(|kv| kv.value)
            .collect();
        assert_eq!(view, vec![b"a2".to_vec(), b"c1".to_vec()]);
        let mut w = s.watch(b"", &[0xff], 5).unwrap();
        let e = w.try_next().unwrap();
        assert_eq!((e.revision, e.prev.unwrap().value), (6, b"a2".to_vec()));
        assert_eq!(s.get(b"a").unwrap().unwrap().value, b"a3");
        assert_eq!(s.get(b"c").unwrap().unwrap().mod_revision, 5);
    }

    #[test]
    fn a_store_of_another_format_is_refused_with_a_clear_error() {
        let engine = MemoryEngine::default();
        let mut batch = Batch::default();
        batch.put(META_REVISION.to_vec(), 7u64.to_be_bytes().to_vec());
        engine.commit(batch).unwrap();
        let err = RevisionedStore::open(engine).err().unwrap();
        assert!(err.to_string().contains("store format 1"), "{err}");
    }

    #[test]
    fn group_commit_loses_no_update_and_gives_each_write_a_revision() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(
            RevisionedStore::open(SledEngine::open(dir.path()).unwrap()).unwrap(),
        );
        s.create(b"counter", b"0".to_vec()).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut won = 0u64;
                    for i in 0..40 {
                        s.create(format!("t{t}/{i}").as_bytes(), vec![]).unwrap();
                        let cur = s.get(b"counter").unwrap().unwrap();
                        let n: u64 = String::from_utf8(cur.value).unwrap().parse().unwrap();
                        if s.update(
                            b"counter",
                            (n + 1).to_string().into_bytes(),
                            Some(cur.mod_revision),
                        )
                        .is_ok()
                        {
                            won += 1;
                        }
                    }
                    won
                })
            })
            .collect();
        let won: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let counter = s.get(b"counter").unwrap().unwrap();
        assert_eq!(String::from_utf8(counter.value).unwrap(), won.to_string());
        // One revision per successful write: the create, 640 creates, `won` updates.
        assert_eq!(s.current_revision(), 1 + 640 + won);
        let mut w = s.watch(b"", &[0xff], 0).unwrap();
        let revs: Vec<u64> = std::iter::from_fn(|| w.try_next())
            .map(|e| e.revision)
            .collect();
        assert_eq!(revs, (1..=s.current_revision()).collect::<Vec<_>>());
    }

    /// An engine whose commits apply at once but are "durable" only when the
    /// test says so: the window in which a crash would lose the batch.
    #[derive(Default)]
    struct SlowDisk {
        inner: MemoryEngine,
        fsync: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }

    impl Engine for SlowDisk {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
            self.inner.get(key)
        }
        fn scan(&self, start: &[u8], end: &[u8], limit: Option<usize>) -> Result<Rows, Error> {
            self.inner.scan(start, end, limit)
        }
        fn commit(&self, batch: Batch) -> Result<(), Error> {
            self.inner.commit(batch)?;
            if let Some(gate) = self.fsync.lock().unwrap().as_ref() {
                let _ = gate.recv();
            }
            Ok(())
        }
    }

    #[test]
    fn nothing_is_visible_before_it_is_durable() {
        let s = std::sync::Arc::new(RevisionedStore::open(SlowDisk::default()).unwrap());
        s.create(b"p/a", b"old".to_vec()).unwrap();
        s.create(b"p/gone", b"old".to_vec()).unwrap();
        let (release, gate) = std::sync::mpsc::channel();
        *s.shared.engine.fsync.lock().unwrap() = Some(gate);
        let before = s.shared.engine.inner.get(b"k/p/a").unwrap();

        let update = s.submit(
            b"p/a",
            Write::Update {
                value: b"new".to_vec(),
                expected: None,
            },
        );
        let create = s.submit(b"p/b", Write::Create(b"new".to_vec()));
        let delete = s.submit(b"p/gone", Write::Delete { expected: None });
        // Wait until the committer has applied the first group and sits in
        // "fsync". The three writes may form one group or several: whichever
        // it is, none may be visible before its group is durable.
        while s.shared.engine.inner.get(b"k/p/a").unwrap() == before {
            std::thread::yield_now();
        }
        assert_eq!(s.get(b"p/a").unwrap().unwrap().value, b"old");
        assert_eq!(s.get(b"p/b").unwrap(), None);
        assert_eq!(s.get(b"p/gone").unwrap().unwrap().value, b"old");
        let listed: Vec<_> = s.range(&RangeRequest::prefix(b"p/")).unwrap().kvs;
        let listed: Vec<_> = listed
            .iter()
            .map(|kv| (kv.key.as_slice(), kv.value.as_slice()))
            .collect();
        assert_eq!(
            listed,
            vec![(&b"p/a"[..], &b"old"[..]), (b"p/gone", b"old")]
        );
        assert_eq!(s.current_revision(), 2);

        // Dropping the gate lets every group's fsync through.
        drop(release);
        assert_eq!(update.wait().unwrap().mod_revision, 3);
        assert_eq!(create.wait().unwrap().mod_revision, 4);
        assert_eq!(delete.wait().unwrap().value, b"old");
        assert_eq!(s.get(b"p/a").unwrap().unwrap().value, b"new");
        assert_eq!(s.get(b"p/gone").unwrap(), None);
        assert_eq!(s.range(&RangeRequest::prefix(b"p/")).unwrap().kvs.len(), 2);
        assert_eq!(s.current_revision(), 5);
    }

    #[test]
    fn sled_keeps_data_and_revisions_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RevisionedStore::open(SledEngine::open(dir.path()).unwrap()).unwrap();
            s.create(b"a", b"1".to_vec()).unwrap();
            s.update(b"a", b"2".to_vec(), None).unwrap();
            s.compact(1).unwrap();
        }
        let s = RevisionedStore::open(SledEngine::open(dir.path()).unwrap()).unwrap();
        assert_eq!(s.current_revision(), 2);
        assert_eq!(s.compacted_revision(), 1);
        let kv = s.get(b"a").unwrap().unwrap();
        assert_eq!(
            (kv.value.as_slice(), kv.mod_revision, kv.version),
            (&b"2"[..], 2, 2)
        );
        // Revisions keep going forward after a restart.
        assert_eq!(s.create(b"b", vec![]).unwrap().mod_revision, 3);
    }
}
