//! Chapter 03 end to end: pod IPs, Services, DNS, node ports and load
//! balancers, through the real kubectl, with the linux runtime as root
//! (and the process runtime's userspace proxy). Traffic goes only to
//! loopback or into the namespaces the cluster created.

mod support;

use std::process::Command;

use support::{
    Cluster, eventually, get_through_port_forward, http_get, is_root, jsonpath, processes_of,
};

/// Runs a shell command in the `client` pod; stdout, whatever the exit code.
/// Runs `script` in the `client` pod's shell.
fn exec_in_client(c: &Cluster, script: &str) -> std::process::Output {
    c.kubectl(&["exec", "client", "--", "sh", "-c", script])
}

/// What `script` printed in the `client` pod.
fn in_client(c: &Cluster, script: &str) -> String {
    String::from_utf8_lossy(&exec_in_client(c, script).stdout).to_string()
}

const HELLO: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: whoami
        image: kubelab/whoami:1.0
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: hello-pods}
spec:
  clusterIP: None
  selector: {app: hello}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: search}
spec:
  type: ExternalName
  externalName: search.example.com
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
";

const CLIENT: &str = "apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: sh, image: busybox, command: [sleep, '3600']}
";

const OTHER: &str = "apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: other, labels: {app: web}}
spec:
  containers:
  - {name: web, image: kubelab/web:1.0}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other}
spec:
  selector: {app: web}
  ports: [{port: 8000, targetPort: 8080}]
";

