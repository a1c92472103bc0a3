//! What a kind adds to the generic create / update / delete path.
//!
//! The API server's registry ([`crate::objects`]) is generic: it decodes,
//! checks resource versions, runs finalizers and writes to the store the
//! same way for every kind, and names none. Everything that differs from
//! kind to kind — the defaults a Deployment gets, the rules a Service must
//! follow, the status a new Pod starts with, the cluster IP a Service is
//! given, the way a Pod on a node is deleted gracefully, the columns of
//! `kubectl get` — is the kind's **strategy**, registered by the chapter
//! that introduces the behaviour. This is upstream's pattern:
//! `rest.RESTCreateStrategy`, `RESTUpdateStrategy`,
//! `RESTGracefulDeleteStrategy` and a `TableConvertor` per kind, in
//! `pkg/registry/<group>/<kind>/strategy.go`.
//!
//! A kind may have several strategies, one per chapter that adds to it:
//! chapter 01 knows what a Service *is* (defaults, validation, columns),
//! chapter 03 gives it an address (allocation). They run in the order they
//! were registered; for the table printer, the last registered wins.
//!
//! The path of a create, and where each hook runs:
//!
//! ```text
//! request body ─▶ prepare_for_create ─▶ default ─▶ decode + validate ─▶ allocate ─▶ store
//!                 (status, stringData)             (field paths)        (IPs, ports)
//! ```

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use kubelab_api::ResourceInfo;
use kubelab_api::validation::Cause;
use serde_json::Value;

use crate::objects::Objects;
use crate::status::ApiError;
use crate::storage::Transformer;
use crate::table::Printer;

/// Held from an allocation until the object is stored (a lock, so that no
/// other write takes the same address meanwhile).
pub type Guard = Box<dyn Any + Send>;

/// One kind's behaviour, or one chapter's addition to it. Every method has
/// a default that does nothing, so a strategy implements only what its
/// kind needs.
#[async_trait::async_trait]
pub trait Strategy: Send + Sync + 'static {
    /// Upstream `PrepareForCreate`: what the server decides whatever the
    /// client sent, e.g. a new pod's status. Runs before defaulting.
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Upstream `PrepareForUpdate` of the main resource: carry over from
    /// the stored object what the client may not change this way.
    fn prepare_for_update(&self, _old: &Value, _obj: &mut Value) {}

    /// Fills in defaults (upstream's `SetDefaults_<Kind>`).
    fn default(&self, _obj: &mut Value) {}

    /// Validation of a new object (upstream's `Validate<Kind>`), with
    /// field paths.
    fn validate(&self, _obj: &Value, _causes: &mut Vec<Cause>) {}

    /// Validation of an update; by default the create rules.
    fn validate_update(&self, _old: &Value, obj: &Value, causes: &mut Vec<Cause>) {
        self.validate(obj, causes)
    }

    /// After validation, with the API at hand: give the object what it
    /// needs from a shared pool (a Service's cluster IP and node ports).
    /// `old` is the stored object on an update. The guard is held until
    /// the object is stored.
    async fn allocate(
        &self,
        _objects: &Objects,
        _obj: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Option<Guard>, ApiError> {
        Ok(None)
    }

    /// Upstream `CheckGracefulDelete`: `Some(seconds)` when a DELETE should
    /// only mark the object (`deletionTimestamp` in that many seconds) and
    /// leave its removal to whoever acts on it — a pod's kubelet.
    /// `requested` is the client's `gracePeriodSeconds`.
    fn graceful_delete(&self, _current: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }

    /// Whether a DELETE always only marks the object, even without
    /// finalizers (a namespace waits for its contents), and what the mark
    /// changes besides `deletionTimestamp` (its phase).
    fn mark_for_deletion(&self, _obj: &mut Value) -> bool {
        false
    }

    /// Whether the object may not go yet although its `metadata.finalizers`
    /// are empty (a namespace's `spec.finalizers`).
    fn holds_deletion(&self, _obj: &Value) -> bool {
        false
    }

    /// `Some(false)` for kinds whose status is not reset on create (the
    /// client's status is kept: nodes, namespaces, volumes); by default a
    /// kind with a `status` subresource starts with an empty status.
    fn keeps_status_on_create(&self) -> Option<bool> {
        None
    }

    /// `Some(false)` when a write of the main resource may change the
    /// status too (namespaces); by default a kind with a `status`
    /// subresource ignores status on its main resource.
    fn status_only_via_subresource(&self) -> Option<bool> {
        None
    }

    /// `Some(true)` when `metadata.generation` counts spec changes although
    /// the kind has no status subresource (namespaces).
    fn tracks_generation(&self) -> Option<bool> {
        None
    }

    /// How the kind's values are stored ([`crate::storage`]): encryption at
    /// rest is a transformer a later chapter gives Secrets.
    fn transformer(&self) -> Option<Arc<dyn Transformer>> {
        None
    }

    /// The columns of `kubectl get` (upstream's `TableConvertor`), columns
    /// and cells together ([`crate::printers`]).
    fn printer(&self) -> Option<Arc<Printer>> {
        None
    }
}

