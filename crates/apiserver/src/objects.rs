//! The generic registry: create, read, update and delete *any* kind.
//!
//! Upstream, one generic `registry.Store` serves almost every resource and
//! each kind only plugs in a *strategy* (how to default, validate and
//! prepare it). This module is that store. Every write goes through the
//! same steps, in upstream's order:
//!
//! ```text
//! create: set kind/apiVersion → name/generateName → defaults → decode
//!         into the real type (types, unknown fields) → validate → uid,
//!         creationTimestamp, generation → store.create (fails if it exists)
//! update: read current → keep what the client may not change (uid, status
//!         or spec, depending on subresource) → defaults → decode → validate
//!         (with immutable fields) → generation+1 if the spec changed →
//!         store.update comparing resourceVersions (409 if stale)
//! delete: finalizers? set deletionTimestamp and wait : store.delete
//! ```
//!
//! Objects live in the store under `/registry/<resource>/<ns>/<name>`
//! (etcd's layout), and `metadata.resourceVersion` is the store revision
//! of the object's last write.

use std::sync::Arc;

use base64::Engine as _;
use kubelab_api::meta;
use kubelab_api::registry::{self, ResourceInfo};
use kubelab_api::schema::{self, DecodeError};
use kubelab_api::selector::{FieldSelector, LabelSelector, Matcher, Requirement, labels_of};
use kubelab_api::validation::{self, Cause};
use kubelab_store::{KeyValue, RangeRequest, Store, Write, prefix_end};
use serde_json::{Value, json};

use crate::status::ApiError;
use crate::strategy::{KindStrategy, Strategies};

/// Objects whose stored JSON is larger than this are refused (etcd's
/// default request limit is 1.5 MiB).
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// How strictly to treat fields the schema does not know (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// The server's default: drop them and answer with a warning.
    Warn,
    /// kubectl's default: refuse the request.
    Strict,
}

/// Options common to writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_validation: FieldValidation::Warn,
        }
    }
}

/// A successful write: the object and any warnings for the client.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// `?propagationPolicy=` (or the DeleteOptions body): what happens to the
/// objects this one owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now; the garbage collector deletes dependents after.
    Background,
    /// Delete dependents first; the owner waits with a `foregroundDeletion` finalizer.
    Foreground,
    /// Keep dependents; the GC removes their owner references.
    Orphan,
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// A list page as JSON bytes per item (see [`Objects::list_raw`]).
#[derive(Debug)]
pub struct RawList {
    pub items: Vec<Vec<u8>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

#[derive(Debug)]
pub struct ListResult {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// The generic registry over one [`Store`].
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn Store>,
    /// What each kind adds to the generic path ([`crate::strategy`]).
    strategies: Arc<Strategies>,
    /// Checks label selector requirements in lists and watches.
    label_matcher: Matcher,
}

/// Runs a long store call (a range over many keys) off the async runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("store task panicked")
}

/// Where a resource's objects live, laid out as kube-apiserver lays out
/// etcd: built-in resources right under `/registry/` (a few under their
/// historical names: nodes are `minions`, Services `services/specs`),
/// every other group's under `/registry/<group>/<resource>/`.
///
/// Simplification: upstream stores `events.k8s.io` Events and core Events
/// as the same objects under `/registry/events/`; kubelab serves them as
/// two resources, so the newer group's live under its group name.
pub fn resource_path(info: &ResourceInfo) -> String {
    const BUILT_IN: &[&str] = &[
        "",
        "apps",
        "autoscaling",
        "batch",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
    ];
    match (info.group, info.plural) {
        ("", "nodes") => "minions".into(),
        ("", "services") => "services/specs".into(),
        ("", "endpoints") => "services/endpoints".into(),
        ("", "replicationcontrollers") => "controllers".into(),
        (group, plural) if BUILT_IN.contains(&group) => plural.into(),
        (group, plural) => format!("{group}/{plural}"),
    }
}

