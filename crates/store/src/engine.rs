//! The bottom layer: an ordered key space with atomic, durable batches.
//!
//! etcd keeps its data in bbolt, an ordered B+tree with transactions. The
//! revision logic in [`crate::mvcc`] only needs three things from such a
//! database, so that is all an [`Engine`] offers:
//!
//! - `get` one key,
//! - `scan` an ordered range of keys,
//! - `commit` a batch of puts and deletes *atomically and durably*.
//!
//! Two engines exist: [`SledEngine`] (the default, on disk) and
//! [`MemoryEngine`] (for unit tests and the `fake` runtime's scale tests).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use crate::Error;

/// One write inside a [`Batch`]: `Some(value)` puts, `None` deletes.
pub type Op = (Vec<u8>, Option<Vec<u8>>);

/// Key/value pairs as a scan returns them, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A group of writes that become visible (and durable) together or not at all.
#[derive(Default, Debug)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((key, Some(value)));
    }
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }
}

/// An ordered, transactional key space (what bbolt is to etcd).
pub trait Engine: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;
    /// Keys in `[start, end)` in order; at most `limit` of them if given.
    fn scan(&self, start: &[u8], end: &[u8], limit: Option<usize>) -> Result<Rows, Error>;
    /// Applies every op or none, and returns only once the batch is on disk.
    fn commit(&self, batch: Batch) -> Result<(), Error>;
}

/// The embedded default: [sled](https://docs.rs/sled).
///
/// sled batches are atomic across a crash. By default sled flushes its log
/// every 500 ms, which would let us acknowledge a write that a power cut then
/// loses; so `commit` calls `flush()` (an fsync) before it returns, as etcd
/// fsyncs its WAL before it answers a client.
pub struct SledEngine {
    db: sled::Db,
}

impl SledEngine {
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let db = sled::Config::new()
            .path(dir)
            // The periodic background flush is not needed: we flush ourselves.
            .flush_every_ms(None)
            // sled caches up to 1 GiB of pages by default; a learner's cluster
            // fits in far less, and the API server keeps no second copy.
            .cache_capacity(64 * 1024 * 1024)
            .open()
            .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(SledEngine { db })
    }
}

fn backend(e: sled::Error) -> Error {
    Error::Backend(e.to_string())
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.db.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: Option<usize>) -> Result<Rows, Error> {
        let mut out = Vec::new();
        for item in self.db.range(start.to_vec()..end.to_vec()) {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let (k, v) = item.map_err(backend)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<(), Error> {
        let mut b = sled::Batch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.db.apply_batch(b).map_err(backend)?;
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}

/// Everything in a `BTreeMap`: for unit tests and scale tests, never durable.
#[derive(Default)]
pub struct MemoryEngine {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Engine for MemoryEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: Option<usize>) -> Result<Rows, Error> {
        let map = self.map.lock().unwrap();
        let range = map.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        Ok(range
            .take(limit.unwrap_or(usize::MAX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<(), Error> {
        let mut map = self.map.lock().unwrap();
        for (k, v) in batch.ops {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
}
