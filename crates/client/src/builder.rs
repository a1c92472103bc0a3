//! How the chapters plug into one cluster.
//!
//! kubelab is built chapter by chapter, and each chapter is one or a few
//! crates with one entry point:
//!
//! ```ignore
//! pub fn install(b: &mut ClusterBuilder)
//! ```
//!
//! An `install` only *registers*: the strategies of its kinds (in the API
//! server's registry), its controllers, its kubelet plugins, its node
//! agents. Nothing runs until [`ClusterBuilder::start`], which runs what
//! the installed chapters registered, phase by phase ([`Phase`]): the API
//! server first, then the control plane, then the nodes and what runs
//! beside each node. `kubelab up --chapter N` installs chapters 1..=N and
//! nothing else, so a chapter's behaviour is exactly what its crates add.
//!
//! The builder knows no chapter. A registry that belongs to a subsystem —
//! the API server's strategies, the kubelet's plugins — is a typed *slot*
//! that the subsystem's crate defines and later chapters fill
//! ([`ClusterBuilder::slot`]). That keeps the dependency rule of the
//! course: chapter N's crates use chapters 1..=N, never a later one.
//!
//! ```text
//!  chapter table (kubelab binary)        ClusterBuilder              Cluster (running)
//!  (1, apiserver::install) ─────▶ slots: Strategies, …     ──start──▶ ApiServer:    store, API server
//!  (2, scheduler / controllers /  steps: (phase, name, fn)             ControlPlane: controllers, scheduler
//!      kubelet ::install)   ─────▶                                     NodeSetup:    node networks
//!  (3, network / proxy / dns) ───▶                                     Nodes:        kubelets (+ plugins)
//!                                                                      NodeAgents:   proxy, DNS
//! ```
//!
//! Upstream has no such builder: each component is its own program with
//! its own flags, and an installer (kubeadm, kind) starts them. kubelab
//! runs them all in one process, so this is its installer.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::factory::InformerFactory;
use crate::rest::Client;

/// When a registered step runs: every step of a phase runs before any of
/// the next. Within a phase, steps run in chapter order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The store and the API server (kube-apiserver and etcd).
    ApiServer,
    /// Loops over the API: controllers, the scheduler (kube-controller-manager, kube-scheduler).
    ControlPlane,
    /// What nodes need before their kubelet starts (a node's network).
    NodeSetup,
    /// The kubelets.
    Nodes,
    /// Per-node agents beside the kubelet (kube-proxy, the cluster DNS).
    NodeAgents,
}

/// What the cluster was asked to be (`kubelab up`'s flags).
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where the store, certificates, kubeconfig and node state live.
    pub data_dir: PathBuf,
    /// The API server's port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The address the API server listens on (upstream's
    /// `--bind-address`; 127.0.0.1 by default, so nothing is reachable
    /// from other machines unless asked).
    pub bind_address: std::net::IpAddr,
    /// The address clients are told to use, which the serving certificate
    /// covers (upstream's `--advertise-address`).
    pub advertise_address: Option<std::net::IpAddr>,
    /// The last chapter installed (`--chapter`).
    pub chapter: u8,
    /// How many nodes (chapter 02 starts them).
    pub nodes: usize,
    /// How often old revisions are compacted (upstream: 5 minutes).
    pub compaction_interval: Duration,
    /// Notebooks and unit tests: the store in memory and the API server on
    /// plain HTTP without authentication. `kubelab up`: false.
    pub ephemeral: bool,
    /// kube-apiserver's `--encryption-provider-config`: how Secrets are
    /// encrypted at rest (read by chapter 04; `None`: its default).
    pub encryption_provider_config: Option<PathBuf>,
    /// `--store etcd://h1:2379,h2:2379[/prefix]`: keep every object in
    /// that etcd cluster. `None`: the embedded store in `data_dir`.
    pub store: Option<String>,
    /// `kubelab node`: this process is one node, on a host of its own, of
    /// a cluster whose API server runs elsewhere. `None`: the `nodes`
    /// numbered nodes of an all-in-one cluster.
    pub node: Option<NodeIdentity>,
}

/// Who a `kubelab node` process is (its kubelet's flags).
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// `--name`: the Node object's name.
    pub name: String,
    /// `--node-ip`: its `InternalIP`, where the other hosts reach it.
    pub ip: std::net::Ipv4Addr,
    /// Its share of the pod network: node `index` owns `10.244.<index>.0/24`.
    pub index: usize,
}