fn ready_endpoints(c: &Cluster, svc: &str) -> Vec<String> {
    jsonpath(c, &["endpoints", svc], "{.subsets[*].addresses[*].ip}")
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn pods_services_and_dns_across_two_nodes() {
    if !is_root() {
        return;
    }
    let c = Cluster::start_with(&["--nodes", "2"]);
    c.apply(HELLO);
    c.apply(OTHER);
    assert!(
        eventually(60, || ready_endpoints(&c, "hello").len() == 3),
        "{}",
        c.ok(&["get", "pods,endpoints", "-o", "wide"])
    );
    // The client starts after the Services exist, so it gets their variables.
    c.apply(CLIENT);
    assert!(eventually(30, || jsonpath(
        &c,
        &["pod", "client"],
        "{.status.phase}"
    ) == "Running"));

    // Every pod has an address from its node's range; hostIP is the node's.
    let pods = jsonpath(
        &c,
        &["pods"],
        "{range .items[*]}{.metadata.name} {.status.podIP} {.status.hostIP} {.spec.nodeName}{\"\\n\"}{end}",
    );
    let mut nodes_used = std::collections::HashSet::new();
    for line in pods.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n: u8 = f[3].rsplit('-').next().unwrap().parse().unwrap();
        assert!(f[1].starts_with(&format!("10.244.{n}.")), "{line}");
        assert_eq!(f[2], format!("172.18.0.{}", n + 1), "{line}");
        nodes_used.insert(n);
    }
    assert_eq!(nodes_used.len(), 2, "pods on both nodes: {pods}");
    let node_cidr = jsonpath(&c, &["node", "kubelab-node-2"], "{.spec.podCIDR}");
    assert_eq!(node_cidr, "10.244.2.0/24");

    // Pod to pod, across nodes, without NAT: the server sees the client's IP.
    let client_node = jsonpath(&c, &["pod", "client"], "{.spec.nodeName}");
    let client_ip = jsonpath(&c, &["pod", "client"], "{.status.podIP}");
    let remote = pods
        .lines()
        .find(|l| l.starts_with("hello-") && !l.ends_with(&client_node))
        .expect("a hello pod on the other node");
    let remote_ip = remote.split(' ').nth(1).unwrap();
    let answer = in_client(&c, &format!("timeout 5 wget -qO- http://{remote_ip}:8080/"));
    assert!(
        answer.contains(&format!("Hostname: {}", remote.split(' ').next().unwrap())),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("RemoteAddr: {client_ip}:")),
        "{answer}"
    );

    // Through the Service by its short name: balanced over the three pods.
    let many = in_client(
        &c,
        "for i in $(seq 30); do timeout 5 wget -qO- http://hello/ | grep Hostname; done",
    );
    let distinct: std::collections::HashSet<&str> = many.lines().collect();
    assert_eq!(many.lines().count(), 30, "every request answered: {many}");
    assert!(distinct.len() >= 2, "one pod took all 30 requests: {many}");

    // Hairpin: a pod behind the Service calls the Service, and sometimes
    // reaches itself; every request is answered.
    let me = remote.split(' ').next().unwrap();
    let hairpin = c.kubectl(&[
        "exec",
        me,
        "--",
        "sh",
        "-c",
        "for i in $(seq 20); do timeout 5 wget -qO- http://hello/ | grep Hostname; done",
    ]);
    let hairpin = String::from_utf8_lossy(&hairpin.stdout).to_string();
    assert_eq!(hairpin.lines().count(), 20, "{hairpin}");
    assert!(
        hairpin.contains(&format!("Hostname: {me}")),
        "never reached itself: {hairpin}"
    );

    // sessionAffinity: ClientIP keeps a client on one pod.
    c.apply(
        "apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: hello}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
",
    );
    assert!(eventually(30, || ready_endpoints(&c, "sticky").len() == 3));
    assert!(eventually(10, || in_client(
        &c,
        "timeout 5 wget -qO- http://sticky/"
    )
    .contains("Hostname")));
    let sticky = in_client(
        &c,
        "for i in $(seq 12); do timeout 5 wget -qO- http://sticky/ | grep Hostname; done",
    );
    let distinct: std::collections::HashSet<&str> = sticky.lines().collect();
    assert_eq!(sticky.lines().count(), 12, "{sticky}");
    assert_eq!(distinct.len(), 1, "one client, one pod: {sticky}");

    // Fully qualified, and across namespaces with a port.
    assert!(
        in_client(
            &c,
            "timeout 5 wget -qO- http://hello.default.svc.cluster.local/"
        )
        .contains("Hostname: hello-")
    );
    assert!(
        eventually(30, || in_client(
            &c,
            "timeout 5 wget -qO- http://web.other:8000/"
        )
        .contains("Hello from web")),
        "web.other:8000 never answered"
    );

    // resolv.conf and the service variables, as the kubelet writes them.
    let resolv = in_client(&c, "cat /etc/resolv.conf");
    assert!(
        resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{resolv}"
    );
    assert!(
        resolv.contains("nameserver 10.96.0.10") && resolv.contains("options ndots:5"),
        "{resolv}"
    );
    let vip = jsonpath(&c, &["svc", "hello"], "{.spec.clusterIP}");
    let env = in_client(&c, "env");
    assert!(env.contains(&format!("HELLO_SERVICE_HOST={vip}")), "{env}");
    assert!(
        env.contains("HELLO_SERVICE_PORT_WEB=80")
            && env.contains(&format!("HELLO_PORT=tcp://{vip}:80")),
        "{env}"
    );
    assert!(env.contains("KUBERNETES_SERVICE_HOST=10.96.0.1"), "{env}");

    // Headless: the pods' own addresses; SRV per pod; ExternalName: a CNAME.
    let headless = in_client(&c, "nslookup hello-pods.default.svc.cluster.local");
    let ips = ready_endpoints(&c, "hello");
    for ip in &ips {
        assert!(
            headless.contains(&format!("Address: {ip}")),
            "{ip} missing: {headless}"
        );
    }
    assert!(!headless.contains(&vip));
    let srv = in_client(
        &c,
        "nslookup -type=SRV _http._tcp.hello-pods.default.svc.cluster.local",
    );
    assert_eq!(srv.matches(" 8080 ").count(), 3, "{srv}");
    let cname = in_client(&c, "nslookup -type=CNAME search.default.svc.cluster.local");
    assert!(
        cname.contains("canonical name = search.example.com"),
        "{cname}"
    );
    let pod_name = format!("{}.default.pod.cluster.local", client_ip.replace('.', "-"));
    assert!(
        in_client(&c, &format!("nslookup {pod_name}")).contains(&format!("Address: {client_ip}"))
    );
    let unknown = in_client(&c, "nslookup nothing.default.svc.cluster.local 2>&1");
    assert!(unknown.contains("NXDOMAIN"), "{unknown}");

    // The `kubernetes` Service reaches the API server (which listens on the
    // host's loopback) from inside the cluster network, with a certificate
    // valid for 10.96.0.1.
    let data = c.data_dir();
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let node2 = format!("{}2", kubelab_network::linux::netns_prefix(&data));
    let version = Command::new("ip")
        .args([
            "netns", "exec", &node2, "curl", "-s", "-m", "10", "--cacert",
        ])
        .arg(data.join("pki/ca.crt"))
        .args(["-H", &format!("Authorization: Bearer {}", token.trim())])
        .arg("https://10.96.0.1/version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(version.contains("gitVersion"), "{version}");
    assert_eq!(
        jsonpath(
            &c,
            &["endpoints", "kubernetes"],
            "{.subsets[0].addresses[*].ip}"
        ),
        "172.18.0.2 172.18.0.3"
    );

    // A Service without endpoints refuses instead of hanging (a hang would
    // end with `timeout` killing wget, without this message).
    let refused = c.kubectl(&[
        "exec",
        "client",
        "--",
        "timeout",
        "5",
        "wget",
        "-qO-",
        "http://nobody/",
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn endpoints_follow_readiness_and_deletion() {
    if !is_root() {
        return;
    }
    let mut c = Cluster::start_with(&["--nodes", "1"]);
    c.apply(HELLO);
    assert!(eventually(60, || ready_endpoints(&c, "hello").len() == 3));
    let slice = c.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=hello",
        "-o",
        "yaml",
    ]);
    assert!(
        slice.contains("ready: true")
            && slice.contains("port: 8080")
            && slice.contains("name: web"),
        "{slice}"
    );

    // A pod that stops running is listed as not ready, out of the rules.
    c.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: flaky, labels: {app: hello}}
spec:
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'sleep 4; exit 1'], ports: [{name: http, containerPort: 8080}]}
",
    );
    assert!(eventually(30, || ready_endpoints(&c, "hello").len() == 4));
    let flaky_ip = jsonpath(&c, &["pod", "flaky"], "{.status.podIP}");
    assert!(
        eventually(30, || jsonpath(
            &c,
            &["endpoints", "hello"],
            "{.subsets[*].notReadyAddresses[*].ip}"
        )
        .contains(&flaky_ip)),
        "{}",
        c.ok(&["get", "endpoints", "hello", "-o", "yaml"])
    );
    assert!(!ready_endpoints(&c, "hello").contains(&flaky_ip));

    // Deleting a pod takes its address out of the node's rules (how fast:
    // `kubelab bench services`).
    let ns = format!("{}1", kubelab_network::linux::netns_prefix(&c.data_dir()));
    let rules = || {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &ns, "nft", "list", "table", "ip", "kubelab",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let victim_ip = ready_endpoints(&c, "hello")[0].clone();
    assert!(
        rules().contains(&format!("dnat to {victim_ip}:8080")),
        "{}",
        rules()
    );
    let victim = jsonpath(
        &c,
        &[
            "pods",
            "--field-selector",
            &format!("status.podIP={victim_ip}"),
        ],
        "{.items[0].metadata.name}",
    );
    c.kubectl_cmd(&["delete", "pod", &victim, "--wait=false"])
        .output()
        .unwrap();
    assert!(
        eventually(5, || !rules().contains(&format!("dnat to {victim_ip}:"))),
        "{}",
        rules()
    );
    assert!(!ready_endpoints(&c, "hello").contains(&victim_ip));

    // Stopping kubelab right now, with a pod terminating and its
    // replacement starting, leaves no container process behind.
    let data = c.data_dir();
    c.stop_now();
    let left = processes_of(&data);
    assert!(left.is_empty(), "processes left: {left:?}");
}

