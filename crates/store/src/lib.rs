//! # kubelab-store — the cluster's memory (chapter 01)
//!
//! Kubernetes keeps every object in etcd, and the API server is etcd's only
//! client. What the API server relies on is etcd's *data model*, not its
//! consensus protocol, and that model is small:
//!
//! - **One global revision.** Every write (create, update, delete) bumps a
//!   single counter. An object's `metadata.resourceVersion` is simply the
//!   revision of its last write (its `mod_revision`).
//! - **Per-key bookkeeping.** Each key remembers `create_revision`,
//!   `mod_revision` and `version` (how many times it was written).
//! - **Compare-and-swap.** "Write this only if the key was last modified at
//!   revision R" is how optimistic concurrency works: a `PUT` carrying a
//!   stale `resourceVersion` loses with HTTP 409 Conflict instead of silently
//!   overwriting somebody else's change.
//! - **Range reads at a revision**, with a limit, so a list can be paged and
//!   every page still shows the same moment in time.
//! - **Watch from a revision.** Every write is also appended to an event log;
//!   a watcher says "everything after revision R", gets the past events
//!   replayed from the log and then the live ones, in order, with no gap and
//!   no duplicate. That is what lets every controller in the cluster keep an
//!   up-to-date cache with `list` + `watch`.
//! - **Compaction** throws away old log entries. A watch that asks for a
//!   revision older than what is left fails with [`Error::Compacted`], which
//!   the API server turns into HTTP 410 Gone (`reason: Expired`), and clients
//!   re-list.
//!
//! ## Where to start reading
//! 1. [`Store`]: the trait the API server programs against.
//! 2. [`mvcc::RevisionedStore`]: the whole model implemented once, on top of
//! 3. [`engine::Engine`]: an ordered key space with atomic, durable batches —
//!    [`engine::SledEngine`] on disk (the default) or
//!    [`engine::MemoryEngine`] for tests.
//!
//! [`etcd::EtcdStore`] implements [`Store`] directly over a real etcd
//! cluster (`--store etcd://…`): same trait, etcd's revisions.

pub mod engine;
pub mod etcd;
pub mod local_etcd;
pub mod mvcc;

pub use engine::{Engine, MemoryEngine, SledEngine};
pub use etcd::EtcdStore;
pub use local_etcd::LocalEtcd;
pub use mvcc::{Pending, RevisionedStore, Watch};

use std::path::Path;
use std::sync::Arc;

/// One key as etcd describes it (`mvccpb.KeyValue`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    /// Revision of the write that created this key (since its last delete).
    pub create_revision: u64,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: u64,
    /// Number of writes since the key was created (1 after a create).
    pub version: u64,
    pub value: Vec<u8>,
}

/// What happened to a key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// One entry of the event log, as a watcher receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// The revision of this write.
    pub revision: u64,
    pub key: Vec<u8>,
    /// The key after the write (`None` for a delete).
    pub kv: Option<KeyValue>,
    /// The key before the write (`None` for a create).
    pub prev: Option<KeyValue>,
}

/// A range read: keys in `[start, end)`.
#[derive(Clone, Debug, Default)]
pub struct RangeRequest {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    /// Read the range as it was at this revision (`None`: now).
    pub revision: Option<u64>,
    /// At most this many keys (`None`: all).
    pub limit: Option<usize>,
}

