//! What a resource's values look like on disk: transformers.
//!
//! The registry ([`crate::objects`]) reads and writes JSON. Between it and
//! the store sits this layer, which may change the bytes of some resources
//! on their way to disk and back — upstream's `value.Transformer` in the
//! storage layer, which is how `--encryption-provider-config` encrypts
//! Secrets at rest. A kind's strategy offers a transformer
//! ([`crate::strategy::Strategy::transformer`]); chapter 01 has none, so
//! its values are plain JSON, and a later chapter (04: Secrets encrypted at
//! rest) adds one without touching the registry.
//!
//! Reading must work whatever was written before: a transformer is asked
//! to read every stored value of its resource, including plain JSON from
//! before it was configured, as upstream's identity fallback allows.

use std::sync::Arc;

use kubelab_store::{
    Error, Event, KeyValue, Pending, RangeRequest, RangeResponse, Store, Watch, Write,
};

/// Turns a resource's plain values into what the store keeps, and back.
pub trait Transformer: Send + Sync + 'static {
    /// Plain JSON → stored bytes.
    fn transform_to_storage(&self, key: &[u8], plain: &[u8]) -> Result<Vec<u8>, String>;
    /// Stored bytes → plain JSON.
    fn transform_from_storage(&self, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether stored bytes are in an older form than what [`transform_to_storage`]
    /// writes now (another key, or plain): then an update that changes
    /// nothing still writes, which is how `kubectl replace` of every Secret
    /// moves them to a new key (upstream: a transformer's `stale` answer).
    ///
    /// [`transform_to_storage`]: Transformer::transform_to_storage
    fn is_stale(&self, _stored: &[u8]) -> bool {
        false
    }
}

/// `(key prefix, transformer)` pairs, e.g. `/registry/secrets/`.
pub type ByPrefix = Vec<(Vec<u8>, Arc<dyn Transformer>)>;

/// A store whose values under some key prefixes pass through transformers.
pub struct TransformingStore {
    inner: Arc<dyn Store>,
    by_prefix: Arc<ByPrefix>,
}

impl TransformingStore {
    pub fn new(inner: Arc<dyn Store>, by_prefix: ByPrefix) -> TransformingStore {
        TransformingStore {
            inner,
            by_prefix: Arc::new(by_prefix),
        }
    }
}

fn transformer_of<'a>(
    by_prefix: &'a [(Vec<u8>, Arc<dyn Transformer>)],
    key: &[u8],
) -> Option<&'a Arc<dyn Transformer>> {
    by_prefix
        .iter()
        .find(|(p, _)| key.starts_with(p))
        .map(|(_, t)| t)
}

fn read(
    by_prefix: &[(Vec<u8>, Arc<dyn Transformer>)],
    mut kv: KeyValue,
) -> Result<KeyValue, Error> {
    if let Some(t) = transformer_of(by_prefix, &kv.key) {
        kv.value = t.transform_from_storage(&kv.key, &kv.value).map_err(|e| {
            Error::Backend(format!("reading {}: {e}", String::from_utf8_lossy(&kv.key)))
        })?;
    }
    Ok(kv)
}

impl Store for TransformingStore {
    fn current_revision(&self) -> u64 {
        self.inner.current_revision()
    }

    fn compacted_revision(&self) -> u64 {
        self.inner.compacted_revision()
    }

    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, Error> {
        self.inner
            .get(key)?
            .map(|kv| read(&self.by_prefix, kv))
            .transpose()
    }

    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Error> {
        let mut r = self.inner.range(req)?;
        r.kvs = r
            .kvs
            .into_iter()
            .map(|kv| read(&self.by_prefix, kv))
            .collect::<Result<_, _>>()?;
        Ok(r)
    }

    fn submit(&self, key: &[u8], write: Write) -> Pending {
        let Some(t) = transformer_of(&self.by_prefix, key) else {
            return self.inner.submit(key, write);
        };
        let transformed = match write {
            Write::Create(v) => t.transform_to_storage(key, &v).map(Write::Create),
            Write::Update { value, expected } => t
                .transform_to_storage(key, &value)
                .map(|value| Write::Update { value, expected }),
            delete @ Write::Delete { .. } => Ok(delete),
        };
        let by_prefix = self.by_prefix.clone();
        match transformed {
            Ok(w) => {
                // The answer carries the stored value: give it back plain.
                let pending = self.inner.submit(key, w);
                Pending::from_future(
                    async move { pending.await.and_then(|kv| read(&by_prefix, kv)) },
                )
            }
            Err(e) => Pending::failed(Error::Backend(format!("writing: {e}"))),
        }
    }

    fn watch(&self, start: &[u8], end: &[u8], after_revision: u64) -> Result<Watch, Error> {
        let by_prefix = self.by_prefix.clone();
        Ok(self
            .inner
            .watch(start, end, after_revision)?
            .map(move |mut e: Event| {
                // A value that cannot be read is passed on as it is stored:
                // the watcher's decode then fails and skips it, loudly.
                let plain = |kv: KeyValue| {
                    let keep = kv.clone();
                    read(&by_prefix, kv).unwrap_or(keep)
                };
                e.kv = e.kv.map(plain);
                e.prev = e.prev.map(plain);
                e
            }))
    }

