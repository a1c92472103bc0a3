//! # kubelab — the command line
//!
//! `kubelab up` builds one running cluster in one process from the chapter
//! table (`kubelab::chapters`): the store and API server (chapter 01), the
//! scheduler, controllers and kubelets (02), the pod network, proxy and
//! DNS (03) … With `--chapter N` it installs only chapters 1..=N, so a
//! learner can watch the cluster grow. This file parses command lines and
//! runs them; the benchmarks live in [`bench`].
//!
//! Where to start reading: [`up`].

use std::path::PathBuf;
use std::time::Duration;

use kubelab_client::ClusterOptions;
use kubelab_kubelet::NodeOptions;

mod bench;

/// mimalloc instead of glibc's malloc: the API server allocates and frees
/// many small JSON values per request, and glibc's allocator was a quarter of
/// the CPU in the density benchmark (`kubelab bench pods`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kubelab",
    version,
    about = "A Kubernetes you build chapter by chapter"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The helm v3 client (chapter 10): `kubelab helm install|upgrade|template …`.
    Helm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kube-apiserver as its own process: the store and the API of every
    /// chapter, nothing else (the other components join with
    /// `controller-manager`, `scheduler` …).
    Apiserver {
        #[arg(long, default_value = ".kubelab")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 6443)]
        port: u16,
        /// The address to listen on (0.0.0.0: every address).
        #[arg(long, default_value = "127.0.0.1")]
        bind_address: std::net::IpAddr,
        /// The address clients are given; the serving certificate names it.
        #[arg(long)]
        advertise_address: Option<std::net::IpAddr>,
        /// Keep state in an etcd cluster: etcd://h1:2379,h2:2379[/prefix]
        /// (default: the embedded store in --data-dir).
        #[arg(long)]
        store: Option<String>,
    },
    /// kube-controller-manager as its own process: the control plane's
    /// controllers of chapters 1..=N, against the API server a kubeconfig
    /// names (start one with `kubelab up --chapter 1`).
    ControllerManager {
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Where local-path volumes are provisioned.
        #[arg(long, default_value = ".kubelab-controller-manager")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = kubelab::chapters::LATEST)]
        chapter: u8,
        #[command(flatten)]
        election: LeaderElection,
    },
    /// kube-scheduler as its own process, against the API server a
    /// kubeconfig names.
    Scheduler {
        #[arg(long)]
        kubeconfig: PathBuf,
        #[command(flatten)]
        election: LeaderElection,
    },
    /// Run a chapter's exercise against the cluster in $KUBECONFIG and print
    /// what each command prints, e.g. `01-objects-and-api/01-first-objects`.
    Exercise {
        /// `<chapter folder>/<exercise>` (without `.sh`).
        name: String,
        /// Replace ages, uids, timestamps and ports as the book's transcripts do.
        #[arg(long)]
        redact: bool,
    },
    /// Classroom labs: list them, check your work, start over.
    Lab {
        #[command(subcommand)]
        what: LabCommand,
    },
    /// Measure and print performance figures (use a release build).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// A real etcd cluster on this machine's loopback, for `--store`:
    /// Debian's etcd, one process per member (Ctrl-C stops them; data survives).
    Etcd {
        #[arg(long, default_value = ".kubelab-etcd")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// Member i serves clients on PORT+2i and peers on PORT+2i+1 (0: free ports).
        #[arg(long, default_value_t = 2379)]
        port: u16,
    },
    /// Start a cluster in the foreground (Ctrl-C stops it; data survives).
    Up {
        /// Where the store, certificates and kubeconfig live.
        #[arg(long, default_value = ".kubelab")]
        data_dir: PathBuf,
        /// The API server's port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 6443)]
        port: u16,
        /// Start only what chapters 1..=N add.
        #[arg(long, default_value_t = kubelab::chapters::LATEST)]
        chapter: u8,
        /// Seconds between compactions of old revisions (upstream: 300).
        #[arg(long, default_value_t = 300)]
        compaction_interval: u64,
        /// How many nodes (chapter 02).
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// The container runtime: linux (namespaces and cgroups; needs
        /// root), process (plain processes, no isolation) or fake (no
        /// processes, for scale tests). Default: linux as root, else process.
        #[arg(long)]
        runtime: Option<kubelab_runtime::RuntimeKind>,
        /// How Secrets are encrypted at rest (upstream's
        /// EncryptionConfiguration; chapter 04). Default: a key generated
        /// in the data dir on first start.
        #[arg(long)]
        encryption_provider_config: Option<PathBuf>,
        /// Seconds without a heartbeat before a node is Unknown and tainted
        /// unreachable (chapter 06; upstream's default: 50; at least 15).
        #[arg(long, default_value_t = 50)]
        node_monitor_grace_period: u64,
        /// Keep state in an etcd cluster: etcd://h1:2379,h2:2379[/prefix]
        /// (default: the embedded store in --data-dir).
        #[arg(long)]
        store: Option<String>,
    },
    /// One node — kubelet, service proxy and DNS — as its own process on a
    /// host of its own, joining the API server a kubeconfig names:
    /// `kubelab node --kubeconfig F --name N [--node-ip IP]`. Or, in a
    /// `kubelab up` cluster, a node's machine dies (`stop`) or comes back
    /// (`start`) (chapter 06).
    #[command(args_conflicts_with_subcommands = true)]
    Node {
        #[command(subcommand)]
        what: Option<NodeCommand>,
        #[command(flatten)]
        run: NodeRun,
    },
    /// Stop everything a cluster left behind: containers, cgroups, network namespaces.
    Down {
        #[arg(long, default_value = ".kubelab")]
        data_dir: PathBuf,
    },
    /// The local image store: kubelab never pulls, you load images from files.
    Image {
        #[command(subcommand)]
        what: ImageCommand,
    },
    /// Run one of the demo apps (web, whoami, random, frontend, ticker, sleep).
    Demo {
        app: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `kubelab node`'s flags (upstream: the kubelet's and kube-proxy's).
#[derive(clap::Args)]
struct NodeRun {
    /// The API server and the credentials to use.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The Node's name.
    #[arg(long)]
    name: Option<String>,
    /// The address the other hosts reach this node at (its InternalIP).
    /// Default: this host's address on the way to the API server.
    #[arg(long)]
    node_ip: Option<std::net::Ipv4Addr>,
    /// Where containers, volumes and images live.
    #[arg(long, default_value = ".kubelab-node")]
    data_dir: PathBuf,
    /// linux (the default as root), process or fake.
    #[arg(long)]
    runtime: Option<kubelab_runtime::RuntimeKind>,
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Kill the node's containers and silence its kubelet (no heartbeats).
    Stop {
        name: String,
        /// Default: the folder of $KUBECONFIG if it is a kubelab data
        /// directory, else .kubelab.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Bring the node back: its kubelet registers and heartbeats again.
    Start {
        name: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Import an OCI image layout (folder or tar) or a docker-archive tarball.
    Load {
        file: PathBuf,
        /// The name to give it, e.g. `myapp:1.0` (default: the names inside).
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value = ".kubelab")]
        data_dir: PathBuf,
    },
    /// List the images.
    Ls {
        #[arg(long, default_value = ".kubelab")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum LabCommand {
    /// Every lab: what to edit, where to read, the hint.
    List,
    /// Run a lab's tests against your code (or the reference with --solution).
    Check {
        number: String,
        #[arg(long)]
        solution: bool,
    },
    /// Put a lab's file back to its starting point.
    Reset { number: String },
    /// For CI: every stub fails its tests and every solution passes.
    MetaCheck,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// kubelab's store against a real etcd, side by side.
    Store,
    /// The API server: latencies, a list of 10,000 pods, memory.
    Api {
        /// Also measure with the state in this etcd cluster
        /// (etcd://h1:2379,…; `kubelab etcd` starts one), side by side
        /// with the embedded store, and the density run on it.
        #[arg(long)]
        store: Option<String>,
    },
    /// Chapter 03: endpoint propagation, ClusterIP against pod IP, DNS.
    Services,
    /// Chapter 02: time to a Ready node, pod start latency, density on fake nodes.
    Pods {
        /// Only the density run (10,000 pods on 1,000 fake nodes).
        #[arg(long)]
        density_only: bool,
    },
    /// Chapter 04: a ConfigMap update reaching 100 pods' files, Secret creates with encryption.
    Config,
    /// Chapter 05: claim → Bound by provisioning; pod start with a new claim against without.
    Volumes,
    /// Chapter 07: probe cost (HTTP against exec), readiness → endpoints, deletions under load.
    Lifecycle,
    /// Chapter 06: a DaemonSet on 1,000 fake nodes, 0 → 5,000 replicas, a node's pods moving, autoscaler reaction.
    Scaling,
    /// Chapter 08: Job completions/s and a StatefulSet of 100 on fake nodes, CronJob lateness.
    Batch,
    /// Chapter 09: requests failed during a rollout and a rollback; 1,000 replicas rolled on fake nodes.
    Rollout,
    /// Chapter 10: `helm template` and install → deployed, kubelab helm against the real helm.
    Helm,
}

/// `kubelab apiserver`: the API server step of every chapter (their
/// kinds, strategies and authenticators), and nothing else.
async fn apiserver(
    data_dir: PathBuf,
    port: u16,
    bind_address: std::net::IpAddr,
    advertise_address: Option<std::net::IpAddr>,
    store: Option<String>,
) -> anyhow::Result<()> {
    let mut options = ClusterOptions::new(data_dir);
    options.store = store;
    options.port = port;
    options.bind_address = bind_address;
    options.advertise_address = advertise_address;
    options.chapter = kubelab::chapters::LATEST;
    let mut b = kubelab::chapters::builder(options);
    b.retain_steps(|phase, _| phase == kubelab_client::Phase::ApiServer);
    let cluster = b.start().await?;
    let api = cluster
        .get::<kubelab_apiserver::ApiServer>()
        .context("chapter 01 starts the API server")?;
    if let Some(ip) = advertise_address {
        // Pods on any host reach the API server at its advertised address.
        kubelab_apiserver::publish_kubernetes_endpoints(&cluster.client(), &[ip], api.addr.port())
            .await
            .map_err(|e| anyhow::anyhow!("writing the kubernetes Endpoints: {e}"))?;
    }
    println!("kubelab apiserver is up at {}", api.url);
    if let Some(kubeconfig) = &api.kubeconfig {
        println!("export KUBECONFIG={}", kubeconfig.display());
    }
    stop_requested().await?;
    cluster.shutdown().await;
    std::process::exit(0)
}

/// Waits for Ctrl-C or SIGTERM: how every long-running command stops.
async fn stop_requested() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// Upstream's leader election flags (kube-controller-manager's and
/// kube-scheduler's).
#[derive(clap::Args)]
struct LeaderElection {
    /// Take the Lease kube-system/<component> before acting, so that of
    /// several copies only one acts.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// How long a Lease holds without renewal (`15s`).
    #[arg(long, default_value = "15s", value_parser = parse_seconds)]
    leader_elect_lease_duration: Duration,
    /// How often to try to acquire or renew (`2s`).
    #[arg(long, default_value = "2s", value_parser = parse_seconds)]
    leader_elect_retry_period: Duration,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    s.trim_end_matches('s')
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|_| format!("invalid duration {s:?} (use seconds, like 15s)"))
}

/// Runs one component of the control plane as its own process: the steps
/// `keep` selects from chapters 1..=`chapter`, with a client of the remote
/// API server in `kubeconfig`, until SIGINT or SIGTERM.
async fn run_component(
    what: &str,
    kubeconfig: &std::path::Path,
    data_dir: PathBuf,
    chapter: u8,
    election: Option<&LeaderElection>,
    keep: impl Fn(kubelab_client::Phase, &'static str) -> bool,
    configure: impl FnOnce(&mut kubelab_client::ClusterBuilder),
) -> anyhow::Result<()> {
    let leader_elect = election.is_some_and(|e| e.leader_elect);
    let client = kubelab_client::rest::Client::from_kubeconfig(kubeconfig)?;
    // fail at once, with the reason, if the server is unreachable or
    // refuses the credentials
    client
        .get("/api/v1/namespaces/default")
        .await
        .map_err(|e| anyhow::anyhow!("{what}: the API server in {}: {e}", kubeconfig.display()))?;
    // one SIGTERM listener for the whole life: a signal during the
    // election or the start is not lost
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut lease = kubelab_client::leader::Election::new(what);
    if let Some(election) = election {
        lease.lease_duration = election.leader_elect_lease_duration;
        lease.retry_period = election.leader_elect_retry_period;
    }
    if leader_elect {
        eprintln!("{what}: attempting to acquire leader lease kube-system/{what}...");
        tokio::select! {
            _ = kubelab_client::leader::acquire(&client, &lease) => {}
            _ = tokio::signal::ctrl_c() => std::process::exit(0),
            _ = term.recv() => std::process::exit(0),
        }
        eprintln!("{what}: successfully acquired lease kube-system/{what}");
    }
    let mut options = ClusterOptions::new(data_dir);
    options.chapter = chapter;
    let mut b = kubelab::chapters::builder(options);
    b.retain_steps(keep);
    b.insert(kubelab_client::factory::InformerFactory::new(&client));
    b.insert(client.clone());
    configure(&mut b);
    let cluster = b.start().await?;
    println!("{what} is running: {}", cluster.components().join(", "));
    let lost = async {
        if leader_elect {
            kubelab_client::leader::keep(&client, &lease).await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = lost => {
            // upstream's components exit when they lose the lease: another
            // copy is acting now
            eprintln!("{what}: leaderelection lost");
            std::process::exit(1)
        }
    }
    cluster.shutdown().await;
    std::process::exit(0)
}

// Store calls run on tokio's blocking pool. Each of its threads can get a
// malloc arena of its own, so the pool is capped well below tokio's default
// of 512 threads: the store serialises writes anyway.
fn main() -> anyhow::Result<()> {
    // The runtime's helpers (shim, init, pause, exec) and the demo apps are
    // this same binary, started under another name or with a first
    // argument: handle those before anything else (no threads yet).
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = kubelab_runtime::reexec::main(&args) {
        std::process::exit(code);
    }
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or("");
    let demo = if kubelab_demo::APPS.contains(&argv0) {
        Some((argv0.to_string(), args[1..].to_vec()))
    } else if argv0 == "kubelab-demo" && args.len() > 1 {
        Some((args[1].clone(), args[2..].to_vec()))
    } else {
        None
    };
    if let Some((app, rest)) = demo {
        std::process::exit(kubelab_demo::run(&app, &rest).unwrap_or(127));
    }
    // Chapter 10: `kubelab helm …` is a helm-compatible client of its own.
    if args.get(1).map(String::as_str) == Some("helm") {
        std::process::exit(kubelab_helm::cli::run(args[2..].to_vec()));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(32)
        .build()?
        .block_on(main_inner())
}

async fn main_inner() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        // The benchmarks are blocking code with their own threads.
        Command::Helm { args } => std::process::exit(kubelab_helm::cli::run(args)),
        Command::Apiserver {
            data_dir,
            port,
            bind_address,
            advertise_address,
            store,
        } => apiserver(data_dir, port, bind_address, advertise_address, store).await,
        Command::Etcd {
            data_dir,
            members,
            port,
        } => {
            let mut etcd = kubelab_store::LocalEtcd::start_on(&data_dir, members, port)?;
            etcd.keep_data();
            println!("etcd is up: --store {}", etcd.url(""));
            println!(
                "export ETCDCTL_API=3 ETCDCTL_ENDPOINTS={}",
                etcd.endpoints()
            );
            stop_requested().await?;
            drop(etcd);
            Ok(())
        }
        Command::ControllerManager {
            kubeconfig,
            data_dir,
            chapter,
            election,
        } => {
            run_component(
                "kube-controller-manager",
                &kubeconfig,
                data_dir,
                chapter,
                Some(&election),
                |phase, name| {
                    phase == kubelab_client::Phase::ControlPlane && name != "kube-scheduler"
                },
                |_| {},
            )
            .await
        }
        Command::Scheduler {
            kubeconfig,
            election,
        } => {
            let dir = std::env::temp_dir().join("kubelab-scheduler");
            run_component(
                "kube-scheduler",
                &kubeconfig,
                dir,
                kubelab::chapters::LATEST,
                Some(&election),
                |_, name| name == "kube-scheduler",
                |_| {},
            )
            .await
        }
        Command::Exercise { name, redact } => exercise(&name, redact),
        Command::Lab { what } => {
            let root = std::env::current_dir()?;
            match what {
                LabCommand::List => kubelab::labs::list(&root),
                LabCommand::Check { number, solution } => {
                    if kubelab::labs::check(&root, &number, solution)? {
                        Ok(())
                    } else {
                        std::process::exit(1)
                    }
                }
                LabCommand::Reset { number } => kubelab::labs::reset(&root, &number),
                LabCommand::MetaCheck => kubelab::labs::meta_check(&root),
            }
        }
        Command::Bench {
            what: BenchWhat::Pods { density_only },
        } => bench::pods::pods(density_only).await,
        Command::Bench {
            what: BenchWhat::Api { store },
        } => match store {
            None => tokio::task::block_in_place(|| bench::api(None).map(drop)),
            Some(url) => bench::api_against_etcd(&url).await,
        },
        Command::Bench {
            what: BenchWhat::Services,
        } => bench::services::services().await,
        Command::Bench {
            what: BenchWhat::Config,
        } => bench::config::config().await,
        Command::Bench {
            what: BenchWhat::Volumes,
        } => bench::volumes::volumes().await,
        Command::Bench {
            what: BenchWhat::Lifecycle,
        } => bench::lifecycle::lifecycle().await,
        Command::Bench {
            what: BenchWhat::Scaling,
        } => bench::scaling::scaling().await,
        Command::Bench {
            what: BenchWhat::Batch,
        } => bench::batch::batch().await,
        Command::Bench {
            what: BenchWhat::Rollout,
        } => bench::rollout::rollout().await,
        Command::Bench { what } => tokio::task::block_in_place(|| match what {
            BenchWhat::Store => bench::store(),
            BenchWhat::Helm => bench::helm::helm(),
            BenchWhat::Api { .. }
            | BenchWhat::Pods { .. }
            | BenchWhat::Services
            | BenchWhat::Config
            | BenchWhat::Volumes
            | BenchWhat::Lifecycle
            | BenchWhat::Scaling
            | BenchWhat::Rollout
            | BenchWhat::Batch => unreachable!(),
        }),
        Command::Up {
            data_dir,
            port,
            chapter,
            compaction_interval,
            nodes,
            runtime,
            encryption_provider_config,
            node_monitor_grace_period,
            store,
        } => {
            let mut options = ClusterOptions::new(data_dir);
            options.store = store;
            options.port = port;
            options.chapter = chapter;
            options.compaction_interval = Duration::from_secs(compaction_interval.max(1));
            options.nodes = nodes;
            options.encryption_provider_config = encryption_provider_config;
            let node_options = NodeOptions {
                runtime: runtime.unwrap_or_else(kubelab_runtime::RuntimeKind::detect),
                backoff: None,
            };
            anyhow::ensure!(
                node_monitor_grace_period
                    >= kubelab::scaling::nodelifecycle::MIN_GRACE_PERIOD.as_secs(),
                "--node-monitor-grace-period {node_monitor_grace_period}: must be at least {} s (kubelets renew their Lease every 10 s; a shorter period declares healthy nodes lost between two renewals)",
                kubelab::scaling::nodelifecycle::MIN_GRACE_PERIOD.as_secs()
            );
            let scaling = kubelab::scaling::ScalingOptions {
                node_monitor_grace_period: Duration::from_secs(node_monitor_grace_period.max(1)),
                ..Default::default()
            };
            up(options, node_options, scaling).await
        }
        Command::Node {
            what: Some(what), ..
        } => node(what).await,
        Command::Node { what: None, run } => run_node(run).await,
        Command::Down { data_dir } => {
            let (killed, cgroups) = kubelab_kubelet::nodes::remove_leftovers(&data_dir);
            let netns = kubelab_network::linux::remove_all_netns(
                &kubelab_network::linux::netns_prefix(&data_dir),
            );
            println!(
                "kubelab down: killed {killed} containers, removed {cgroups} cgroups and {netns} network namespaces"
            );
            Ok(())
        }
        Command::Image { what } => image(what),
        Command::Demo { app, args } => {
            std::process::exit(kubelab_demo::run(&app, &args).unwrap_or_else(|| {
                eprintln!(
                    "no demo app {app:?}; there are {}",
                    kubelab_demo::APPS.join(", ")
                );
                2
            }))
        }
    }
}

/// `kubelab node stop|start NAME`: flips the node's power switch (a file
/// its kubelet watches) and waits until the kubelet says it is done.
/// `kubelab node --kubeconfig F --name N`: the node steps of every chapter
/// (network, kubelet and its plugins, proxy, DNS) for one node.
async fn run_node(run: NodeRun) -> anyhow::Result<()> {
    let (Some(kubeconfig), Some(name)) = (run.kubeconfig, run.name) else {
        anyhow::bail!("kubelab node needs --kubeconfig and --name (or a subcommand: stop, start)");
    };
    let ip = match run.node_ip {
        Some(ip) => ip,
        None => address_towards(&kubelab_client::remote::KubeConfig::load(&kubeconfig)?.server)?,
    };
    // Node n owns 10.244.n.0/24 and is 172.18.0.(n+1) on the test
    // network: the index comes from the last byte of the address.
    let index = (ip.octets()[3] as usize).saturating_sub(1);
    let identity = kubelab_client::NodeIdentity {
        name: name.clone(),
        ip,
        index,
    };
    let runtime = run
        .runtime
        .unwrap_or_else(kubelab_runtime::RuntimeKind::detect);
    std::fs::create_dir_all(&run.data_dir)?;
    run_component(
        &format!("kubelab node {name}"),
        &kubeconfig,
        run.data_dir,
        kubelab::chapters::LATEST,
        None,
        |phase, _| {
            use kubelab_client::Phase;
            matches!(phase, Phase::NodeSetup | Phase::Nodes | Phase::NodeAgents)
        },
        move |b| {
            b.options_mut().node = Some(identity);
            b.insert(NodeOptions {
                runtime,
                backoff: None,
            });
        },
    )
    .await
}

/// The address this host sends from towards `server` (a URL): what the
/// kernel picks for a connection there, as the kubelet's default node IP
/// is the address of the interface on the way out.
fn address_towards(server: &str) -> anyhow::Result<std::net::Ipv4Addr> {
    let host_port = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .trim_end_matches('/');
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    socket.connect(host_port)?;
    match socket.local_addr()?.ip() {
        std::net::IpAddr::V4(ip) => Ok(ip),
        other => anyhow::bail!("{other}: give an IPv4 --node-ip"),
    }
}

async fn node(what: NodeCommand) -> anyhow::Result<()> {
    use kubelab_kubelet::node::{POWER_STATE, STOPPED_MARKER};
    let (name, data_dir, stop) = match what {
        NodeCommand::Stop { name, data_dir } => (name, data_dir, true),
        NodeCommand::Start { name, data_dir } => (name, data_dir, false),
    };
    let data_dir = data_dir.unwrap_or_else(|| {
        std::env::var_os("KUBECONFIG")
            .map(PathBuf::from)
            .and_then(|k| k.parent().map(PathBuf::from))
            .filter(|d| d.join("nodes").is_dir())
            .unwrap_or_else(|| PathBuf::from(".kubelab"))
    });
    let dir = kubelab_kubelet::nodes::node_dir(&data_dir, &name);
    anyhow::ensure!(
        dir.is_dir(),
        "no node {name:?} in {} (nodes are kubelab-node-1, -2, …)",
        data_dir.display()
    );
    let marker = dir.join(STOPPED_MARKER);
    if stop {
        std::fs::write(&marker, "")?;
    } else if marker.exists() {
        std::fs::remove_file(&marker)?;
    }
    let want = if stop { "down" } else { "up" };
    for _ in 0..100 {
        if std::fs::read_to_string(dir.join(POWER_STATE)).is_ok_and(|s| s == want) {
            println!(
                "node/{name} {}",
                if stop {
                    "stopped: its containers are killed and its kubelet no longer heartbeats"
                } else {
                    "started: its kubelet registers and heartbeats again"
                }
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "node {name} did not answer in 10 s: is `kubelab up --data-dir {}` running?",
        data_dir.display()
    )
}

/// Runs `chapters/<name>.sh` from the repository root.
fn exercise(name: &str, redact: bool) -> anyhow::Result<()> {
    let root = std::env::current_dir()?;
    let (chapter, script) = name
        .split_once('/')
        .context("expected <chapter>/<exercise>, e.g. 01-objects-and-api/01-first-objects")?;
    let path = root
        .join("chapters")
        .join(chapter)
        .join("exercises")
        .join(format!("{script}.sh"));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run this from the repository root)",
            path.display()
        )
    })?;
    let kubeconfig = std::env::var_os("KUBECONFIG")
        .context("set KUBECONFIG to your cluster's kubeconfig (kubelab up prints it)")?;
    let out = kubelab::exercises::run(&text, &root, std::path::Path::new(&kubeconfig), "")?;
    print!(
        "{}",
        if redact {
            kubelab::exercises::redact(&out)
        } else {
            out
        }
    );
    Ok(())
}

