//! An in-process cluster for notebooks and experiments.
//!
//! `kubelab up` is a process you talk to with kubectl. In a notebook you
//! want the cluster *inside* your program, to poke at it with Rust:
//!
//! ```no_run
//! let cluster = kubelab::Cluster::start();
//! for line in cluster.apply(include_str!("../../../../chapters/01-objects-and-api/manifests/web-config.yaml")) {
//!     println!("{line}");                       // configmap/web-config created
//! }
//! let cm = cluster.get("configmaps", Some("default"), "web-config").unwrap();
//! println!("{}", cm["metadata"]["resourceVersion"]);
//! ```
//!
//! It is the same store and API server as `kubelab up` (in memory, plain
//! HTTP on 127.0.0.1, no token), with a synchronous API: each call runs to
//! completion on the cluster's own tokio runtime.

use std::sync::Arc;

use kubelab_api::registry;
use kubelab_apiserver::ApiServer;
use kubelab_apiserver::objects::{ListOptions, WriteOptions};
use kubelab_client::ClusterOptions;
use kubelab_kubelet::NodeOptions;
use kubelab_store::{EventType, prefix_end};
use serde_json::Value;

/// What a [`Cluster`] does, behind a trait object.
///
/// Why not plain methods: evcxr compiles every notebook cell into a
/// library of its own, each with its own copy of kubelab and its
/// dependencies — and their statics (tokio's and parking_lot's included).
/// A runtime started by the code of cell 2 must only be driven by that same
/// copy, or threads park in one copy's wait table and are woken in
/// another's, and never wake. Calls through this trait object always run
/// the code of the cell that started the cluster.
trait Ops: Send + Sync {
    fn apply(&self, yaml: &str) -> Vec<String>;
    fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Result<Value, String>;
    fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, String>;
    fn changes_since(
        &self,
        resource: &str,
        revision: u64,
    ) -> Result<Vec<(String, String, u64)>, String>;
    fn url(&self) -> String;
    fn revision(&self) -> u64;
    fn dns(&self, name: &str, qtype: &str) -> String;
    fn components(&self) -> Vec<&'static str>;
    fn stored(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, String>;
    fn data_dir(&self) -> std::path::PathBuf;
}

/// A cluster running inside this process (see the module docs).
pub struct Cluster {
    ops: Box<dyn Ops>,
}

struct Inner {
    runtime: tokio::runtime::Runtime,
    /// The cluster as the chapter table builds it.
    cluster: kubelab_client::Cluster,
    api: ApiServer,
    /// Where the nodes keep their state (removed on drop).
    _data: tempfile::TempDir,
}

impl Cluster {
    /// Starts a fresh chapter-01 cluster in memory: the API server only.
    pub fn start() -> Cluster {
        Cluster::start_chapter(1, 0)
    }

    /// Starts a fresh cluster of every chapter with `n` nodes on the
    /// `fake` runtime (pods "run" without processes, like kwok), to watch
    /// the scheduler and controllers at work.
    pub fn start_with_fake_nodes(n: usize) -> Cluster {
        Cluster::start_chapter(crate::chapters::LATEST, n)
    }

    /// Starts a fresh cluster of chapters 1..=`chapter` with `nodes` fake
    /// nodes, built from the chapter table as `kubelab up --chapter` does.
    pub fn start_chapter(chapter: u8, nodes: usize) -> Cluster {
        Cluster {
            ops: Box::new(Inner::start(chapter, nodes)),
        }
    }

    /// The components running, in start order (`kube-apiserver`, …).
    pub fn components(&self) -> Vec<&'static str> {
        self.ops.components()
    }

    /// An object's bytes exactly as the store keeps them on disk — JSON for
    /// most kinds, ciphertext for Secrets once chapter 04 encrypts them.
    pub fn stored(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, String> {
        self.ops.stored(resource, namespace, name)
    }

    /// Where this cluster keeps its files (the encryption configuration,
    /// the nodes' pod directories).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.ops.data_dir()
    }

    /// A node's machine dies (chapter 06): what `kubelab node stop NAME`
    /// does, the power switch its kubelet watches. Its containers stop and
    /// its heartbeats with them; the control plane notices after the
    /// notebook's grace period of 15 s (upstream: 50 s).
    pub fn stop_node(&self, name: &str) {
        let dir = kubelab_kubelet::nodes::node_dir(&self.data_dir(), name);
        std::fs::write(dir.join(kubelab_kubelet::node::STOPPED_MARKER), "")
            .expect("the node's folder exists");
    }