#[test]
fn node_ports_and_load_balancers_from_the_host() {
    if !is_root() {
        return;
    }
    let c = Cluster::start_with(&["--nodes", "2"]);
    c.apply(HELLO);
    c.apply(CLIENT);
    c.apply(
        "apiVersion: v1
kind: Service
metadata: {name: hello-np}
spec:
  type: NodePort
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello-lb}
spec:
  type: LoadBalancer
  selector: {app: hello}
  ports: [{port: 18089, targetPort: 8080}]
",
    );
    assert!(eventually(60, || ready_endpoints(&c, "hello-np").len() == 3));
    let np: u16 = jsonpath(&c, &["svc", "hello-np"], "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    assert!((30000..=32767).contains(&np));
    assert!(
        eventually(10, || http_get(np)
            .is_ok_and(|b| b.contains("Hostname: hello-"))),
        "NodePort {np} not reachable on 127.0.0.1"
    );
    // …and on every node's address, from inside the cluster.
    assert!(eventually(30, || jsonpath(
        &c,
        &["pod", "client"],
        "{.status.phase}"
    ) == "Running"));
    // Each node's proxy applies its rules on its own; give them a moment,
    // as a client of a real cluster would.
    for node_ip in ["172.18.0.2", "172.18.0.3"] {
        let mut out = String::new();
        let reached = eventually(20, || {
            let o = exec_in_client(&c, &format!("timeout 5 wget -qO- http://{node_ip}:{np}/"));
            out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            out.contains("Hostname: hello-")
        });
        assert!(reached, "{node_ip}:{np}: {out}");
    }
    // The load balancer's address makes a URL that works on the host.
    assert!(eventually(10, || !jsonpath(
        &c,
        &["svc", "hello-lb"],
        "{.status.loadBalancer.ingress}"
    )
    .is_empty()));
    let url = jsonpath(
        &c,
        &["svc", "hello-lb"],
        "http://{.status.loadBalancer.ingress[0].*}:18089",
    );
    assert_eq!(url, "http://127.0.0.1:18089");
    assert!(http_get(18089).unwrap().contains("Hostname: hello-"));
    assert!(c.ok(&["get", "svc", "hello-lb"]).contains("127.0.0.1"));

    // A second load balancer on the same port cannot have it: an event
    // says so, and its address stays pending.
    c.apply(
        "apiVersion: v1
kind: Service
metadata: {name: hello-lb2}
spec:
  type: LoadBalancer
  selector: {app: hello}
  ports: [{port: 18089, targetPort: 8080}]
",
    );
    assert!(
        eventually(10, || c
            .ok(&["describe", "svc", "hello-lb2"])
            .contains("SyncLoadBalancerFailed")),
        "{}",
        c.ok(&["describe", "svc", "hello-lb2"])
    );
    assert!(c.ok(&["get", "svc", "hello-lb2"]).contains("<pending>"));
    c.ok(&["delete", "svc", "hello-lb2"]);

    // kubectl port-forward to a Service: kubectl picks one of its pods.
    let (first, body) = get_through_port_forward(&c, "svc/hello-np", 80);
    assert!(
        first.contains("-> 8080"),
        "the target port, resolved: {first}"
    );
    assert!(body.unwrap().contains("Hostname: hello-"));

    // Bad input: upstream's errors, nothing written.
    let taken = c.fails(&[
        "create",
        "service",
        "nodeport",
        "dup",
        "--tcp=80:80",
        &format!("--node-port={np}"),
    ]);
    assert!(
        taken.contains(&format!(
            "spec.ports[0].nodePort: Invalid value: {np}: provided port is already allocated"
        )),
        "{taken}"
    );
    let out_of_range = c.fails(&[
        "create",
        "service",
        "nodeport",
        "far",
        "--tcp=80:80",
        "--node-port=80",
    ]);
    assert!(
        out_of_range.contains(
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        ),
        "{out_of_range}"
    );
    let ip_taken = c.fails(&[
        "create",
        "service",
        "clusterip",
        "same",
        "--tcp=80:80",
        "--clusterip=10.96.0.10",
    ]);
    assert!(
        ip_taken.contains("provided IP is already allocated"),
        "{ip_taken}"
    );
    let moved = c.fails(&[
        "patch",
        "svc",
        "hello-np",
        "-p",
        "{\"spec\":{\"clusterIP\":\"10.96.9.9\"}}",
    ]);
    assert!(
        moved.contains("spec.clusterIP: Invalid value: \"10.96.9.9\": field is immutable"),
        "{moved}"
    );
    assert!(c.fails(&["get", "svc", "dup"]).contains("NotFound"));
    // A re-apply without clusterIP or nodePort keeps both.
    let vip = jsonpath(&c, &["svc", "hello-np"], "{.spec.clusterIP}");
    c.kubectl_stdin(
        &["replace", "-f", "-"],
        &c.ok(&["get", "svc", "hello-np", "-o", "yaml"])
            .lines()
            .filter(|l| {
                !l.contains("clusterIP")
                    && !l.contains("nodePort")
                    && !l.contains("resourceVersion")
                    && !l.trim_start().starts_with("- 10.")
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(jsonpath(&c, &["svc", "hello-np"], "{.spec.clusterIP}"), vip);
    assert_eq!(
        jsonpath(&c, &["svc", "hello-np"], "{.spec.ports[0].nodePort}"),
        np.to_string()
    );

    // Deleting the Service closes its host ports.
    c.ok(&["delete", "svc", "hello-np", "hello-lb"]);
    assert!(eventually(10, || http_get(np).is_err() && http_get(18089).is_err()));
}

#[test]
fn the_process_runtime_publishes_node_ports_through_a_userspace_proxy() {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "process"]);
    // Pods share the host's network here: give the app a port of its own.
    let port = 20000 + (std::process::id() % 5000) as u16;
    c.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  containers:
  - name: web
    image: kubelab/web:1.0
    env: [{{name: PORT, value: '{port}'}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: {port}}}]
"
    ));
    assert!(eventually(30, || ready_endpoints(&c, "web")
        == vec!["127.0.0.1".to_string()]));
    let np: u16 = jsonpath(&c, &["svc", "web"], "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    assert!(
        eventually(10, || http_get(np)
            .is_ok_and(|b| b.contains("<h1>Hello from"))),
        "NodePort {np} not served"
    );
}