fn image(what: ImageCommand) -> anyhow::Result<()> {
    match what {
        ImageCommand::Load {
            file,
            tag,
            data_dir,
        } => {
            let store = kubelab_kubelet::images(&data_dir)?;
            for name in store.load(&file, tag.as_deref())? {
                println!("Loaded image: {}", kubelab_runtime::image::familiar(&name));
            }
        }
        ImageCommand::Ls { data_dir } => {
            let store = kubelab_kubelet::images(&data_dir)?;
            println!("{:<40} {:<12} {:<14} SIZE", "IMAGE", "TAG", "IMAGE ID");
            for (name, img) in store.list() {
                let familiar = kubelab_runtime::image::familiar(&name);
                let (repo, tag) = familiar.rsplit_once(':').unwrap_or((&familiar, "latest"));
                let id = img.id.trim_start_matches("sha256:");
                println!(
                    "{:<40} {:<12} {:<14} {:.1}MB",
                    repo,
                    tag,
                    &id[..id.len().min(12)],
                    img.size as f64 / 1e6
                );
            }
        }
    }
    Ok(())
}

/// Starts the cluster and waits for Ctrl-C or SIGTERM.
async fn up(
    mut options: ClusterOptions,
    node_options: NodeOptions,
    scaling: kubelab::scaling::ScalingOptions,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let latest = kubelab::chapters::LATEST;
    if options.chapter > latest {
        tracing::warn!(
            "chapter {} has no code yet; starting chapters 1..={latest}",
            options.chapter
        );
    }
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    options.data_dir = options.data_dir.canonicalize()?;
    let chapter = options.chapter;
    if chapter >= 2 {
        kubelab::host::ensure(node_options.runtime, chapter >= 3)?;
    }
    let node_count = options.nodes;
    let mut builder = kubelab::chapters::builder(options);
    builder.insert(node_options);
    builder.insert(scaling);
    let cluster = builder.start().await?;
    let api = cluster
        .get::<kubelab_apiserver::ApiServer>()
        .context("chapter 01 starts the API server")?;
    println!("kubelab is up: API server at {}", api.url);
    if let Some(kubeconfig) = &api.kubeconfig {
        println!("export KUBECONFIG={}", kubeconfig.display());
    }
    if cluster.get::<kubelab_kubelet::Nodes>().is_some() {
        println!(
            "{node_count} node(s) ready with the {} runtime in {} ms",
            node_options.runtime.as_str(),
            started.elapsed().as_millis()
        );
    }

    stop_requested().await?;
    eprintln!("stopping kubelab");
    cluster.shutdown().await;
    // Informer loops and watches would keep the runtime busy forever;
    // every write is already durable, so leave now.
    std::process::exit(0)
}
