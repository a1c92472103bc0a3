//! Beyond one machine: a cluster over four "hosts", each a network
//! namespace of its own joined to the others by veth pairs on one switch,
//! as machines on one LAN are. The whole control plane — a three-member
//! etcd, `kubelab apiserver`, `controller-manager`, `scheduler` — runs in
//! host 1; `kubelab node` runs in hosts 2, 3 and 4. Every component is a
//! process of its own that only knows the API server's address and a
//! kubeconfig. Private addresses exist only inside these namespaces, whose
//! names start with `kubelab-`, and everything goes when the test ends.
//!
//! Checked: pods on different hosts reach each other by pod IP (each
//! node's range routed via its node, host-gw style; through a VXLAN
//! overlay to host 4, which sits behind a router on another subnet),
//! through a ClusterIP Service and by DNS name; `kill -9` of the API server leaves running
//! pods alone (same container, no restart) and the nodes Ready again;
//! `kill -9` of a node process, restarted, re-adopts its containers.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Process, eventually, is_root, with_stdin};

/// The hosts: `kubelab-hosts-<pid>-1` … and their switch `…-sw`.
struct Hosts {
    prefix: String,
    dir: tempfile::TempDir,
    /// Node data dirs, for `kubelab down` at the end.
    node_dirs: Vec<PathBuf>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Host `i`'s address: 172.18.0.(i+1) on the LAN, so host i is node i;
/// host 4 is behind a router, on 172.19.0.0/24.
fn host_ip(i: usize) -> String {
    if i == 4 {
        "172.19.0.5".into()
    } else {
        format!("172.18.0.{}", i + 1)
    }
}

impl Hosts {
    /// Hosts 1 to 3 on one LAN; host 4 (if `n` is 4) on another, joined
    /// to the first by a router namespace `…-rt`.
    fn create(n: usize) -> Hosts {
        let prefix = format!("kubelab-hosts-{}-", std::process::id());
        let hosts = Hosts {
            prefix: prefix.clone(),
            dir: tempfile::Builder::new()
                .prefix("kubelab-hosts-")
                .tempdir()
                .unwrap(),
            node_dirs: Vec::new(),
        };
        let sw = format!("{prefix}sw");
        ip(&["netns", "add", &sw]);
        ip(&["-n", &sw, "link", "add", "lan", "type", "bridge"]);
        ip(&["-n", &sw, "link", "set", "lan", "up"]);
        let rt = format!("{prefix}rt");
        ip(&["netns", "add", &rt]);
        ip(&[
            "-n", &sw, "link", "add", "r", "type", "veth", "peer", "name", "lan-a", "netns", &rt,
        ]);
        ip(&["-n", &sw, "link", "set", "r", "master", "lan", "up"]);
        ip(&["-n", &rt, "addr", "add", "172.18.0.1/24", "dev", "lan-a"]);
        ip(&["-n", &rt, "link", "set", "lan-a", "up"]);
        let forward = Command::new("ip")
            .args([
                "netns",
                "exec",
                &rt,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ])
            .status()
            .unwrap();
        assert!(forward.success());
        for i in 1..=n {
            let ns = format!("{prefix}{i}");
            ip(&["netns", "add", &ns]);
            if i == 4 {
                ip(&[
                    "-n", &rt, "link", "add", "lan-b", "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ]);
                ip(&["-n", &rt, "addr", "add", "172.19.0.1/24", "dev", "lan-b"]);
                ip(&["-n", &rt, "link", "set", "lan-b", "up"]);
            } else {
                let port = format!("h{i}");
                ip(&[
                    "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ]);
                ip(&["-n", &sw, "link", "set", &port, "master", "lan", "up"]);
            }
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", host_ip(i)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            let gw = if i == 4 { "172.19.0.1" } else { "172.18.0.1" };
            ip(&["-n", &ns, "route", "add", "default", "via", gw]);
        }
        hosts
    }

    fn path(&self, what: &str) -> PathBuf {
        self.dir.path().join(what)
    }

    /// `kubelab ARGS` in host `i` (only its network namespace is entered:
    /// the mounts, cgroups and /sys stay the machine's, as on a real host).
    fn command(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}{i}", self.prefix))
            .arg(program);
        c
    }

    /// Starts `kubelab ARGS` in host `i`; returns it and the first line it
    /// printed that starts with `expect`.
    fn start(&self, i: usize, args: &[&str], expect: &str) -> (Process, String) {
        let mut child = self
            .command(i, env!("CARGO_BIN_EXE_kubelab"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with(expect))
            .unwrap_or_else(|| panic!("kubelab {args:?} did not say {expect:?}"));
        // keep reading: a closed pipe would kill the process at its next line
        std::thread::spawn(move || lines.for_each(drop));
        (Process(child), line)
    }

    /// The real kubectl, in host 1 (where the API server is reachable).
    fn kubectl_cmd(&self) -> Command {
        let mut c = self.command(1, "kubectl");
        c.arg("--kubeconfig").arg(self.path("api/kubeconfig"));
        c
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd()
            .arg("--cache-dir")
            .arg(self.path("kubectl-cache"))
            .args(args)
            .output()
            .unwrap()
    }

    fn get(&self, what: &[&str], jsonpath: &str) -> String {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        let path = format!("jsonpath={jsonpath}");
        args.extend_from_slice(&["-o", &path]);
        String::from_utf8_lossy(&self.kubectl(&args).stdout).into_owned()
    }

    fn apply(&self, manifest: &str) {
        let mut apply = self.kubectl_cmd();
        apply.args(["apply", "-f", "-"]);
        let out = with_stdin(apply, manifest);
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn node(&mut self, i: usize) -> Process {
        let dir = self.path(&format!("node-{i}"));
        self.node_dirs.push(dir.clone());
        let kubeconfig = self.path("api/kubeconfig");
        let name = format!("host-{i}");
        let (p, _) = self.start(
            i,
            &[
                "node",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
                "--name",
                &name,
                "--runtime",
                "linux",
                "--data-dir",
                dir.to_str().unwrap(),
            ],
            &format!("kubelab node {name} is running"),
        );
        p
    }

    fn ready_nodes(&self) -> usize {
        self.get(
            &["nodes"],
            "{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
        )
        .lines()
        .filter(|l| *l == "True")
        .count()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for d in &self.node_dirs {
            let _ = Command::new(env!("CARGO_BIN_EXE_kubelab"))
                .args(["down", "--data-dir"])
                .arg(d)
                .output();
        }
        if let Ok(rd) = std::fs::read_dir("/run/netns") {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(&self.prefix) {
                    let _ = Command::new("ip").args(["netns", "delete", &name]).status();
                }
            }
        }
    }
}

const WEB: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: host-2
  containers:
  - {name: web, image: kubelab/web:1.0}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
";

const CLIENT: &str = "apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: host-3
  containers:
  - {name: sh, image: busybox, command: [sleep, '3600']}
";

/// A pod on host `node` that succeeds once `url` answers (tried for 30 s).
fn fetcher_on(node: &str, name: &str, url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - name: get
    image: busybox
    command: [sh, -c, 'for i in $(seq 30); do wget -q -O- {url} | grep -q Hello && exit 0; sleep 1; done; exit 1']
"
    )
}

/// [`fetcher_on`] host 3.
fn fetcher(name: &str, url: &str) -> String {
    fetcher_on("host-3", name, url)
}

fn wait_phase(h: &Hosts, pod: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let phase = h.get(&["pod", pod], "{.status.phase}");
        if phase == "Succeeded" || phase == "Failed" || Instant::now() > deadline {
            return phase;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_cluster_over_four_hosts_with_each_component_in_its_own_process() {
    if !is_root() {
        return;
    }
    let mut h = Hosts::create(4);
    let etcd_dir = h.path("etcd");
    let (_etcd, said) = h.start(
        1,
        &[
            "etcd",
            "--port",
            "0",
            "--data-dir",
            etcd_dir.to_str().unwrap(),
        ],
        "etcd is up",
    );
    let store = said.rsplit(' ').next().unwrap().to_string();
    let api_dir = h.path("api");
    let api_args = [
        "apiserver",
        "--data-dir",
        api_dir.to_str().unwrap(),
        "--port",
        "6443",
        "--bind-address",
        "0.0.0.0",
        "--advertise-address",
        "172.18.0.2",
        "--store",
        &store,
    ];
    let (api, said) = h.start(1, &api_args, "kubelab apiserver is up");
    assert!(said.ends_with("https://172.18.0.2:6443"), "{said}");
    let kubeconfig = api_dir.join("kubeconfig");
    let kc = kubeconfig.to_str().unwrap();
    let cm_dir = h.path("cm");
    let (_cm, _) = h.start(
        1,
        &[
            "controller-manager",
            "--kubeconfig",
            kc,
            "--data-dir",
            cm_dir.to_str().unwrap(),
        ],
        "kube-controller-manager is running",
    );
    let (_sched, _) = h.start(
        1,
        &["scheduler", "--kubeconfig", kc],
        "kube-scheduler is running",
    );
    let mut node2 = h.node(2);
    let node3 = h.node(3);
    let _node4 = h.node(4);
    assert!(eventually(60, || h.ready_nodes() == 3), "three Ready nodes");
    // Each node reports the address it has on the LAN and owns the pod
    // range its address gives it.
    assert_eq!(
        h.get(
            &["node", "host-2"],
            "{.status.addresses[?(@.type==\"InternalIP\")].address} {.spec.podCIDR}"
        ),
        "172.18.0.3 10.244.2.0/24"
    );

    h.apply(WEB);
    assert!(
        eventually(60, || h.get(&["pod", "web"], "{.status.phase}")
            == "Running"),
        "web runs on host-2"
    );
    let web_ip = h.get(&["pod", "web"], "{.status.podIP}");
    assert!(web_ip.starts_with("10.244.2."), "{web_ip}");

    // Pod to pod across hosts, by pod IP; then the Service's virtual IP,
    // found by its DNS name, from host 3.
    h.apply(&fetcher("by-ip", &format!("http://{web_ip}:8080/")));
    assert_eq!(wait_phase(&h, "by-ip"), "Succeeded", "pod IP across hosts");
    assert!(
        h.get(&["pod", "by-ip"], "{.status.podIP}")
            .starts_with("10.244.3.")
    );
    h.apply(&fetcher("by-name", "http://web.default.svc.cluster.local/"));
    assert_eq!(
        wait_phase(&h, "by-name"),
        "Succeeded",
        "ClusterIP Service by DNS name across hosts"
    );
    // Host 4 is behind a router: its range goes through the overlay, the
    // others' straight via their addresses.
    let routes = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-n", &format!("{}2", h.prefix), "route"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(
        routes.contains("10.244.3.0/24 via 172.18.0.4 dev eth0"),
        "{routes}"
    );
    assert!(
        routes.contains("10.244.4.0/24 via 10.244.4.0 dev kubelab.vx onlink"),
        "{routes}"
    );
    h.apply(&fetcher_on(
        "host-4",
        "over-vxlan",
        &format!("http://{web_ip}:8080/"),
    ));
    assert_eq!(
        wait_phase(&h, "over-vxlan"),
        "Succeeded",
        "pod IP through VXLAN"
    );
    h.apply(&fetcher_on(
        "host-4",
        "name-over-vxlan",
        "http://web.default.svc.cluster.local/",
    ));
    assert_eq!(
        wait_phase(&h, "name-over-vxlan"),
        "Succeeded",
        "a Service by name through VXLAN"
    );

    // logs, exec (with stdin) and port-forward reach the kubelets over the
    // network, through the API server, from kubectl in host 1.
    h.apply(CLIENT);
    assert!(
        eventually(60, || h.get(&["pod", "client"], "{.status.phase}")
            == "Running"),
        "client runs on host-3"
    );
    let out = h.kubectl(&[
        "exec",
        "client",
        "--",
        "wget",
        "-q",
        "-O-",
        &format!("http://{web_ip}:8080/"),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Hello from web"),
        "exec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = h.kubectl(&["exec", "client", "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "exec passes the exit code on");
    let mut cat = h.kubectl_cmd();
    cat.args(["exec", "-i", "client", "--", "cat"]);
    let out = with_stdin(cat, "over the wire\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over the wire\n");
    let logs = h.kubectl(&["logs", "web"]);
    assert!(
        logs.status.success(),
        "logs: {}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("GET /"),
        "the web pod's log shows the requests: {}",
        String::from_utf8_lossy(&logs.stdout)
    );
    let mut forward = h
        .kubectl_cmd()
        .args(["port-forward", "pod/web", "18080:8080"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forward.stdout.take().unwrap()).lines();
    assert!(lines.next().is_some(), "kubectl port-forward started");
    let got = h
        .command(1, "curl")
        .args(["-s", "-m", "5", "http://127.0.0.1:18080/"])
        .output()
        .unwrap();
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(
        String::from_utf8_lossy(&got.stdout).contains("Hello from web"),
        "port-forward"
    );

    // kill -9 of the API server: the pod runs on, untouched.
    let container = h.get(
        &["pod", "web"],
        "{.status.containerStatuses[0].containerID}",
    );
    assert!(container.starts_with("kubelab://"), "{container}");
    let mut api = api;
    let _ = api.0.kill();
    let _ = api.0.wait();
    std::thread::sleep(Duration::from_secs(2));
    let (_api, _) = h.start(1, &api_args, "kubelab apiserver is up");
    assert!(
        eventually(30, || h.ready_nodes() == 3),
        "nodes Ready again within 30 s"
    );
    assert_eq!(
        h.get(
            &["pod", "web"],
            "{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}"
        ),
        format!("{container} 0")
    );

    // kill -9 of a node process: restarted, it adopts its running container.
    let _ = node2.0.kill();
    let _ = node2.0.wait();
    let _node2 = h.node(2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        h.get(&["pod", "web"], "{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.phase}"),
        format!("{container} 0 Running")
    );
    h.apply(&fetcher("after", &format!("http://{web_ip}:8080/")));
    assert_eq!(wait_phase(&h, "after"), "Succeeded");

    // A node process killed for good leaves its containers running;
    // `kubelab down` on its data dir stops them.
    let mut node3 = node3;
    let _ = node3.0.kill();
    let _ = node3.0.wait();
    let down = |dir: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(["down", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = down(&h.path("node-3"));
    let killed: usize = said
        .split_whitespace()
        .skip_while(|w| *w != "killed")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(killed >= 1, "{said}");
    assert!(down(&h.path("node-3")).contains("killed 0 containers"));
}