/// The endpoint controller deletes only the Endpoints it wrote (labelled
/// `endpoints.kubernetes.io/managed-by`, as upstream 1.33 does): Endpoints
/// written by hand before their Service exists are kept, and then mirrored
/// into a slice. (Deleting them once left a cluster without DNS: kube-dns's
/// Endpoints reached the controller's cache before its Service.)
#[test]
fn hand_written_endpoints_are_kept_and_mirrored() {
    let c = Cluster::start_with(&["--nodes", "1", "--runtime", "process"]);
    c.apply(
        "apiVersion: v1
kind: Endpoints
metadata: {name: outside}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{port: 5432}]
",
    );
    // No Service yet: give the controller time to (wrongly) act.
    std::thread::sleep(std::time::Duration::from_secs(2));
    c.ok(&["get", "endpoints", "outside"]);
    c.apply(
        "apiVersion: v1
kind: Service
metadata: {name: outside}
spec:
  ports: [{port: 5432}]
",
    );
    assert!(
        eventually(20, || jsonpath(
            &c,
            &["endpointslices", "-l", "kubernetes.io/service-name=outside"],
            "{.items[0].endpoints[0].addresses[0]}"
        ) == "192.0.2.10"),
        "{}",
        c.ok(&["get", "endpointslices", "-o", "yaml"])
    );

    // A Service with a selector: its Endpoints are the controller's, marked
    // so, and go with the Service.
    c.apply(
        "apiVersion: v1
kind: Service
metadata: {name: selected}
spec:
  selector: {app: selected}
  ports: [{port: 80}]
",
    );
    assert!(eventually(20, || jsonpath(
        &c,
        &["endpoints", "selected"],
        "{.metadata.labels.endpoints\\.kubernetes\\.io/managed-by}"
    ) == "endpoint-controller"));
    c.ok(&["delete", "service", "selected"]);
    assert!(eventually(20, || !c
        .kubectl(&["get", "endpoints", "selected"])
        .status
        .success()));
    c.ok(&["get", "endpoints", "outside"]);
}