/// A strategy that only prints: how a chapter gives a kind its columns.
pub struct Columns(pub Arc<Printer>);

impl Strategy for Columns {
    fn printer(&self) -> Option<Arc<Printer>> {
        Some(self.0.clone())
    }
}

/// Every kind's strategies, as the installed chapters registered them.
#[derive(Default, Clone)]
pub struct Strategies {
    by_kind: HashMap<(&'static str, &'static str), Vec<Arc<dyn Strategy>>>,
}

impl Strategies {
    /// Adds a strategy for `kind` in `group` (`""` for the core group),
    /// after those registered before.
    pub fn register(
        &mut self,
        group: &'static str,
        kind: &'static str,
        strategy: impl Strategy,
    ) -> &mut Self {
        self.by_kind
            .entry((group, kind))
            .or_default()
            .push(Arc::new(strategy));
        self
    }

    /// `(key prefix, transformer)` of every resource whose strategy has a
    /// transformer (the last registered wins).
    pub fn transformers(&self) -> crate::storage::ByPrefix {
        kubelab_api::RESOURCES
            .iter()
            .filter_map(|info| {
                let t = self.of(info).last(|s| s.transformer())?;
                Some((crate::objects::prefix(info, None), t))
            })
            .collect()
    }

    /// The strategies of one resource, composed.
    pub fn of(&self, info: &'static ResourceInfo) -> KindStrategy<'_> {
        KindStrategy {
            info,
            layers: self
                .by_kind
                .get(&(info.group, info.kind))
                .map_or(&[][..], Vec::as_slice),
        }
    }
}

/// A resource's strategies run one after another, plus the rules that
/// hold for every kind.
pub struct KindStrategy<'a> {
    info: &'static ResourceInfo,
    layers: &'a [Arc<dyn Strategy>],
}

impl KindStrategy<'_> {
    fn last<T>(&self, f: impl Fn(&dyn Strategy) -> Option<T>) -> Option<T> {
        self.layers.iter().rev().find_map(|s| f(s.as_ref()))
    }

    pub fn prepare_for_create(&self, obj: &mut Value) {
        let keeps = self
            .last(|s| s.keeps_status_on_create())
            .unwrap_or(!self.info.has_status());
        if !keeps && let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), serde_json::json!({}));
        }
        for s in self.layers {
            s.prepare_for_create(obj);
        }
    }

    pub fn prepare_for_update(&self, old: &Value, obj: &mut Value) {
        for s in self.layers {
            s.prepare_for_update(old, obj);
        }
    }

    pub fn default(&self, obj: &mut Value) {
        for s in self.layers {
            s.default(obj);
        }
    }

    pub fn validate(&self, old: Option<&Value>, obj: &Value) -> Vec<Cause> {
        let mut causes = Vec::new();
        for s in self.layers {
            match old {
                None => s.validate(obj, &mut causes),
                Some(old) => s.validate_update(old, obj, &mut causes),
            }
        }
        causes
    }

    pub async fn allocate(
        &self,
        objects: &Objects,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<Guard>, ApiError> {
        let mut guards = Vec::new();
        for s in self.layers {
            guards.extend(s.allocate(objects, obj, old).await?);
        }
        Ok(guards)
    }

    pub fn graceful_delete(&self, current: &Value, requested: Option<i64>) -> Option<i64> {
        self.last(|s| s.graceful_delete(current, requested))
    }

    pub fn mark_for_deletion(&self, obj: &mut Value) -> bool {
        // Every layer marks (no short cut): each may change the object.
        let mut always = false;
        for s in self.layers {
            always |= s.mark_for_deletion(obj);
        }
        always
    }

    pub fn holds_deletion(&self, obj: &Value) -> bool {
        self.layers.iter().any(|s| s.holds_deletion(obj))
    }

    pub fn status_only_via_subresource(&self) -> bool {
        self.last(|s| s.status_only_via_subresource())
            .unwrap_or(self.info.has_status())
    }

    pub fn tracks_generation(&self) -> bool {
        self.last(|s| s.tracks_generation())
            .unwrap_or(self.info.has_status())
    }

    /// The kind's printer, or the default one (name and age).
    pub fn printer(&self) -> Arc<Printer> {
        self.last(|s| s.printer())
            .unwrap_or_else(|| Arc::new(Printer::fallback()))
    }
}