/// `/registry/<resource>/[<namespace>/]<name>` (see [`resource_path`]).
pub fn key(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> Vec<u8> {
    let mut k = prefix(info, namespace);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The key prefix for a list: all namespaces, or one.
pub fn prefix(info: &ResourceInfo, namespace: Option<&str>) -> Vec<u8> {
    let mut k = format!("/registry/{}/", resource_path(info));
    if let (true, Some(ns)) = (info.namespaced, namespace) {
        k.push_str(ns);
        k.push('/');
    }
    k.into_bytes()
}

fn is_filtered(opts: &ListOptions) -> bool {
    opts.label_selector.as_ref().is_some_and(|s| !s.is_empty())
        || opts
            .field_selector
            .as_ref()
            .is_some_and(|s| !s.terms.is_empty())
}

/// The continue token and remaining count after a page. Filtered pages
/// stop at `next_key`; unfiltered ones after their last key.
fn page_tokens(
    resp: &kubelab_store::RangeResponse,
    filtered: bool,
    next_key: Option<Vec<u8>>,
) -> (Option<String>, Option<usize>) {
    if filtered {
        (next_key.map(|k| make_continue(resp.revision, &k)), None)
    } else if let (true, Some(last)) = (resp.remaining > 0, resp.kvs.last()) {
        let mut after = last.key.clone();
        after.push(0);
        (
            Some(make_continue(resp.revision, &after)),
            Some(resp.remaining),
        )
    } else {
        (None, None)
    }
}

/// Store bytes → the JSON a client receives, without parsing: objects are
/// stored as `{"apiVersion":…,"kind":…,"metadata":{…}…}` with no
/// resourceVersion (see `encode`), so it is spliced in right after
/// `"metadata":{`. Anything laid out otherwise takes the parsing path.
pub fn encode_for_client(kv: &KeyValue) -> Result<Vec<u8>, ApiError> {
    const META: &[u8] = b"\"metadata\":{";
    let raw = &kv.value;
    if let Some(pos) = raw.windows(META.len()).position(|w| w == META)
        && raw.first() == Some(&b'{')
        && !raw[1..pos].contains(&b'{')
    {
        let at = pos + META.len();
        let mut out = Vec::with_capacity(raw.len() + 32);
        out.extend_from_slice(&raw[..at]);
        out.extend_from_slice(format!("\"resourceVersion\":\"{}\"", kv.mod_revision).as_bytes());
        if raw.get(at) != Some(&b'}') {
            out.push(b',');
        }
        out.extend_from_slice(&raw[at..]);
        return Ok(out);
    }
    serde_json::to_vec(&decode(kv)?).map_err(|e| ApiError::internal(e.to_string()))
}

/// Store bytes → object, with `resourceVersion` = the key's mod revision.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("corrupt object in store: {e}")))?;
    meta::metadata_mut(&mut obj)
        .insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
    Ok(obj)
}

/// The object just written as a read would return it: [`decode`] of what
/// [`encode`] stored, without parsing the bytes again.
fn as_stored(mut obj: Value, kv: &KeyValue) -> Value {
    let m = meta::metadata_mut(&mut obj);
    // Removed and added back as `encode` and `decode` do, so the keys keep
    // the order a later read gives them.
    m.remove("resourceVersion");
    m.insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
    obj
}

fn encode(obj: &Value) -> Result<Vec<u8>, ApiError> {
    let mut obj = obj.clone();
    // The revision is the store's business; it is filled in on every read.
    meta::metadata_mut(&mut obj).remove("resourceVersion");
    let bytes = serde_json::to_vec(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::too_large(format!(
            "Request entity too large: the object is {} bytes, the limit is {MAX_OBJECT_BYTES}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn parse_rv(obj: &Value) -> Result<Option<u64>, ApiError> {
    match obj.pointer("/metadata/resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}"))),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid resourceVersion {other}"
        ))),
    }
}

impl Objects {
    /// A registry with chapter 01's strategies ([`crate::kinds`]).
    pub fn new(store: Arc<dyn Store>) -> Self {
        let mut strategies = Strategies::default();
        crate::kinds::register(&mut strategies);
        Self::with_strategies(store, strategies)
    }

    /// A registry with the strategies the installed chapters registered.
    pub fn with_strategies(store: Arc<dyn Store>, strategies: Strategies) -> Self {
        // Resources whose values are transformed on their way to disk
        // (encryption at rest) are read and written through that layer.
        let transformers = strategies.transformers();
        let store: Arc<dyn Store> = if transformers.is_empty() {
            store
        } else {
            Arc::new(crate::storage::TransformingStore::new(store, transformers))
        };
        Objects {
            store,
            strategies: Arc::new(strategies),
            label_matcher: Requirement::matches,
        }
    }

