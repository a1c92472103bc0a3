//! etcd's multi-version model, implemented once over any [`Engine`].
//!
//! ## Layout in the engine's key space
//!
//! ```text
//! k/<key>            -> the key's current KeyValue       (what is there now)
//! l/<revision:u64be> -> the Event written at that revision (the event log)
//! m/revision         -> the last revision
//! m/compacted        -> the last compacted revision
//! ```
//!
//! Every write puts the new `k/` record, appends one `l/` record and bumps
//! `m/revision` in **one atomic, durable batch**, so after a crash the data,
//! the log and the revision can never disagree.
//!
//! etcd keeps every old version of every key in its B+tree. We keep only the
//! current version plus the log, and read the past by *rolling back*: take
//! the range as it is now and undo, newest first, every logged event newer
//! than the revision asked for (each event carries the key's previous value).
//! Reading far back costs more, but it is the same answer etcd gives, and it
//! works for exactly as long as the log has not been compacted — as in etcd.
//!
//! ## Concurrency
//!
//! Writes are committed in groups by one leader at a time (see `write`),
//! which notifies watchers while holding the state lock, so watchers see
//! events in revision order and only once they are durable. A new watch replays the log
//! and registers itself under the same lock, so no event falls between
//! "replayed" and "live".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, RwLock};

use tokio::sync::mpsc;

use crate::engine::{Batch, Engine};
use crate::{Error, Event, EventType, KeyValue, RangeRequest, RangeResponse, Store};

const KV: &[u8] = b"k/";
const LOG: &[u8] = b"l/";
const META_REVISION: &[u8] = b"m/revision";
const META_COMPACTED: &[u8] = b"m/compacted";

/// A watcher that falls this many events behind is closed, as the real API
/// server closes slow watchers; the client re-watches from its last revision.
const WATCH_BUFFER: usize = 100_000;

struct State {
    revision: u64,
    compacted: u64,
}

/// A write waiting for the next group commit.
struct PendingWrite {
    key: Vec<u8>,
    decide: Box<Decide>,
    done: std::sync::mpsc::SyncSender<Result<KeyValue, Error>>,
}

type Decide = dyn FnOnce(Option<&KeyValue>) -> Result<Option<Vec<u8>>, Error> + Send;

struct Watcher {
    start: Vec<u8>,
    end: Vec<u8>,
    tx: mpsc::Sender<Event>,
}

/// etcd's data model over an [`Engine`]. See the module docs.
pub struct RevisionedStore<E: Engine> {
    engine: E,
    state: RwLock<State>,
    watchers: Mutex<Vec<Watcher>>,
    /// Writes waiting to be committed, and the lock the committing leader holds.
    queue: Mutex<Vec<PendingWrite>>,
    commit_lock: Mutex<()>,
}

impl<E: Engine> RevisionedStore<E> {
    /// Opens the store, reading back the revision a previous run reached.
    pub fn open(engine: E) -> Result<Self, Error> {
        let revision = read_u64(&engine, META_REVISION)?;
        let compacted = read_u64(&engine, META_COMPACTED)?;
        Ok(RevisionedStore {
            engine,
            state: RwLock::new(State {
                revision,
                compacted,
            }),
            watchers: Mutex::new(Vec::new()),
            queue: Mutex::new(Vec::new()),
            commit_lock: Mutex::new(()),
        })
    }