    /// The machine comes back (`kubelab node start NAME`).
    pub fn start_node(&self, name: &str) {
        let dir = kubelab_kubelet::nodes::node_dir(&self.data_dir(), name);
        let _ = std::fs::remove_file(dir.join(kubelab_kubelet::node::STOPPED_MARKER));
    }

    /// Creates or replaces every object of a (multi-document) YAML manifest,
    /// and says what happened to each, as `kubectl apply` does.
    pub fn apply(&self, yaml: &str) -> Vec<String> {
        self.ops.apply(yaml)
    }

    /// One object as JSON, by resource (plural) name: `get("deployments", Some("default"), "web")`.
    pub fn get(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, String> {
        self.ops.get(resource, namespace, name)
    }

    /// Every object of a resource (in one namespace, or all with `None`).
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, String> {
        self.ops.list(resource, namespace)
    }

    /// What a watcher of `resource` would have seen since `revision`:
    /// (event, name, revision), oldest first.
    pub fn changes_since(
        &self,
        resource: &str,
        revision: u64,
    ) -> Result<Vec<(String, String, u64)>, String> {
        self.ops.changes_since(resource, revision)
    }

    /// Where kubectl could reach this cluster (`kubectl -s URL get ns`).
    pub fn url(&self) -> String {
        self.ops.url()
    }

    /// The store's current revision: it moves with every write.
    pub fn revision(&self) -> u64 {
        self.ops.revision()
    }

    /// What the cluster DNS answers for `name` (chapter 03): the response
    /// code and one line per record. Needs [`Cluster::start_with_fake_nodes`].
    pub fn dns(&self, name: &str, qtype: &str) -> String {
        self.ops.dns(name, qtype)
    }
}

impl Ops for Inner {
    fn apply(&self, yaml: &str) -> Vec<String> {
        Inner::apply(self, yaml)
    }
    fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Result<Value, String> {
        Inner::get(self, resource, namespace, name)
    }
    fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, String> {
        Inner::list(self, resource, namespace)
    }
    fn changes_since(
        &self,
        resource: &str,
        revision: u64,
    ) -> Result<Vec<(String, String, u64)>, String> {
        Inner::changes_since(self, resource, revision)
    }
    fn url(&self) -> String {
        Inner::url(self)
    }
    fn revision(&self) -> u64 {
        Inner::revision(self)
    }
    fn dns(&self, name: &str, qtype: &str) -> String {
        Inner::dns(self, name, qtype)
    }
    fn components(&self) -> Vec<&'static str> {
        self.cluster.components()
    }
    fn stored(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, String> {
        let info = find(resource)?;
        let key = kubelab_apiserver::objects::key(info, namespace, name);
        // The raw store, below the layer that decrypts.
        match self.api.store.get(&key) {
            Ok(Some(kv)) => Ok(kv.value),
            Ok(None) => Err(format!("{resource} {name:?} not found")),
            Err(e) => Err(e.to_string()),
        }
    }
    fn data_dir(&self) -> std::path::PathBuf {
        self._data.path().to_path_buf()
    }
}

impl Inner {
    fn start(chapter: u8, nodes: usize) -> Inner {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let data = tempfile::Builder::new()
            .prefix("kubelab-notebook-")
            .tempdir()
            .expect("temp dir");
        let mut options = ClusterOptions::new(data.path());
        options.chapter = chapter;
        options.nodes = nodes;
        options.ephemeral = true;
        let mut b = crate::chapters::builder(options);
        b.insert(NodeOptions {
            runtime: kubelab_runtime::RuntimeKind::Fake,
            backoff: None,
        });
        // A dead node is noticed after 15 s, not upstream's 50: a notebook
        // is read while it runs.
        b.insert(kubelab_scaling::ScalingOptions {
            node_monitor_grace_period: std::time::Duration::from_secs(15),
            ..Default::default()
        });
        let cluster = runtime.block_on(b.start()).expect("start the cluster");
        let api = cluster
            .get::<ApiServer>()
            .expect("chapter 01 starts an API server");
        Inner {
            runtime,
            cluster,
            api,
            _data: data,
        }
    }