    /// The strategies of one resource.
    pub fn strategy(&self, info: &'static ResourceInfo) -> KindStrategy<'_> {
        self.strategies.of(info)
    }

    /// Uses another label-selector requirement checker (lab 01 plugs in here).
    pub fn with_label_matcher(mut self, matcher: Matcher) -> Self {
        self.label_matcher = matcher;
        self
    }

    /// Whether `obj` is selected by both selectors of a list or watch.
    pub fn selects(&self, opts: &ListOptions, obj: &Value) -> bool {
        opts.label_selector
            .as_ref()
            .is_none_or(|s| s.matches_with(&labels_of(obj), self.label_matcher))
            && opts.field_selector.as_ref().is_none_or(|s| s.matches(obj))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn get(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let k = key(info, namespace, name);
        // A store read is quick (a lookup in sled's cache), so it runs here
        // rather than on a blocking thread.
        match self.store.get(&k)? {
            Some(kv) => decode(&kv),
            None => Err(ApiError::not_found(info.group, info.plural, name)),
        }
    }

    pub async fn list(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let filtered = is_filtered(opts);
        let resp = self.range_page(info, namespace, opts, filtered).await?;
        let mut items = Vec::new();
        let mut next_key = None;
        for kv in &resp.kvs {
            if opts.limit.is_some_and(|l| items.len() >= l) {
                next_key = Some(kv.key.clone());
                break;
            }
            let obj = decode(kv)?;
            if self.selects(opts, &obj) {
                items.push(obj);
            }
        }
        let (continue_token, remaining) = page_tokens(&resp, filtered, next_key);
        Ok(ListResult {
            items,
            resource_version: resp.revision,
            continue_token,
            remaining,
        })
    }

    /// A list without selectors, each item as the JSON bytes to send: the
    /// stored bytes with the resourceVersion spliced in, never parsed. This
    /// is what keeps `kubectl get pods -o json` of 10,000 pods fast and small.
    /// `None` when the list has selectors (they need the parsed objects).
    pub async fn list_raw(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Option<RawList>, ApiError> {
        if is_filtered(opts) {
            return Ok(None);
        }
        let resp = self.range_page(info, namespace, opts, false).await?;
        let items = resp
            .kvs
            .iter()
            .map(encode_for_client)
            .collect::<Result<_, _>>()?;
        let (continue_token, remaining) = page_tokens(&resp, false, None);
        Ok(Some(RawList {
            items,
            resource_version: resp.revision,
            continue_token,
            remaining,
        }))
    }

    /// One page of the range behind a list. A continue token carries the
    /// revision of the first page and the key to go on from, so every page
    /// reads the same moment in time.
    async fn range_page(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        filtered: bool,
    ) -> Result<kubelab_store::RangeResponse, ApiError> {
        let base = prefix(info, namespace);
        let end = prefix_end(&base);
        let (start, revision) = match &opts.continue_token {
            Some(token) => {
                let (rv, start) = parse_continue(token)?;
                if !start.starts_with(&base) {
                    return Err(ApiError::bad_request("continue key is not in this list"));
                }
                (start, Some(rv))
            }
            None => (base.clone(), None),
        };
        let req = RangeRequest {
            start,
            end,
            revision,
            // With selectors, we must look at everything to fill a page.
            limit: if filtered { None } else { opts.limit },
        };
        let store = self.store.clone();
        blocking(move || store.range(&req)).await.map_err(|e| match e {
            kubelab_store::Error::Compacted { .. } => ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ),
            other => other.into(),
        })
    }

    /// Create: the full pipeline described in the module docs.
    pub async fn create(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        set_type(info, &mut obj);
        let metadata = meta::metadata_mut(&mut obj);
        if metadata
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(base) = metadata
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
        {
            let name = meta::generate_name(base);
            metadata.insert("name".into(), json!(name));
        }
        if info.namespaced {
            let ns = namespace.unwrap_or("default");
            match metadata.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the provided object ({given}) does not match the namespace sent on the request ({ns})"
                    )));
                }
                _ => {
                    metadata.insert("namespace".into(), json!(ns));
                }
            }
        }
        // What the server owns, whatever the client sent.
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
        ] {
            metadata.remove(k);
        }
        // The uid first, as upstream fills it before validation: a Job's
        // generated selector names it.
        metadata.insert("uid".into(), json!(meta::new_uid()));
        // ANCHOR: create_pipeline
        let strategy = self.strategy(info);
        strategy.prepare_for_create(&mut obj);
        strategy.default(&mut obj);
        let (mut obj, warnings) = check(info, &strategy, &obj, opts.field_validation, None)?;
        // ANCHOR_END: create_pipeline

        let name = meta::name(&obj).to_string();
        let ns = meta::namespace(&obj).to_string();
        if info.namespaced {
            self.check_namespace_open(&ns).await?;
        }
        // Held until the object is stored: nobody else takes what it was
        // given (a Service's address) meanwhile.
        let _guards = strategy.allocate(self, &mut obj, None).await?;
        let metadata = meta::metadata_mut(&mut obj);
        metadata.insert("creationTimestamp".into(), json!(meta::now()));
        if strategy.tracks_generation() {
            metadata.insert("generation".into(), json!(1));
        }
        let bytes = encode(&obj)?;
        let k = key(info, info.namespaced.then_some(ns.as_str()), &name);
        if opts.dry_run {
            if self.store.get(&k)?.is_some() {
                return Err(ApiError::already_exists(info.group, info.plural, &name));
            }
            return Ok(Written {
                object: obj,
                warnings,
            });
        }
        let kv = self
            .store
            .submit(&k, Write::Create(bytes))
            .await
            .map_err(|e| match e {
                kubelab_store::Error::AlreadyExists => {
                    ApiError::already_exists(info.group, info.plural, &name)
                }
                other => other.into(),
            })?;
        Ok(Written {
            object: as_stored(obj, &kv),
            warnings,
        })
    }

    /// A namespaced object may only be created in a namespace that exists
    /// and is not being deleted.
    async fn check_namespace_open(&self, ns: &str) -> Result<(), ApiError> {
        let ns_info = registry::by_kind("v1", "Namespace").unwrap();
        match self.get(ns_info, None, ns).await {
            Ok(n) if meta::is_being_deleted(&n) => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ))),
            Ok(_) => Ok(()),
            Err(e) if e.code.as_u16() == 404 => Err(ApiError::not_found("", "namespaces", ns)),
            Err(e) => Err(e),
        }
    }

    /// PUT: replace an object (or only its status with `subresource = status`).
    ///
    /// The client's `resourceVersion`, if it sent one, must match the stored
    /// one; otherwise 409. Without one, the write is unconditional (as
    /// upstream allows for most kinds).
    pub async fn update(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        new: Value,
        subresource: Option<&str>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let expected = parse_rv(&new)?;
        let current = self.get(info, namespace, name).await?;
        let current_rv = parse_rv(&current)?;
        if expected.is_some() && expected != current_rv {
            return Err(ApiError::conflict(info.group, info.plural, name));
        }
        self.write_update(info, namespace, name, current, new, subresource, opts)
            .await
    }

    /// Read-modify-write with retries on conflict: the way PATCH and every
    /// server-side change (finalizers, GC) update objects.
    pub async fn update_with<F>(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        opts: WriteOptions,
        mut change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        let mut attempts = 0;
        loop {
            let current = self.get(info, namespace, name).await?;
            let mut new = change(&current)?;
            // A resourceVersion in a patch is a precondition; otherwise pin to what we read.
            let rv_in_patch = parse_rv(&new)?;
            if rv_in_patch.is_some() && rv_in_patch != parse_rv(&current)? {
                return Err(ApiError::conflict(info.group, info.plural, name));
            }
            meta::metadata_mut(&mut new).insert(
                "resourceVersion".into(),
                current["metadata"]["resourceVersion"].clone(),
            );
            match self
                .write_update(info, namespace, name, current, new, subresource, opts)
                .await
            {
                Err(e) if e.reason == "Conflict" && rv_in_patch.is_none() && attempts < 10 => {
                    attempts += 1
                }
                other => return other,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        current: Value,
        mut new: Value,
        subresource: Option<&str>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let strategy = self.strategy(info);
        set_type(info, &mut new);
        let new_name = meta::name(&new);
        if !new_name.is_empty() && new_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({new_name}) does not match the name on the URL ({name})"
            )));
        }
        // Start from the stored object and take from the request only what
        // this endpoint may change.
        let mut obj = match subresource {
            Some("status") => {
                let mut o = current.clone();
                o["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                o
            }
            // `kubectl debug`: only the pod's ephemeral containers.
            Some("ephemeralcontainers") => {
                let mut o = current.clone();
                o["spec"]["ephemeralContainers"] = new
                    .pointer("/spec/ephemeralContainers")
                    .cloned()
                    .unwrap_or(json!([]));
                o
            }
            Some("finalize") => {
                let mut o = current.clone();
                o["spec"]["finalizers"] = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(json!([]));
                o
            }
            _ => {
                let mut o = new.clone();
                // Kinds with a status subresource ignore status on the main resource.
                if strategy.status_only_via_subresource() {
                    match current.get("status") {
                        Some(s) => o["status"] = s.clone(),
                        None => {
                            o.as_object_mut().unwrap().remove("status");
                        }
                    }
                }
                o
            }
        };
        let m = meta::metadata_mut(&mut obj);
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ] {
            match current["metadata"].get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
        m.remove("managedFields");
        let main_resource = subresource.is_none();
        if main_resource {
            strategy.prepare_for_update(&current, &mut obj);
        }
        strategy.default(&mut obj);
        let (mut obj, warnings) =
            check(info, &strategy, &obj, opts.field_validation, Some(&current))?;
        let _guards = match main_resource {
            true => strategy.allocate(self, &mut obj, Some(&current)).await?,
            false => Vec::new(),
        };

        // generation counts changes of the desired state only.
        if meta::desired_state(&obj) != meta::desired_state(&current)
            && current["metadata"].get("generation").is_some()
        {
            let g = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            meta::metadata_mut(&mut obj).insert("generation".into(), json!(g));
        }
        let expected = parse_rv(&current)?;
        let k = key(info, namespace, name);
        let map_err = store_error(info, name);

        // The last finalizer removed from an object being deleted: now it goes.
        if meta::is_being_deleted(&obj)
            && meta::finalizers(&obj).is_empty()
            && !strategy.holds_deletion(&obj)
        {
            if opts.dry_run {
                return Ok(Written {
                    object: obj,
                    warnings,
                });
            }
            let kv = self
                .store
                .submit(&k, Write::Delete { expected })
                .await
                .map_err(map_err)?;
            let mut gone = decode(&kv)?;
            gone["metadata"]["finalizers"] = json!([]);
            return Ok(Written {
                object: gone,
                warnings,
            });
        }
        let bytes = encode(&obj)?;
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
            });
        }
        if same_object(&obj, &current) && !self.store.is_stale(&k) {
            // Nothing changed: upstream answers with the object and writes
            // nothing — unless the stored form is out of date (a Secret
            // encrypted with a key that is no longer the first).
            return Ok(Written {
                object: current,
                warnings,
            });
        }
        let object = self
            .update_stored(&k, obj, bytes, expected, map_err)
            .await?;
        Ok(Written { object, warnings })
    }

    /// Graceful deletion (upstream's `BeforeDelete` with a
    /// `RESTGracefulDeleteStrategy`): when the kind's strategy asks for a
    /// grace period, set `deletionTimestamp` to now + that period and leave
    /// the object in place. For a pod on a node, its kubelet then sends the
    /// containers SIGTERM, waits up to the grace period, SIGKILLs what is
    /// left, and deletes the pod with a grace period of 0.
    ///
    /// Returns `None` when the object should be deleted at once.
    pub async fn begin_graceful_deletion(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        requested: Option<i64>,
        dry_run: bool,
    ) -> Result<Option<Value>, ApiError> {
        retry_conflicts(|| {
            self.begin_graceful_deletion_once(info, namespace, name, requested, dry_run)
        })
        .await
    }

    async fn begin_graceful_deletion_once(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        requested: Option<i64>,
        dry_run: bool,
    ) -> Result<Option<Value>, ApiError> {
        let current = self.get(info, namespace, name).await?;
        let Some(grace) = self.strategy(info).graceful_delete(&current, requested) else {
            return Ok(None);
        };
        // Already terminating: a shorter grace period may cut it short, a
        // longer one changes nothing (as upstream).
        if let Some(old) = current["metadata"]["deletionGracePeriodSeconds"].as_i64()
            && meta::is_being_deleted(&current)
            && old <= grace
        {
            return Ok(Some(current));
        }
        let mut o = current.clone();
        let deadline = chrono::Utc::now() + chrono::Duration::seconds(grace);
        let m = meta::metadata_mut(&mut o);
        m.insert(
            "deletionTimestamp".into(),
            json!(deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        if dry_run {
            return Ok(Some(o));
        }
        let (k, bytes, expected) = (key(info, namespace, name), encode(&o)?, parse_rv(&current)?);
        self.update_stored(&k, o, bytes, expected, store_error(info, name))
            .await
            .map(Some)
    }

    /// Writes `obj` (already encoded as `bytes`) over the key if it is still
    /// at revision `expected`, and answers with it as a read would return it.
    async fn update_stored(
        &self,
        k: &[u8],
        obj: Value,
        bytes: Vec<u8>,
        expected: Option<u64>,
        map_err: impl FnOnce(kubelab_store::Error) -> ApiError,
    ) -> Result<Value, ApiError> {
        let write = Write::Update {
            value: bytes,
            expected,
        };
        let kv = self.store.submit(k, write).await.map_err(map_err)?;
        Ok(as_stored(obj, &kv))
    }

    /// DELETE. Objects with finalizers (or deleted with Foreground/Orphan
    /// propagation, which add one) only get a `deletionTimestamp`; whoever
    /// owns each finalizer removes it when done, and the last removal
    /// deletes the object (see `write_update`).
    pub async fn delete(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        propagation: Option<Propagation>,
        precondition_uid: Option<String>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        retry_conflicts(|| {
            self.delete_once(
                info,
                namespace,
                name,
                propagation,
                precondition_uid.clone(),
                dry_run,
            )
        })
        .await
    }

    async fn delete_once(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        propagation: Option<Propagation>,
        precondition_uid: Option<String>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self.get(info, namespace, name).await?;
        if let Some(uid) = precondition_uid
            && uid != meta::uid(&current)
        {
            return Err(ApiError::conflict(info.group, info.plural, name));
        }
        // Upstream defaults: ReplicaSets, Deployments and the like orphan by
        // default only in old API versions; for apps/v1 the default is Background.
        let propagation = propagation.unwrap_or(Propagation::Background);
        let mut finalizers = meta::finalizers(&current);
        match propagation {
            Propagation::Foreground if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                finalizers.push("foregroundDeletion".into())
            }
            Propagation::Orphan if !finalizers.iter().any(|f| f == "orphan") => {
                finalizers.push("orphan".into())
            }
            _ => {}
        }
        let strategy = self.strategy(info);
        let mut o = current.clone();
        let always_marked = strategy.mark_for_deletion(&mut o);
        if !always_marked && finalizers.is_empty() {
            if dry_run {
                return Ok(current);
            }
            let k = key(info, namespace, name);
            let expected = parse_rv(&current)?;
            let kv = self
                .store
                .submit(&k, Write::Delete { expected })
                .await
                .map_err(store_error(info, name))?;
            return decode(&kv);
        }
        if meta::is_being_deleted(&current) && meta::finalizers(&current) == finalizers {
            return Ok(current);
        }
        // Mark it as being deleted. This is the server's own write (clients
        // cannot set deletionTimestamp), so it goes straight to the store.
        let m = meta::metadata_mut(&mut o);
        m.entry("deletionTimestamp").or_insert(json!(meta::now()));
        m.entry("deletionGracePeriodSeconds").or_insert(json!(0));
        m.insert("finalizers".into(), json!(finalizers));
        if dry_run {
            return Ok(o);
        }
        let (k, bytes, expected) = (key(info, namespace, name), encode(&o)?, parse_rv(&current)?);
        self.update_stored(&k, o, bytes, expected, store_error(info, name))
            .await
    }
}