impl ClusterOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> ClusterOptions {
        ClusterOptions {
            data_dir: data_dir.into(),
            port: 0,
            bind_address: std::net::IpAddr::from([127, 0, 0, 1]),
            advertise_address: None,
            chapter: u8::MAX,
            nodes: 1,
            compaction_interval: Duration::from_secs(300),
            ephemeral: false,
            encryption_provider_config: None,
            store: None,
            node: None,
        }
    }

    /// The nodes this process runs, as (index, name): `kubelab-node-1` …
    /// for an all-in-one cluster, or the one `kubelab node` was named.
    pub fn node_names(&self) -> Vec<(usize, String)> {
        match &self.node {
            Some(me) => vec![(me.index, me.name.clone())],
            None => (1..=self.nodes)
                .map(|i| (i, format!("kubelab-node-{i}")))
                .collect(),
        }
    }
}

/// For the labs' cluster tests: a panic in any thread ends the test
/// process at once (exit code 101, after the panic's message). A
/// learner's function runs inside a controller task or a request handler;
/// when it panics (the stub's `todo!()`), that task dies quietly and the
/// test would only fail when its wait ran out, a minute later. Now it
/// fails in a second, and the message says which line panicked.
pub fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        // Straight to the process's stderr: the test harness captures what
        // a test's threads print (tokio's workers too), and a process that
        // exits now would lose it with the message that matters.
        use std::io::Write;
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let _ = writeln!(std::io::stderr(), "\nthread '{name}' {info}");
        std::process::exit(101);
    }));
}

type Slots = HashMap<TypeId, Box<dyn Any + Send + Sync>>;
type StepFn = Box<dyn FnOnce(Cluster) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

struct Step {
    phase: Phase,
    chapter: u8,
    name: &'static str,
    run: StepFn,
}

/// What the installs of the chosen chapters registered, not yet running.
pub struct ClusterBuilder {
    options: ClusterOptions,
    /// The chapter whose `install` is running (steps are labelled with it).
    current: u8,
    installed: Vec<u8>,
    slots: Slots,
    steps: Vec<Step>,
}

/// A chapter's entry point.
pub type Install = fn(&mut ClusterBuilder);

impl ClusterBuilder {
    pub fn new(options: ClusterOptions) -> ClusterBuilder {
        ClusterBuilder {
            options,
            current: 0,
            installed: Vec::new(),
            slots: HashMap::new(),
            steps: Vec::new(),
        }
    }

    /// Runs one chapter's install. Called from the chapter table, in order.
    pub fn install(&mut self, chapter: u8, install: Install) -> &mut Self {
        self.current = chapter;
        if !self.installed.contains(&chapter) {
            self.installed.push(chapter);
        }
        install(self);
        self
    }

    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// Changes the options before the cluster starts (a benchmark putting
    /// the store in etcd, say).
    pub fn options_mut(&mut self) -> &mut ClusterOptions {
        &mut self.options
    }

    /// The chapters installed so far.
    pub fn chapters(&self) -> &[u8] {
        &self.installed
    }