    /// What the cluster DNS answers for `name` (chapter 03): the response
    /// code and one line per record. Needs [`Cluster::start_with_fake_nodes`].
    fn dns(&self, name: &str, qtype: &str) -> String {
        use kubelab_dns::wire;
        if !self.cluster.has_chapter(3) {
            return "no cluster DNS: start the cluster with start_with_fake_nodes".into();
        }
        let t = match qtype {
            "SRV" => wire::TYPE_SRV,
            "CNAME" => wire::TYPE_CNAME,
            "PTR" => wire::TYPE_PTR,
            _ => wire::TYPE_A,
        };
        let resolver = kubelab_dns::Resolver::new(&self.cluster.informers());
        let (rcode, records) = resolver.resolve(name.trim_end_matches('.'), t);
        let code = match rcode {
            wire::NOERROR => "NOERROR",
            wire::NXDOMAIN => "NXDOMAIN",
            wire::REFUSED => "REFUSED",
            _ => "ERROR",
        };
        let mut out = format!("{code}\n");
        for r in records {
            out += &format!("{} {} {:?}\n", r.name, r.ttl, r.data);
        }
        out
    }

    /// Where kubectl could reach this cluster (`kubectl -s URL get ns`).
    pub fn url(&self) -> String {
        self.api.url.clone()
    }

    /// The store's current revision: it moves with every write.
    pub fn revision(&self) -> u64 {
        self.api.store.current_revision()
    }

    /// Creates or replaces every object of a (multi-document) YAML manifest,
    /// and says what happened to each, as `kubectl apply` does.
    pub fn apply(&self, yaml: &str) -> Vec<String> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let obj: Value = match serde::Deserialize::deserialize(doc) {
                Ok(Value::Null) => continue,
                Ok(v) => v,
                Err(e) => {
                    out.push(format!("error: {e}"));
                    continue;
                }
            };
            out.push(self.apply_one(obj));
        }
        out
    }

    fn apply_one(&self, obj: Value) -> String {
        let av = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        let Some(info) = registry::by_kind(av, kind) else {
            return format!("error: no kind {kind:?} in version {av:?}");
        };
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ns = info.namespaced.then(|| {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        });
        let what = if info.group.is_empty() {
            info.singular.to_string()
        } else {
            format!("{}.{}", info.singular, info.group)
        };
        let result = self.runtime.block_on(async {
            match self.api.objects.get(info, ns.as_deref(), &name).await {
                Ok(current) => {
                    let mut new = obj.clone();
                    new["metadata"]["resourceVersion"] =
                        current["metadata"]["resourceVersion"].clone();
                    let before = current["metadata"]["resourceVersion"].clone();
                    let w = self
                        .api
                        .objects
                        .update(
                            info,
                            ns.as_deref(),
                            &name,
                            new,
                            None,
                            WriteOptions::default(),
                        )
                        .await?;
                    Ok(if w.object["metadata"]["resourceVersion"] == before {
                        "unchanged"
                    } else {
                        "configured"
                    })
                }
                Err(e) if e.code.as_u16() == 404 => self
                    .api
                    .objects
                    .create(info, ns.as_deref(), obj, WriteOptions::default())
                    .await
                    .map(|_| "created"),
                Err(e) => Err(e),
            }
        });
        match result {
            Ok(verb) => format!("{what}/{name} {verb}"),
            Err(e) => format!("error: {}", e.message),
        }
    }

    /// One object as JSON, by resource (plural) name: `get("deployments", Some("default"), "web")`.
    pub fn get(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, String> {
        let info = find(resource)?;
        self.runtime
            .block_on(self.api.objects.get(info, namespace, name))
            .map_err(|e| e.message)
    }

    /// Every object of a resource (in one namespace, or all with `None`).
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, String> {
        let info = find(resource)?;
        self.runtime
            .block_on(
                self.api
                    .objects
                    .list(info, namespace, &ListOptions::default()),
            )
            .map(|l| l.items)
            .map_err(|e| e.message)
    }

    /// What a watcher of `resource` would have seen since `revision`:
    /// (event, name, revision), oldest first.
    pub fn changes_since(
        &self,
        resource: &str,
        revision: u64,
    ) -> Result<Vec<(String, String, u64)>, String> {
        let info = find(resource)?;
        let start = kubelab_apiserver::objects::prefix(info, None);
        let mut watch = self
            .api
            .store
            .watch(&start, &prefix_end(&start), revision)
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(e) = watch.try_next() {
            let kind = match (e.kind, &e.prev) {
                (EventType::Put, None) => "ADDED",
                (EventType::Put, Some(_)) => "MODIFIED",
                (EventType::Delete, _) => "DELETED",
            };
            let key = String::from_utf8_lossy(&e.key).to_string();
            out.push((
                kind.to_string(),
                key.rsplit('/').next().unwrap_or_default().to_string(),
                e.revision,
            ));
        }
        Ok(out)
    }
}