/// Runs a read-then-write again when it lost a race (a Conflict), up to
/// 10 more times: a controller's or a kubelet's write between our read
/// and our write is a conflict of ours, not the client's (upstream's
/// GuaranteedUpdate retries the same way). DELETE and graceful deletion
/// go through it.
async fn retry_conflicts<T, F, Fut>(mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Err(e) if e.reason == "Conflict" && retries < 10 => retries += 1,
            other => return other,
        }
    }
}

/// Equal but for `resourceVersion` (map key order does not matter).
fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        meta::metadata_mut(&mut v).remove("resourceVersion");
        v
    };
    strip(a) == strip(b)
}

/// Store errors of a write to one object, as the API reports them.
fn store_error(
    info: &'static ResourceInfo,
    name: &str,
) -> impl Fn(kubelab_store::Error) -> ApiError + use<> {
    let name = name.to_string();
    move |e| match e {
        kubelab_store::Error::Conflict { .. } => ApiError::conflict(info.group, info.plural, &name),
        kubelab_store::Error::NotFound => ApiError::not_found(info.group, info.plural, &name),
        other => other.into(),
    }
}

fn set_type(info: &ResourceInfo, obj: &mut Value) {
    obj["apiVersion"] = json!(info.api_version());
    obj["kind"] = json!(info.kind);
}