    fn compact(&self, revision: u64) -> Result<(), Error> {
        self.inner.compact(revision)
    }

    fn is_stale(&self, key: &[u8]) -> bool {
        let Some(t) = transformer_of(&self.by_prefix, key) else {
            return false;
        };
        matches!(self.inner.get(key), Ok(Some(kv)) if t.is_stale(&kv.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores values reversed, behind a marker: enough to see the layer work.
    struct Reverse;
    impl Transformer for Reverse {
        fn transform_to_storage(&self, _key: &[u8], plain: &[u8]) -> Result<Vec<u8>, String> {
            let mut v = b"rev:".to_vec();
            v.extend(plain.iter().rev());
            Ok(v)
        }
        fn transform_from_storage(&self, _key: &[u8], stored: &[u8]) -> Result<Vec<u8>, String> {
            match stored.strip_prefix(b"rev:") {
                Some(r) => Ok(r.iter().rev().copied().collect()),
                None => Ok(stored.to_vec()),
            }
        }
        fn is_stale(&self, stored: &[u8]) -> bool {
            !stored.starts_with(b"rev:")
        }
    }

    #[tokio::test]
    async fn values_under_a_prefix_are_transformed_on_disk_and_plain_to_readers() {
        let raw = kubelab_store::in_memory();
        let s = TransformingStore::new(raw.clone(), vec![(b"/s/".to_vec(), Arc::new(Reverse))]);
        let mut watch = s.watch(b"/", b"0", 0).unwrap();
        let kv = s
            .submit(b"/s/a", Write::Create(b"{\"x\":1}".to_vec()))
            .await
            .unwrap();
        assert_eq!(
            kv.value, b"{\"x\":1}",
            "the write answers with the plain value"
        );
        s.submit(b"/c/a", Write::Create(b"{}".to_vec()))
            .await
            .unwrap();
        assert_eq!(raw.get(b"/s/a").unwrap().unwrap().value, b"rev:}1:\"x\"{");
        assert_eq!(
            raw.get(b"/c/a").unwrap().unwrap().value,
            b"{}",
            "other keys untouched"
        );
        assert_eq!(s.get(b"/s/a").unwrap().unwrap().value, b"{\"x\":1}");
        let all = s.range(&RangeRequest::prefix(b"/")).unwrap();
        assert!(all.kvs.iter().all(|kv| kv.value.starts_with(b"{")));
        let e = watch.next().await.unwrap();
        assert_eq!(e.kv.unwrap().value, b"{\"x\":1}");
        // Plain values written before the transformer still read, and are stale.
        raw.submit(b"/s/old", Write::Create(b"{}".to_vec()))
            .await
            .unwrap();
        assert_eq!(s.get(b"/s/old").unwrap().unwrap().value, b"{}");
        assert!(s.is_stale(b"/s/old") && !s.is_stale(b"/s/a") && !s.is_stale(b"/c/a"));
    }

    struct Encrypted;
    impl crate::strategy::Strategy for Encrypted {
        fn transformer(&self) -> Option<Arc<dyn Transformer>> {
            Some(Arc::new(Reverse))
        }
    }

    #[tokio::test]
    async fn a_strategy_with_a_transformer_changes_only_its_kinds_values_on_disk() {
        use crate::objects::{ListOptions, Objects};
        use crate::strategy::Strategies;
        let raw = kubelab_store::in_memory();
        let mut strategies = Strategies::default();
        crate::kinds::register(&mut strategies);
        strategies.register("", "Secret", Encrypted);
        let objects = Objects::with_strategies(raw.clone(), strategies);
        crate::bootstrap(&objects).await.unwrap();
        let secrets = kubelab_api::registry::by_kind("v1", "Secret").unwrap();
        let cms = kubelab_api::registry::by_kind("v1", "ConfigMap").unwrap();
        let body = serde_json::json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}});
        objects
            .create(secrets, Some("default"), body.clone(), Default::default())
            .await
            .unwrap();
        objects
            .create(cms, Some("default"), body, Default::default())
            .await
            .unwrap();
        let on_disk = raw
            .get(b"/registry/secrets/default/s")
            .unwrap()
            .unwrap()
            .value;
        assert!(
            on_disk.starts_with(b"rev:"),
            "{}",
            String::from_utf8_lossy(&on_disk)
        );
        let cm_on_disk = raw
            .get(b"/registry/configmaps/default/s")
            .unwrap()
            .unwrap()
            .value;
        assert!(cm_on_disk.starts_with(b"{"));
        let read = objects.get(secrets, Some("default"), "s").await.unwrap();
        assert_eq!(read["data"]["k"], "dg==");
        let listed = objects
            .list(secrets, None, &ListOptions::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
    }
}