impl Cluster {
    /// The nftables rules kube-proxy would write in node `n` (chapter 03),
    /// from the Services and EndpointSlices as they are now.
    pub fn proxy_rules(&self, n: usize) -> String {
        use kubelab_api::network::{node_ip, node_pod_cidr};
        let services = self.list("services", None).unwrap_or_default();
        let slices = self.list("endpointslices", None).unwrap_or_default();
        let arc = |v: Vec<Value>| v.into_iter().map(Arc::new).collect::<Vec<_>>();
        let ports = kubelab_proxy::rules::service_ports(&arc(services), &arc(slices));
        kubelab_proxy::rules::render(
            &ports,
            &[node_ip(n), node_pod_cidr(n).nth(1)],
            node_pod_cidr(n),
        )
    }

    /// Waits up to `secs` seconds for `check` to hold (the control loops
    /// work in the background).
    pub fn wait_until(&self, secs: u64, check: impl Fn(&Cluster) -> bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if check(self) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        check(self)
    }

    /// A picture of the nodes: each a box with the pods bound to it.
    pub fn node_picture(&self) -> Picture {
        let nodes = self.list("nodes", None).unwrap_or_default();
        let pods = self.list("pods", None).unwrap_or_default();
        let mut boxes = Vec::new();
        for node in &nodes {
            let name = node["metadata"]["name"].as_str().unwrap_or_default();
            let mine: Vec<String> = pods
                .iter()
                .filter(|p| p["spec"]["nodeName"] == name)
                .map(|p| {
                    format!(
                        "{} ({}){}",
                        p["metadata"]["name"].as_str().unwrap_or_default(),
                        p["status"]["phase"].as_str().unwrap_or("Pending"),
                        // Chapter 03: the pod's address, from the node's range.
                        p["status"]["podIP"]
                            .as_str()
                            .map(|ip| format!(" {ip}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            // The node's pod range, once the network plugin gave it one.
            let title = match node["spec"]["podCIDR"].as_str() {
                Some(cidr) => format!("{name}  {cidr}"),
                None => name.to_string(),
            };
            boxes.push((title, mine));
        }
        boxes_picture(&boxes, &NODE_BOXES)
    }

    /// A picture of the cluster: each namespace a box, with its objects.
    pub fn picture(&self) -> Picture {
        let namespaces = self.list("namespaces", None).unwrap_or_default();
        let kinds = ["deployments", "services", "configmaps", "secrets"];
        let mut boxes = Vec::new();
        for ns in &namespaces {
            let name = ns["metadata"]["name"].as_str().unwrap_or_default();
            let mut lines = Vec::new();
            for k in kinds {
                for o in self.list(k, Some(name)).unwrap_or_default() {
                    lines.push(format!(
                        "{} {}",
                        k.trim_end_matches('s'),
                        o["metadata"]["name"].as_str().unwrap_or_default()
                    ));
                }
            }
            boxes.push((format!("namespace {name}"), lines));
        }
        boxes_picture(&boxes, &NAMESPACE_BOXES)
    }
}

/// How the boxes of one kind of picture look.
struct BoxStyle {
    width: i32,
    row: i32,
    fill: &'static str,
    stroke: &'static str,
    title: &'static str,
    line_size: u8,
}

const NODE_BOXES: BoxStyle = BoxStyle {
    width: 300,
    row: 16,
    fill: "#f3f0fa",
    stroke: "#5b3f9e",
    title: "#3d2a6e",
    line_size: 11,
};

const NAMESPACE_BOXES: BoxStyle = BoxStyle {
    width: 230,
    row: 18,
    fill: "#eef6f6",
    stroke: "#2a7f7f",
    title: "#1d5c5c",
    line_size: 12,
};

/// Boxes side by side, each a title over its lines, as SVG.
fn boxes_picture(boxes: &[(String, Vec<String>)], s: &BoxStyle) -> Picture {
    let (w, row) = (s.width, s.row);
    let mut svg = String::new();
    let mut height = 0;
    for (i, (title, lines)) in boxes.iter().enumerate() {
        let x = 10 + i as i32 * (w + 10);
        let h = 40 + row * lines.len().max(1) as i32;
        height = height.max(h);
        svg.push_str(&format!(
            r##"<rect x="{x}" y="10" width="{w}" height="{h}" rx="8" fill="{}" stroke="{}"/><text x="{}" y="32" font-family="sans-serif" font-size="13" font-weight="bold" fill="{}">{}</text>"##,
            s.fill,
            s.stroke,
            x + 10,
            s.title,
            escape(title)
        ));
        for (n, l) in lines.iter().enumerate() {
            svg.push_str(&format!(
                r##"<text x="{}" y="{}" font-family="monospace" font-size="{}" fill="#333">{}</text>"##,
                x + 12,
                52 + row * n as i32,
                s.line_size,
                escape(l)
            ));
        }
    }
    Picture(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">{svg}</svg>"#,
        20 + boxes.len() as i32 * (w + 10),
        height + 20,
    ))
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.runtime.block_on(self.cluster.shutdown());
    }
}

fn find(resource: &str) -> Result<&'static kubelab_api::ResourceInfo, String> {
    registry::RESOURCES
        .iter()
        .find(|r| {
            r.plural == resource || r.singular == resource || r.short_names.contains(&resource)
        })
        .ok_or_else(|| format!("the server doesn't have a resource type \"{resource}\""))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An SVG picture; evcxr (the Rust Jupyter kernel) shows it inline.
pub struct Picture(pub String);

impl Picture {
    /// evcxr calls this to display a cell's value.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_get_watch_and_draw() {
        let c = Cluster::start();
        let yaml =
            include_str!("../../../../chapters/01-objects-and-api/manifests/web-config.yaml");
        let before = c.revision();
        assert_eq!(c.apply(yaml), ["configmap/web-config created"]);
        assert_eq!(c.apply(yaml), ["configmap/web-config unchanged"]);
        assert_eq!(
            c.apply(&yaml.replace("teal", "red")),
            ["configmap/web-config configured"]
        );
        assert_eq!(
            c.get("cm", Some("default"), "web-config").unwrap()["data"]["COLOUR"],
            "red"
        );
        let changes = c.changes_since("configmaps", before).unwrap();
        let kinds: Vec<&str> = changes.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(kinds, ["ADDED", "MODIFIED"]);
        assert!(
            c.apply("apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n")[0]
                .starts_with("error: no kind")
        );
        let svg = c.picture().0;
        assert!(
            svg.contains("namespace default") && svg.contains("configmap web-config"),
            "{svg}"
        );
    }

    #[test]
    fn fake_nodes_run_a_deployment() {
        let c = Cluster::start_with_fake_nodes(3);
        let yaml = include_str!("../../../../chapters/02-pods/manifests/hello-deployment.yaml");
        assert_eq!(c.apply(yaml), ["deployment.apps/hello created"]);
        assert!(c.wait_until(30, |c| {
            let pods = c.list("pods", Some("default")).unwrap();
            pods.len() == 3 && pods.iter().all(|p| p["status"]["phase"] == "Running")
        }));
        let svg = c.node_picture().0;
        assert!(
            svg.contains("kubelab-node-3") && svg.contains("(Running)"),
            "{svg}"
        );
    }
}

#[cfg(test)]
mod services_tests {
    use super::*;

    #[test]
    fn fake_nodes_get_pod_ips_services_and_dns() {
        let t = std::time::Instant::now();
        let c = Cluster::start_with_fake_nodes(3);
        eprintln!("started in {:?}", t.elapsed());
        let yaml = include_str!("../../../../chapters/03-services/manifests/whoami.yaml");
        let t = std::time::Instant::now();
        let applied = c.apply(yaml);
        eprintln!("applied {applied:?} in {:?}", t.elapsed());
        assert!(c.wait_until(30, |c| {
            c.list("endpointslices", Some("default"))
                .unwrap()
                .iter()
                .any(|s| s["endpoints"].as_array().map_or(0, Vec::len) == 3)
        }));
        eprintln!("endpoints after {:?}", t.elapsed());
        let rules = c.proxy_rules(1);
        assert_eq!(rules.matches("dnat to 10.244.").count(), 3, "{rules}");
        let answer = c.dns("whoami.default.svc.cluster.local", "A");
        let vip = c.get("services", Some("default"), "whoami").unwrap()["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            answer.starts_with("NOERROR") && answer.contains(&vip),
            "{answer}"
        );
        assert!(
            c.dns("nothing.default.svc.cluster.local", "A")
                .starts_with("NXDOMAIN")
        );
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn secrets_are_stored_encrypted_configmaps_as_json() {
        let c = Cluster::start_chapter(4, 0);
        let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n";
        assert_eq!(c.apply(yaml), ["secret/s created", "configmap/c created"]);
        let secret = c.stored("secrets", Some("default"), "s").unwrap();
        assert!(secret.starts_with(b"k8s:enc:secretbox:v1:key1:"));
        assert!(
            c.stored("configmaps", Some("default"), "c")
                .unwrap()
                .starts_with(b"{")
        );
        assert_eq!(
            c.get("secrets", Some("default"), "s").unwrap()["data"]["k"],
            "dg=="
        );
        assert!(c.data_dir().join("encryption-config.yaml").exists());
    }
}