    /// A registry that a subsystem's crate defines and chapters fill, e.g.
    /// the API server's strategies: created empty on first use.
    pub fn slot<T: Default + Send + Sync + 'static>(&mut self) -> &mut T {
        self.slots
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("a slot holds the type it is keyed by")
    }

    /// Puts a value in its slot (replacing what was there): settings for a
    /// subsystem, such as the kubelet's runtime, or a lab's plug-in.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.slots.insert(TypeId::of::<T>(), Box::new(value));
        self
    }

    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.slots.get(&TypeId::of::<T>())?.downcast_ref::<T>()
    }

    /// Registers something to start in `phase`. `name` is what upstream
    /// would call the component (`kube-scheduler`, `replicaset-controller`).
    pub fn on_start<F, Fut>(&mut self, phase: Phase, name: &'static str, start: F) -> &mut Self
    where
        F: FnOnce(Cluster) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.steps.push(Step {
            phase,
            chapter: self.current,
            name,
            run: Box::new(move |c| Box::pin(start(c))),
        });
        self
    }

    /// Registers a controller: started in the control-plane phase with the
    /// cluster's client and shared informers.
    pub fn controller<F>(&mut self, name: &'static str, start: F) -> &mut Self
    where
        F: FnOnce(&Client, &InformerFactory) + Send + 'static,
    {
        self.controller_with(name, move |_, client, informers| start(client, informers))
    }

    /// [`controller`](Self::controller), with the running cluster too: for
    /// a controller that reads a slot at start, such as a [`Plug`] a later
    /// chapter filled after this install.
    pub fn controller_with<F>(&mut self, name: &'static str, start: F) -> &mut Self
    where
        F: FnOnce(&Cluster, &Client, &InformerFactory) + Send + 'static,
    {
        self.on_start(Phase::ControlPlane, name, move |c: Cluster| async move {
            start(&c, &c.client().named(name), &c.informers());
            Ok(())
        })
    }

    /// What [`start`](Self::start) would run, in order: `(phase, chapter, name)`.
    pub fn plan(&self) -> Vec<(Phase, u8, &'static str)> {
        let mut v: Vec<_> = self
            .steps
            .iter()
            .map(|s| (s.phase, s.chapter, s.name))
            .collect();
        v.sort_by_key(|(p, ch, _)| (*p, *ch));
        v
    }

    /// Keeps only the steps `keep` accepts. A component that runs as its own
    /// process starts its part of the plan against a remote API server:
    /// `kubelab controller-manager` keeps the control plane's loops,
    /// `kubelab scheduler` the scheduler — as upstream runs
    /// kube-controller-manager and kube-scheduler as separate programs.
    /// The remote [`Client`] and its [`InformerFactory`] go into the
    /// builder first ([`ClusterBuilder::insert`]).
    pub fn retain_steps(&mut self, keep: impl Fn(Phase, &'static str) -> bool) -> &mut Self {
        self.steps.retain(|s| keep(s.phase, s.name));
        self
    }

    /// Starts everything registered, phase by phase. If a step fails, what
    /// already started is shut down again before the error is returned.
    pub async fn start(mut self) -> anyhow::Result<Cluster> {
        // A stable sort: within a phase and chapter, registration order.
        self.steps.sort_by_key(|s| (s.phase, s.chapter));
        let cluster = Cluster {
            inner: Arc::new(Inner {
                options: self.options,
                chapters: self.installed,
                slots: Mutex::new(self.slots),
                started: Mutex::new(Vec::new()),
                shutdown: Mutex::new(Vec::new()),
            }),
        };
        for step in self.steps {
            tracing::debug!("starting {} (chapter {})", step.name, step.chapter);
            if let Err(e) = (step.run)(cluster.clone()).await {
                cluster.shutdown().await;
                return Err(e.context(format!("starting {}", step.name)));
            }
            cluster.inner.started.lock().unwrap().push(step.name);
        }
        Ok(cluster)
    }
}

/// A slot for a piece a later chapter plugs into an earlier chapter's
/// component (chapter 09's rollouts into the Deployment, DaemonSet and
/// StatefulSet controllers): a constructor, run when the cluster starts so
/// the piece can take informers, and so a lab may put in its own function
/// after the chapter's install. Empty, the component does without.
pub struct Plug<T: ?Sized>(Option<MakePlug<T>>);

type MakePlug<T> = Arc<dyn Fn(&Cluster) -> Arc<T> + Send + Sync>;

impl<T: ?Sized> Plug<T> {
    pub fn new(make: impl Fn(&Cluster) -> Arc<T> + Send + Sync + 'static) -> Self {
        Plug(Some(Arc::new(make)))
    }

    /// The piece, made for `cluster`; `None` when nothing was plugged in.
    pub fn make(&self, cluster: &Cluster) -> Option<Arc<T>> {
        self.0.as_ref().map(|make| make(cluster))
    }
}

impl<T: ?Sized> Default for Plug<T> {
    fn default() -> Self {
        Plug(None)
    }
}

impl<T: ?Sized> Clone for Plug<T> {
    fn clone(&self) -> Self {
        Plug(self.0.clone())
    }
}

struct Inner {
    options: ClusterOptions,
    chapters: Vec<u8>,
    slots: Mutex<Slots>,
    started: Mutex<Vec<&'static str>>,
    shutdown: Mutex<Vec<(&'static str, BoxFuture<'static, ()>)>>,
}

/// A running cluster: what the steps put in its slots (the API server's
/// address, the client, the nodes …) and what to do to stop it.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl Cluster {
    pub fn options(&self) -> &ClusterOptions {
        &self.inner.options
    }

    /// Is chapter `n` installed?
    pub fn has_chapter(&self, n: u8) -> bool {
        self.inner.chapters.contains(&n)
    }

    /// The components started, in order (`kube-apiserver`, `kube-scheduler`, …).
    pub fn components(&self) -> Vec<&'static str> {
        self.inner.started.lock().unwrap().clone()
    }

    /// A copy of what a step stored (the types stored are cheap handles).
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner
            .slots
            .lock()
            .unwrap()
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
            .cloned()
    }

    /// Takes a slot's value out (a registry handed to the subsystem that runs it).
    pub fn take<T: Send + Sync + 'static>(&self) -> Option<T> {
        let b = self
            .inner
            .slots
            .lock()
            .unwrap()
            .remove(&TypeId::of::<T>())?;
        b.downcast::<T>().ok().map(|b| *b)
    }

    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        self.inner
            .slots
            .lock()
            .unwrap()
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The admin client of the API server (there from the first phase on).
    pub fn client(&self) -> Client {
        self.get::<Client>()
            .expect("the API server starts before anything that needs a client")
    }

    /// The shared informers (one per resource, created on demand).
    pub fn informers(&self) -> InformerFactory {
        self.get::<InformerFactory>()
            .expect("the API server starts before anything that needs informers")
    }

    /// Registers what to do when the cluster stops. Stops run in the
    /// reverse order of registration: nodes before the API server.
    pub fn on_shutdown<F>(&self, name: &'static str, stop: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner
            .shutdown
            .lock()
            .unwrap()
            .push((name, Box::pin(stop)));
    }

    /// Stops everything that registered a stop, last started first.
    pub async fn shutdown(&self) {
        loop {
            let next = self.inner.shutdown.lock().unwrap().pop();
            let Some((name, stop)) = next else { break };
            tracing::debug!("stopping {name}");
            stop.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(b: &mut ClusterBuilder) {
        b.on_start(Phase::NodeAgents, "agent", |c: Cluster| async move {
            c.insert(vec!["agent"]);
            Ok(())
        });
    }

    fn one(b: &mut ClusterBuilder) {
        b.slot::<Vec<u32>>().push(1);
        b.on_start(Phase::ApiServer, "server", |c: Cluster| async move {
            assert!(c.get::<Vec<&str>>().is_none(), "phases run in order");
            Ok(())
        });
    }

    #[tokio::test]
    async fn steps_run_by_phase_then_chapter_and_stops_run_in_reverse() {
        let mut b = ClusterBuilder::new(ClusterOptions::new("/nonexistent"));
        b.install(3, three).install(1, one);
        assert_eq!(b.chapters(), &[3, 1]);
        assert_eq!(
            b.plan(),
            vec![
                (Phase::ApiServer, 1, "server"),
                (Phase::NodeAgents, 3, "agent")
            ]
        );
        let c = b.start().await.unwrap();
        assert_eq!(c.components(), vec!["server", "agent"]);
        assert_eq!(c.get::<Vec<u32>>(), Some(vec![1]));
        assert!(c.has_chapter(3) && !c.has_chapter(2));
        let order = Arc::new(Mutex::new(Vec::new()));
        for name in ["first", "second"] {
            let o = order.clone();
            c.on_shutdown(name, async move { o.lock().unwrap().push(name) });
        }
        c.shutdown().await;
        assert_eq!(*order.lock().unwrap(), vec!["second", "first"]);
    }

    #[tokio::test]
    async fn a_failing_step_stops_what_started_and_names_itself() {
        let mut b = ClusterBuilder::new(ClusterOptions::new("/nonexistent"));
        let stopped = Arc::new(Mutex::new(false));
        let s = stopped.clone();
        b.on_start(Phase::ApiServer, "ok", move |c: Cluster| async move {
            c.on_shutdown("ok", async move { *s.lock().unwrap() = true });
            Ok(())
        });
        b.on_start(Phase::Nodes, "broken", |_| async {
            anyhow::bail!("no runtime")
        });
        let err = b.start().await.err().expect("the start fails");
        assert_eq!(format!("{err:#}"), "starting broken: no runtime");
        assert!(*stopped.lock().unwrap());
    }
}