/// Decode into the real type, apply `fieldValidation`, validate.
fn check(
    info: &ResourceInfo,
    strategy: &KindStrategy<'_>,
    obj: &Value,
    fv: FieldValidation,
    old: Option<&Value>,
) -> Result<(Value, Vec<String>), ApiError> {
    let name = meta::name(obj).to_string();
    let decoded = schema::round_trip(info, obj).map_err(|e| match e {
        DecodeError::Required(field) => {
            ApiError::invalid(info.group, info.kind, &name, &[Cause::required(&field)])
        }
        DecodeError::Invalid(field, msg) => ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {field}: {msg}",
            info.kind, info.version, info.kind
        )),
    })?;
    let mut warnings = Vec::new();
    if !decoded.unknown_fields.is_empty() {
        match fv {
            FieldValidation::Strict => {
                let list: Vec<String> = decoded
                    .unknown_fields
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                    info.kind,
                    info.version,
                    info.kind,
                    list.join(", ")
                )));
            }
            FieldValidation::Warn => warnings.extend(
                decoded
                    .unknown_fields
                    .iter()
                    .map(|f| format!("unknown field \"{f}\"")),
            ),
            FieldValidation::Ignore => {}
        }
    }
    let obj = decoded.object;
    let mut causes = Vec::new();
    validation::validate_metadata(info.kind, info.namespaced, &obj, &mut causes);
    causes.extend(strategy.validate(old, &obj));
    if !causes.is_empty() {
        return Err(ApiError::invalid(info.group, info.kind, &name, &causes));
    }
    Ok((obj, warnings))
}