impl RangeRequest {
    /// Every key that starts with `prefix`, as etcd's `--prefix` does.
    pub fn prefix(prefix: &[u8]) -> Self {
        RangeRequest {
            start: prefix.to_vec(),
            end: prefix_end(prefix),
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// The revision the read was served at.
    pub revision: u64,
    /// How many keys of the range were left out because of `limit`.
    pub remaining: usize,
}

/// The smallest key greater than every key with this prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // An empty prefix (or all 0xff) means "to the end of the key space".
    vec![0xff; 1024]
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("key already exists")]
    AlreadyExists,
    #[error("key not found")]
    NotFound,
    /// The compare in compare-and-swap failed: the key was modified since.
    #[error("the key was modified (now at revision {current})")]
    Conflict { current: u64 },
    /// The requested revision is older than the oldest kept in the log.
    #[error("required revision {requested} has been compacted (oldest kept is {compacted})")]
    Compacted { requested: u64, compacted: u64 },
    /// The requested revision has not happened yet.
    #[error("required revision {requested} is in the future (current is {current})")]
    FutureRevision { requested: u64, current: u64 },
    #[error("storage backend: {0}")]
    Backend(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    /// The data was written in another layout (see `mvcc`'s `m/format`).
    #[error("{0}")]
    Format(String),
}

/// A write, as the store's committer decides it against the key's current
/// value (etcd's `Txn` with one compare and one put or delete).
#[derive(Clone, Debug)]
pub enum Write {
    /// Put `value` only if the key does not exist ([`Error::AlreadyExists`]).
    Create(Vec<u8>),
    /// Replace the key's value. With `expected`, only if the key is still at
    /// that mod revision ([`Error::Conflict`] otherwise); [`Error::NotFound`]
    /// if it does not exist.
    Update {
        value: Vec<u8>,
        expected: Option<u64>,
    },
    /// Delete the key; same compare as `Update`.
    Delete { expected: Option<u64> },
}

/// etcd's API, as much of it as the API server uses.
///
/// Reads are synchronous and quick. Writes are queued with [`Store::submit`],
/// whose [`Pending`] an async caller awaits; `create`, `update` and `delete`
/// wait for it on the calling thread. Either way a write is answered only
/// once it is durable.
pub trait Store: Send + Sync + 'static {
    /// The revision of the last write.
    fn current_revision(&self) -> u64;
    /// Revisions at or below this have been compacted away.
    fn compacted_revision(&self) -> u64;
    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, Error>;
    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Error>;
    /// Queues a write; the answer comes once it is durable (or refused).
    fn submit(&self, key: &[u8], write: Write) -> Pending;
    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists.
    fn create(&self, key: &[u8], value: Vec<u8>) -> Result<KeyValue, Error> {
        self.submit(key, Write::Create(value)).wait()
    }
    /// Replaces `key`. With `expected_mod_revision`, only if the key is still
    /// at that revision ([`Error::Conflict`] otherwise).
    fn update(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expected_mod_revision: Option<u64>,
    ) -> Result<KeyValue, Error> {
        let expected = expected_mod_revision;
        self.submit(key, Write::Update { value, expected }).wait()
    }
    /// Deletes `key` and returns what it held; same compare as `update`.
    fn delete(&self, key: &[u8], expected_mod_revision: Option<u64>) -> Result<KeyValue, Error> {
        let expected = expected_mod_revision;
        self.submit(key, Write::Delete { expected }).wait()
    }
    /// Every event for keys in `[start, end)` with a revision greater than
    /// `after_revision`: first replayed from the log, then live.
    fn watch(&self, start: &[u8], end: &[u8], after_revision: u64) -> Result<Watch, Error>;
    /// Whether the key's stored value should be written again even if the
    /// object did not change: a layer above rewrites values in a newer form
    /// (encryption at rest with a new key). A plain store never asks.
    fn is_stale(&self, _key: &[u8]) -> bool {
        false
    }
    /// Forgets log entries at or below `revision`.
    fn compact(&self, revision: u64) -> Result<(), Error>;
}

/// Opens the default store: sled in `dir`.
pub fn open_sled(dir: &Path) -> Result<Arc<dyn Store>, Error> {
    Ok(Arc::new(RevisionedStore::open(SledEngine::open(dir)?)?))
}

/// Opens the store a `--store` flag names: `etcd://h1:2379,…[/prefix]`.
pub fn open_etcd(url: &str) -> Result<Arc<dyn Store>, Error> {
    Ok(Arc::new(EtcdStore::connect(url)?))
}

/// A fresh store that lives in memory only.
pub fn in_memory() -> Arc<dyn Store> {
    Arc::new(RevisionedStore::open(MemoryEngine::default()).expect("memory engine cannot fail"))
}