    /// The one place that writes. Every write joins a queue; whichever
    /// writer gets the commit lock first becomes the *leader* and commits the
    /// whole queue as one durable batch (one fsync for many writes — etcd
    /// batches its WAL fsyncs the same way). Each write still gets its own
    /// revision and its own log entry, in queue order.
    // ANCHOR: write
    fn write<F>(&self, key: &[u8], decide: F) -> Result<KeyValue, Error>
    where
        F: FnOnce(Option<&KeyValue>) -> Result<Option<Vec<u8>>, Error> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.queue.lock().unwrap().push(PendingWrite {
            key: key.to_vec(),
            decide: Box::new(decide),
            done: tx,
        });
        loop {
            match self.commit_lock.try_lock() {
                Ok(_leader) => {
                    // We lead: commit everything queued so far, ours included
                    // unless an earlier leader already did.
                    let pending = std::mem::take(&mut *self.queue.lock().unwrap());
                    self.commit_group(pending);
                    if let Ok(result) = rx.try_recv() {
                        return result;
                    }
                }
                // Someone else leads: wait for our answer. If our write joined
                // the queue after that leader took it, we time out and lead next.
                Err(_) => match rx.recv_timeout(std::time::Duration::from_micros(500)) {
                    Ok(result) => return result,
                    Err(_) => continue,
                },
            }
        }
    }
    // ANCHOR_END: write

    /// Decides and commits a group of queued writes, then answers each.
    fn commit_group(&self, pending: Vec<PendingWrite>) {
        // Readers wait while we hold this: nothing becomes visible before it is durable.
        let mut state = self.state.write().unwrap();
        let mut revision = state.revision;
        // What this group has written so far, so a later write to the same key sees it.
        let mut overlay: HashMap<Vec<u8>, Option<KeyValue>> = HashMap::new();
        let mut batch = Batch::default();
        let mut events = Vec::new();
        let mut answers = Vec::new();
        for w in pending {
            let prev = match overlay.get(&w.key) {
                Some(v) => Ok(v.clone()),
                None => self.get_current(&w.key),
            };
            // `decide` looks at the current value and says what to write:
            // Some(value) to put, None to delete, or an error (the compare failed).
            let decided = prev.and_then(|prev| (w.decide)(prev.as_ref()).map(|v| (prev, v)));
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
            match &kv {
                Some(kv) => batch.put(kv_key(&w.key), encode_kv(kv)),
                None => batch.delete(kv_key(&w.key)),
            }
            batch.put(log_key(revision), encode_event(&event));
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
            if let Err(e) = self.engine.commit(batch) {
                // Nothing of the group was written: every writer in it fails.
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

    fn get_current(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        self.engine
            .get(&kv_key(key))?
            .map(|raw| decode_kv(key, &raw))
            .transpose()
    }

    /// Log entries with revision in `(after, upto]`, oldest first.
    fn log_between(&self, after: u64, upto: u64) -> Result<Vec<Event>, Error> {
        if after >= upto {
            return Ok(Vec::new());
        }
        self.engine
            .scan(&log_key(after + 1), &log_key(upto + 1), None)?
            .into_iter()
            .map(|(_, raw)| decode_event(&raw))
            .collect()
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
        self.state.read().unwrap().revision
    }

    fn compacted_revision(&self) -> u64 {
        self.state.read().unwrap().compacted
    }

    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        let _state = self.state.read().unwrap();
        self.get_current(key)
    }

    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Error> {
        let state = self.state.read().unwrap();
        let at = req.revision.unwrap_or(state.revision);
        self.check_revision(&state, at)?;
        let start = kv_key(&req.start);
        let end = kv_key(&req.end);

        if at == state.revision {
            // Reading "now": one ordered scan, one more than asked to know
            // whether anything remains.
            let mut kvs = Vec::new();
            let rows = self.engine.scan(&start, &end, None)?;
            let total = rows.len();
            for (k, raw) in rows.into_iter().take(req.limit.unwrap_or(usize::MAX)) {
                kvs.push(decode_kv(&k[KV.len()..], &raw)?);
            }
            let remaining = total - kvs.len();
            return Ok(RangeResponse {
                kvs,
                revision: at,
                remaining,
            });
        }

        // Reading the past: start from now and undo newer events.
        let mut view: BTreeMap<Vec<u8>, KeyValue> = BTreeMap::new();
        for (k, raw) in self.engine.scan(&start, &end, None)? {
            let key = k[KV.len()..].to_vec();
            let kv = decode_kv(&key, &raw)?;
            view.insert(key, kv);
        }
        for event in self.log_between(at, state.revision)?.into_iter().rev() {
            if !in_range(&event.key, &req.start, &req.end) {
                continue;
            }
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

    fn create(&self, key: &[u8], value: Vec<u8>) -> Result<KeyValue, Error> {
        self.write(key, move |prev| match prev {
            Some(_) => Err(Error::AlreadyExists),
            None => Ok(Some(value)),
        })
    }

    fn update(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expected_mod_revision: Option<u64>,
    ) -> Result<KeyValue, Error> {
        self.write(key, move |prev| {
            let prev = prev.ok_or(Error::NotFound)?;
            compare(prev, expected_mod_revision)?;
            Ok(Some(value))
        })
    }

    fn delete(&self, key: &[u8], expected_mod_revision: Option<u64>) -> Result<KeyValue, Error> {
        self.write(key, move |prev| {
            let prev = prev.ok_or(Error::NotFound)?;
            compare(prev, expected_mod_revision)?;
            Ok(None)
        })
    }

    // ANCHOR: watch
    fn watch(&self, start: &[u8], end: &[u8], after_revision: u64) -> Result<Watch, Error> {
        // Hold the read lock: no write can happen between the replay and the
        // registration below, so the watcher misses nothing and sees nothing twice.
        let state = self.state.read().unwrap();
        self.check_revision(&state, after_revision)?;
        let backlog: VecDeque<Event> = self
            .log_between(after_revision, state.revision)?
            .into_iter()
            .filter(|e| in_range(&e.key, start, end))
            .collect();
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        self.watchers.lock().unwrap().push(Watcher {
            start: start.to_vec(),
            end: end.to_vec(),
            tx,
        });
        Ok(Watch { backlog, rx })
    }
    // ANCHOR_END: watch

    fn compact(&self, revision: u64) -> Result<(), Error> {
        let mut state = self.state.write().unwrap();
        let revision = revision.min(state.revision);
        if revision <= state.compacted {
            return Ok(());
        }
        let mut batch = Batch::default();
        for (k, _) in self
            .engine
            .scan(&log_key(state.compacted), &log_key(revision + 1), None)?
        {
            batch.delete(k);
        }
        batch.put(META_COMPACTED.to_vec(), revision.to_be_bytes().to_vec());
        self.engine.commit(batch)?;
        state.compacted = revision;
        Ok(())
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
}

impl Watch {
    /// The next event; `None` when the watch was closed (the store dropped
    /// this watcher because it fell too far behind).
    pub async fn next(&mut self) -> Option<Event> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        self.rx.recv().await
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.backlog.pop_front().or_else(|| self.rx.try_recv().ok())
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

fn encode_kv_into(out: &mut Vec<u8>, kv: &KeyValue) {
    put_u64(out, kv.create_revision);
    put_u64(out, kv.mod_revision);
    put_u64(out, kv.version);
    put_bytes(out, &kv.value);
}

fn encode_kv(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(kv.value.len() + 32);
    encode_kv_into(&mut out, kv);
    out
}

fn read_kv(r: &mut Reader, key: &[u8]) -> Result<KeyValue, Error> {
    Ok(KeyValue {
        key: key.to_vec(),
        create_revision: r.u64()?,
        mod_revision: r.u64()?,
        version: r.u64()?,
        value: r.bytes()?,
    })
}

fn decode_kv(key: &[u8], raw: &[u8]) -> Result<KeyValue, Error> {
    read_kv(&mut Reader(raw), key)
}

fn encode_event(e: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    put_u64(&mut out, e.revision);
    put_bytes(&mut out, &e.key);
    for kv in [&e.kv, &e.prev] {
        match kv {
            Some(kv) => {
                out.push(1);
                encode_kv_into(&mut out, kv);
            }
            None => out.push(0),
        }
    }
    out
}

fn decode_event(raw: &[u8]) -> Result<Event, Error> {
    let mut r = Reader(raw);
    let revision = r.u64()?;
    let key = r.bytes()?;
    let read_opt = |r: &mut Reader| -> Result<Option<KeyValue>, Error> {
        let (&flag, rest) =
            r.0.split_first()
                .ok_or_else(|| Error::Corrupt("truncated event".into()))?;
        r.0 = rest;
        if flag == 1 {
            Ok(Some(read_kv(r, &key)?))
        } else {
            Ok(None)
        }
    };
    let kv = read_opt(&mut r)?;
    let prev = read_opt(&mut r)?;
    Ok(Event {
        kind: if kv.is_some() {
            EventType::Put
        } else {
            EventType::Delete
        },
        revision,
        key,
        kv,
        prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