fn make_continue(rv: u64, start: &[u8]) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": base64::engine::general_purpose::STANDARD.encode(start)});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn parse_continue(token: &str) -> Result<(u64, Vec<u8>), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: malformed token");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let start = base64::engine::general_purpose::STANDARD
        .decode(v["start"].as_str().ok_or_else(bad)?)
        .map_err(|_| bad())?;
    Ok((rv, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_object_reads_back_byte_for_byte_as_it_is_answered() {
        let obj = json!({"kind": "ConfigMap", "metadata": {"name": "a",
            "resourceVersion": "7", "labels": {"x": "y"}, "uid": "u"}, "data": {"k": "v"}});
        let kv = KeyValue {
            key: b"k".to_vec(),
            create_revision: 3,
            mod_revision: 9,
            version: 2,
            value: encode(&obj).unwrap(),
        };
        let read = serde_json::to_string(&decode(&kv).unwrap()).unwrap();
        let answered = serde_json::to_string(&as_stored(obj, &kv)).unwrap();
        assert_eq!(answered, read);
        assert!(answered.contains(r#""resourceVersion":"9""#));
    }

    fn info(api_version: &str, kind: &str) -> &'static ResourceInfo {
        registry::by_kind(api_version, kind).unwrap()
    }

    async fn with_default_ns() -> Objects {
        let o = Objects::new(kubelab_store::in_memory());
        o.create(
            info("v1", "Namespace"),
            None,
            json!({"metadata": {"name": "default"}}),
            WriteOptions::default(),
        )
        .await
        .unwrap();
        o
    }

    #[tokio::test]
    async fn create_fills_server_fields_and_refuses_duplicates() {
        let o = with_default_ns().await;
        let cm = json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}});
        let w = o
            .create(
                info("v1", "ConfigMap"),
                Some("default"),
                cm,
                WriteOptions::default(),
            )
            .await
            .unwrap();
        let m = &w.object["metadata"];
        assert!(m["name"].as_str().unwrap().starts_with("cfg-"));
        assert_eq!(m["namespace"], "default");
        assert_eq!(m["uid"].as_str().unwrap().len(), 36);
        assert_eq!(w.object["kind"], "ConfigMap");
        let again = json!({"metadata": {"name": m["name"]}});
        let e = o
            .create(
                info("v1", "ConfigMap"),
                Some("default"),
                again,
                WriteOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!((e.code.as_u16(), e.reason), (409, "AlreadyExists"));
    }

    #[tokio::test]
    async fn stale_resource_version_conflicts_and_generation_tracks_spec() {
        let o = with_default_ns().await;
        let d = info("apps/v1", "Deployment");
        let body = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "kubelab/web:1"}]}}}});
        let first = o
            .create(d, Some("default"), body, WriteOptions::default())
            .await
            .unwrap()
            .object;
        assert_eq!(first["metadata"]["generation"], 1);
        let mut scaled = first.clone();
        scaled["spec"]["replicas"] = json!(3);
        let second = o
            .update(
                d,
                Some("default"),
                "web",
                scaled.clone(),
                None,
                WriteOptions::default(),
            )
            .await
            .unwrap()
            .object;
        assert_eq!(second["metadata"]["generation"], 2);
        // The same body again carries the old resourceVersion: it must lose.
        let e = o
            .update(
                d,
                Some("default"),
                "web",
                scaled,
                None,
                WriteOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code.as_u16(), 409);
        // A label change is not a spec change.
        let mut labelled = second.clone();
        labelled["metadata"]["labels"] = json!({"x": "y"});
        let third = o
            .update(
                d,
                Some("default"),
                "web",
                labelled,
                None,
                WriteOptions::default(),
            )
            .await
            .unwrap()
            .object;
        assert_eq!(third["metadata"]["generation"], 2);
    }

    #[tokio::test]
    async fn raw_lists_equal_parsed_lists() {
        let o = with_default_ns().await;
        let cm = info("v1", "ConfigMap");
        for i in 0..5 {
            let body = json!({"metadata": {"name": format!("r{i}"), "labels": {"n": i.to_string()}}, "data": {"k": "v"}});
            o.create(cm, Some("default"), body, WriteOptions::default())
                .await
                .unwrap();
        }
        for limit in [None, Some(2)] {
            let opts = ListOptions {
                limit,
                ..Default::default()
            };
            let parsed = o.list(cm, None, &opts).await.unwrap();
            let raw = o.list_raw(cm, None, &opts).await.unwrap().unwrap();
            let raw_items: Vec<Value> = raw
                .items
                .iter()
                .map(|b| serde_json::from_slice(b).unwrap())
                .collect();
            assert_eq!(raw_items, parsed.items);
            assert_eq!(
                (raw.continue_token.is_some(), raw.remaining),
                (parsed.continue_token.is_some(), parsed.remaining)
            );
        }
        // Selectors need parsed objects.
        let selected = ListOptions {
            label_selector: Some(LabelSelector::parse("n=1").unwrap()),
            ..Default::default()
        };
        assert!(o.list_raw(cm, None, &selected).await.unwrap().is_none());
        // An object with empty metadata still splices into valid JSON.
        let kv = KeyValue {
            key: vec![],
            create_revision: 1,
            mod_revision: 7,
            version: 1,
            value: br#"{"apiVersion":"v1","kind":"X","metadata":{}}"#.to_vec(),
        };
        let v: Value = serde_json::from_slice(&encode_for_client(&kv).unwrap()).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "7");
    }

    #[tokio::test]
    async fn an_identical_update_writes_nothing() {
        let o = with_default_ns().await;
        let cm = info("v1", "ConfigMap");
        let created = o
            .create(
                cm,
                Some("default"),
                json!({"metadata": {"name": "same"}, "data": {"a": "1"}}),
                WriteOptions::default(),
            )
            .await
            .unwrap()
            .object;
        let revision = o.store().current_revision();
        // The manifest again, with the server's fields missing and in another order.
        let again = json!({"data": {"a": "1"}, "metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "name": "same"}});
        let w = o
            .update(
                cm,
                Some("default"),
                "same",
                again,
                None,
                WriteOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            w.object["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        assert_eq!(o.store().current_revision(), revision);
    }

    #[tokio::test]
    async fn finalizers_hold_deletion_until_removed() {
        let o = with_default_ns().await;
        let cm = info("v1", "ConfigMap");
        o.create(
            cm,
            Some("default"),
            json!({"metadata": {"name": "held", "finalizers": ["example.com/wait"]}}),
            WriteOptions::default(),
        )
        .await
        .unwrap();
        let deleting = o
            .delete(cm, Some("default"), "held", None, None, false)
            .await
            .unwrap();
        assert!(meta::is_being_deleted(&deleting));
        assert!(o.get(cm, Some("default"), "held").await.is_ok());
        o.update_with(
            cm,
            Some("default"),
            "held",
            None,
            WriteOptions::default(),
            |cur| {
                let mut c = cur.clone();
                c["metadata"]["finalizers"] = json!([]);
                Ok(c)
            },
        )
        .await
        .unwrap();
        assert_eq!(
            o.get(cm, Some("default"), "held")
                .await
                .unwrap_err()
                .code
                .as_u16(),
            404
        );
    }

    #[tokio::test]
    async fn lists_page_at_one_revision() {
        let o = with_default_ns().await;
        let cm = info("v1", "ConfigMap");
        for i in 0..5 {
            o.create(
                cm,
                Some("default"),
                json!({"metadata": {"name": format!("c{i}")}}),
                WriteOptions::default(),
            )
            .await
            .unwrap();
        }
        let mut opts = ListOptions {
            limit: Some(2),
            ..Default::default()
        };
        let p1 = o.list(cm, Some("default"), &opts).await.unwrap();
        assert_eq!((p1.items.len(), p1.remaining), (2, Some(3)));
        // A write between pages does not show up in later pages.
        o.create(
            cm,
            Some("default"),
            json!({"metadata": {"name": "c9"}}),
            WriteOptions::default(),
        )
        .await
        .unwrap();
        opts.continue_token = p1.continue_token;
        opts.limit = Some(10);
        let p2 = o.list(cm, Some("default"), &opts).await.unwrap();
        let names: Vec<_> = p2.items.iter().map(|i| meta::name(i).to_string()).collect();
        assert_eq!(names, vec!["c2", "c3", "c4"]);
        assert_eq!(p2.resource_version, p1.resource_version);
        assert!(p2.continue_token.is_none());
    }

    #[tokio::test]
    async fn namespaces_must_exist_and_unknown_fields_follow_field_validation() {
        let o = with_default_ns().await;
        let cm = info("v1", "ConfigMap");
        let e = o
            .create(
                cm,
                Some("nope"),
                json!({"metadata": {"name": "a"}}),
                WriteOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.message, "namespaces \"nope\" not found");
        let strict = WriteOptions {
            field_validation: FieldValidation::Strict,
            ..Default::default()
        };
        let e = o
            .create(
                cm,
                Some("default"),
                json!({"metadata": {"name": "a"}, "dat": {}}),
                strict,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code.as_u16(), 400);
        assert!(
            e.message
                .ends_with("strict decoding error: unknown field \"dat\""),
            "{}",
            e.message
        );
        let w = o
            .create(
                cm,
                Some("default"),
                json!({"metadata": {"name": "a"}, "dat": {}}),
                WriteOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(w.warnings, vec!["unknown field \"dat\""]);
        // Nothing was written by the failed strict create: the warn create succeeded.
        assert!(o.get(cm, Some("default"), "a").await.is_ok());
    }
}
