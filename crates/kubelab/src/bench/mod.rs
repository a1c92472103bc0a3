//! `kubelab bench`: measured figures, printed, never asserted.
//!
//! - `kubelab bench store` — kubelab's store (sled, durable) against a real
//!   etcd started by this command, side by side: durable puts, CAS
//!   transactions, a range of 10,000 keys, watch fan-out; with ratios.
//! - `kubelab bench api` — a real `kubelab up` (a child process, over TLS
//!   with the admin token, as kubectl connects): create/get/update/list
//!   latencies with 1 and 16 clients, a list of 10,000 pods, watch
//!   throughput, and the server's resident memory with 10,000 pods stored.
//!
//! - `kubelab bench pods` ([`pods`]) and `kubelab bench services`
//!   ([`services`]) — chapters 02 and 03, on in-process clusters built
//!   from the chapter table.
//!
//! Everything talks to 127.0.0.1 only, and every loop is bounded.

pub mod batch;
pub mod config;
pub mod helm;
pub mod lifecycle;
pub mod pods;
pub mod rollout;
pub mod scaling;
pub mod services;
pub mod volumes;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use kubelab_store::{RangeRequest, Store, prefix_end};
use serde_json::{Value, json};

// ---- figures ------------------------------------------------------------------

struct Figures {
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }
    fn line(&self) -> String {
        format!(
            "{:>9.0} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
            self.per_sec(),
            ms(self.pct(0.50)),
            ms(self.pct(0.99))
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `op(client, i)` `per_client` times on each of `clients` threads.
fn run<C: Send + 'static>(
    clients: usize,
    per_client: usize,
    make: impl Fn(usize) -> C,
    op: impl Fn(&mut C, usize, usize) -> anyhow::Result<()> + Send + Sync + 'static,
) -> anyhow::Result<Figures> {
    let op = Arc::new(op);
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let mut client = make(c);
            let op = op.clone();
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let mut lat = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let t = Instant::now();
                    op(&mut client, c, i)?;
                    lat.push(t.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.join().expect("bench thread panicked")?);
    }
    Ok(Figures {
        ops: clients * per_client,
        elapsed: start.elapsed(),
        latencies,
    })
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 {
        format!("{:.2}x", ours / theirs)
    } else {
        "n/a".into()
    }
}

// ---- a minimal HTTP/1.1 client (keep-alive, Content-Length or chunked) --------------

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

struct Http {
    host: String,
    auth: Option<String>,
    conn: BufReader<Box<dyn Stream>>,
}

impl Http {
    fn plain(addr: &str) -> anyhow::Result<Http> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        Ok(Http {
            host: addr.into(),
            auth: None,
            conn: BufReader::new(Box::new(tcp)),
        })
    }

    fn tls(addr: &str, ca_pem: &str, token: &str) -> anyhow::Result<Http> {
        // kubelab builds rustls with the `ring` provider only.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile_certs(ca_pem)? {
            roots.add(cert)?;
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
        let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let stream = rustls::StreamOwned::new(conn, tcp);
        Ok(Http {
            host: addr.into(),
            auth: Some(format!("Bearer {token}")),
            conn: BufReader::new(Box::new(stream)),
        })
    }

    /// Sends a request and reads the whole response: (status, body).
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        self.send(method, path, body, content_type)?;
        let (status, chunked, len) = self.head()?;
        let mut out = Vec::new();
        if chunked {
            while let Some(chunk) = self.chunk()? {
                out.extend(chunk);
            }
        } else {
            out.resize(len.unwrap_or(0), 0);
            self.conn.read_exact(&mut out)?;
        }
        Ok((status, out))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> anyhow::Result<()> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n",
            self.host
        );
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        let body = body.unwrap_or_default();
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        let w = self.conn.get_mut();
        w.write_all(req.as_bytes())?;
        w.write_all(body)?;
        w.flush()?;
        Ok(())
    }

    /// Reads the status line and headers: (status, chunked?, content length).
    fn head(&mut self) -> anyhow::Result<(u16, bool, Option<usize>)> {
        let mut line = String::new();
        self.conn.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .context("no status line")?
            .parse()?;
        let (mut chunked, mut len) = (false, None);
        loop {
            line.clear();
            self.conn.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            } else if let Some(v) = lower.strip_prefix("content-length:") {
                len = Some(v.trim().parse()?);
            }
        }
        Ok((status, chunked, len))
    }

    /// One chunk of a chunked body; `None` at the end.
    fn chunk(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        if self.conn.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
        let mut buf = vec![0; size + 2];
        self.conn.read_exact(&mut buf)?;
        buf.truncate(size);
        Ok((size > 0).then_some(buf))
    }

    fn json(&mut self, method: &str, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let (status, raw) = self.call(
            method,
            path,
            Some(&serde_json::to_vec(body)?),
            "application/json",
        )?;
        Ok((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
    }
}

fn rustls_pemfile_certs(
    pem: &str,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    Ok(
        rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?,
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_kib(pid: u32) -> Option<u64> {
    kubelab_kubelet::nodes::proc_kib(&format!("/proc/{pid}/status"), "VmRSS")
}

/// A child process killed when dropped.
/// A server the benchmark started: asked to stop with SIGTERM (so a
/// `kubelab up` removes what it created), killed if it is not gone in 30 s.
pub(crate) struct Reaped(pub(crate) Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- store vs etcd ------------------------------------------------------------------

struct StoreFigures {
    put_1: Figures,
    put_16: Figures,
    cas_16: Figures,
    range_10k: Duration,
    watch_events_per_sec: f64,
}

const WATCHERS: usize = 100;
const WATCHED_PUTS: usize = 1000;

fn bench_kubelab_store(dir: &Path) -> anyhow::Result<StoreFigures> {
    let store: Arc<dyn Store> = kubelab_store::open_sled(dir)?;
    let value = vec![b'x'; 256];
    let (s, v) = (store.clone(), value.clone());
    let put_1 = run(
        1,
        1000,
        |_| (),
        move |_, c, i| Ok(s.update_or_create(format!("/one/{c}/{i}"), v.clone())?),
    )?;
    let (s, v) = (store.clone(), value.clone());
    let put_16 = run(
        16,
        250,
        |_| (),
        move |_, c, i| Ok(s.update_or_create(format!("/many/{c}/{i}"), v.clone())?),
    )?;
    for c in 0..16 {
        store.create(format!("/cas/{c}").as_bytes(), value.clone())?;
    }
    let (s, v) = (store.clone(), value.clone());
    let cas_16 = run(
        16,
        100,
        |_| (),
        move |_, c, _| {
            let key = format!("/cas/{c}");
            let cur = s.get(key.as_bytes())?.context("cas key vanished")?;
            s.update(key.as_bytes(), v.clone(), Some(cur.mod_revision))?;
            Ok(())
        },
    )?;
    let (s, v) = (store.clone(), value.clone());
    run(
        16,
        625,
        |_| (),
        move |_, c, i| Ok(s.update_or_create(format!("/range/{c:02}/{i:04}"), v.clone())?),
    )?;
    let t = Instant::now();
    let n = store.range(&RangeRequest::prefix(b"/range/"))?.kvs.len();
    let range_10k = t.elapsed();
    if n != 10_000 {
        bail!("range returned {n} keys, not 10000");
    }

    // Watch fan-out: WATCHERS watchers, WATCHED_PUTS puts, until all saw all.
    let from = store.current_revision();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut watches = Vec::new();
    for _ in 0..WATCHERS {
        watches.push(store.watch(b"/fan/", &prefix_end(b"/fan/"), from)?);
    }
    let t = Instant::now();
    let waiters: Vec<_> = watches
        .into_iter()
        .map(|mut w| {
            rt.spawn(async move {
                for _ in 0..WATCHED_PUTS {
                    w.next().await;
                }
            })
        })
        .collect();
    for i in 0..WATCHED_PUTS {
        store.update_or_create(format!("/fan/{i}"), value.clone())?;
    }
    rt.block_on(async {
        for w in waiters {
            w.await.ok();
        }
    });
    let watch_events_per_sec = (WATCHERS * WATCHED_PUTS) as f64 / t.elapsed().as_secs_f64();
    Ok(StoreFigures {
        put_1,
        put_16,
        cas_16,
        range_10k,
        watch_events_per_sec,
    })
}

/// Creates or overwrites, like etcd's plain `put`.
trait Put {
    fn update_or_create(&self, key: String, value: Vec<u8>) -> Result<(), kubelab_store::Error>;
}
impl Put for Arc<dyn Store> {
    fn update_or_create(&self, key: String, value: Vec<u8>) -> Result<(), kubelab_store::Error> {
        match self.create(key.as_bytes(), value.clone()) {
            Err(kubelab_store::Error::AlreadyExists) => {
                self.update(key.as_bytes(), value, None).map(drop)
            }
            other => other.map(drop),
        }
    }
}

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn start_etcd(dir: &Path) -> anyhow::Result<(Reaped, String)> {
    let (client, peer) = (free_port()?, free_port()?);
    let child = Command::new("etcd")
        .arg("--data-dir")
        .arg(dir)
        .args(["--name", "bench"])
        .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
        ))
        .arg(format!("--initial-cluster=bench=http://127.0.0.1:{peer}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting etcd (install Debian's etcd-server, or run tests/bench.sh)")?;
    let child = Reaped(child);
    let addr = format!("127.0.0.1:{client}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut h) = Http::plain(&addr)
            && h.json("POST", "/v3/kv/range", &json!({"key": b64("x")}))
                .map(|r| r.0)
                .unwrap_or(0)
                == 200
        {
            return Ok((child, addr));
        }
        if Instant::now() > deadline {
            bail!("etcd did not start");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bench_etcd(dir: &Path) -> anyhow::Result<StoreFigures> {
    let (_etcd, addr) = start_etcd(dir)?;
    let value = b64(vec![b'x'; 256]);
    let put = |prefix: &'static str, clients: usize, per: usize| {
        let (a, v) = (addr.clone(), value.clone());
        run(
            clients,
            per,
            move |_| Http::plain(&a).expect("connect to etcd"),
            move |h, c, i| {
                let (st, _) = h.json(
                    "POST",
                    "/v3/kv/put",
                    &json!({"key": b64(format!("{prefix}{c:02}/{i:04}")), "value": v}),
                )?;
                if st != 200 {
                    bail!("etcd put: {st}");
                }
                Ok(())
            },
        )
    };
    let put_1 = put("/one/", 1, 1000)?;
    let put_16 = put("/many/", 16, 250)?;
    let mut h = Http::plain(&addr)?;
    for c in 0..16 {
        h.json(
            "POST",
            "/v3/kv/put",
            &json!({"key": b64(format!("/cas/{c}")), "value": value}),
        )?;
    }
    let (a, v) = (addr.clone(), value.clone());
    let cas_16 = run(
        16,
        100,
        move |_| Http::plain(&a).expect("connect to etcd"),
        move |h, c, _| {
            let key = b64(format!("/cas/{c}"));
            let (_, r) = h.json("POST", "/v3/kv/range", &json!({"key": key}))?;
            let rev: i64 = r["kvs"][0]["mod_revision"]
                .as_str()
                .context("no mod_revision")?
                .parse()?;
            let txn = json!({"compare": [{"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string()}],
                         "success": [{"request_put": {"key": key, "value": v}}]});
            let (_, r) = h.json("POST", "/v3/kv/txn", &txn)?;
            if r["succeeded"] != true {
                bail!("etcd txn lost its compare: {r}");
            }
            Ok(())
        },
    )?;
    put("/range/", 16, 625)?;
    let t = Instant::now();
    let (_, r) = h.json(
        "POST",
        "/v3/kv/range",
        &json!({"key": b64("/range/"), "range_end": b64(prefix_end(b"/range/"))}),
    )?;
    let range_10k = t.elapsed();
    let n = r["kvs"].as_array().map_or(0, Vec::len);
    if n != 10_000 {
        bail!("etcd range returned {n} keys, not 10000");
    }

    // Watch fan-out through the gateway's streaming /v3/watch.
    let mut streams = Vec::new();
    for _ in 0..WATCHERS {
        let mut w = Http::plain(&addr)?;
        let body = serde_json::to_vec(
            &json!({"create_request": {"key": b64("/fan/"), "range_end": b64(prefix_end(b"/fan/"))}}),
        )?;
        w.send("POST", "/v3/watch", Some(&body), "application/json")?;
        w.head()?;
        w.chunk()?; // the "created" response
        streams.push(w);
    }
    let t = Instant::now();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut w| {
            std::thread::spawn(move || {
                let (mut seen, mut buf) = (0usize, Vec::new());
                while seen < WATCHED_PUTS {
                    let Ok(Some(chunk)) = w.chunk() else { break };
                    buf.extend(chunk);
                    // Each event carries one "mod_revision"; count them as they arrive.
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(end) = text.rfind('\n') {
                        seen += text[..end].matches("\"mod_revision\"").count();
                        buf.drain(..=end);
                    }
                }
                seen
            })
        })
        .collect();
    let mut h = Http::plain(&addr)?;
    for i in 0..WATCHED_PUTS {
        h.json(
            "POST",
            "/v3/kv/put",
            &json!({"key": b64(format!("/fan/{i}")), "value": value}),
        )?;
    }
    let total: usize = readers.into_iter().map(|r| r.join().unwrap_or(0)).sum();
    let watch_events_per_sec = total as f64 / t.elapsed().as_secs_f64();
    Ok(StoreFigures {
        put_1,
        put_16,
        cas_16,
        range_10k,
        watch_events_per_sec,
    })
}

/// (name, how to read the figure, unit)
type Row = (&'static str, fn(&StoreFigures) -> f64, &'static str);

pub fn store() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    println!("store benchmark: durable writes, 256-byte values, 127.0.0.1 only\n");
    let ours = bench_kubelab_store(&dir.path().join("kubelab"))?;
    let etcd = match bench_etcd(&dir.path().join("etcd")) {
        Ok(f) => Some(f),
        Err(e) => {
            println!("(etcd not measured: {e:#})\n");
            None
        }
    };
    let rows: [Row; 5] = [
        ("put, 1 client", |f| f.put_1.per_sec(), "ops/s"),
        ("put, 16 clients", |f| f.put_16.per_sec(), "ops/s"),
        ("CAS txn, 16 clients", |f| f.cas_16.per_sec(), "ops/s"),
        ("range 10,000 keys", |f| ms(f.range_10k), "ms"),
        (
            "watch fan-out 100x1000",
            |f| f.watch_events_per_sec,
            "events/s",
        ),
    ];
    println!(
        "{:<24} {:>14} {:>14} {:>10}",
        "", "kubelab (sled)", "etcd 3.4", "ratio"
    );
    for (name, get, unit) in rows {
        let o = get(&ours);
        let e = etcd.as_ref().map(get);
        // For times, smaller is better: the ratio says how many times faster kubelab is.
        let r = match (unit, e) {
            ("ms", Some(e)) => ratio(e, o),
            (_, Some(e)) => ratio(o, e),
            _ => "n/a".into(),
        };
        let e = e.map_or("-".into(), |e| format!("{e:.1}"));
        println!(
            "{name:<24} {:>14} {e:>14} {r:>10}   {unit}",
            format!("{o:.1}")
        );
    }
    println!(
        "\nlatency detail (kubelab):\n  put 1 client    {}\n  put 16 clients  {}\n  CAS 16 clients  {}",
        ours.put_1.line(),
        ours.put_16.line(),
        ours.cas_16.line()
    );
    if let Some(e) = &etcd {
        println!(
            "latency detail (etcd):\n  put 1 client    {}\n  put 16 clients  {}\n  CAS 16 clients  {}",
            e.put_1.line(),
            e.put_16.line(),
            e.cas_16.line()
        );
    }
    println!(
        "\nNote: kubelab's store is called in-process; etcd is reached over HTTP/JSON (its gRPC gateway) on loopback."
    );
    println!("Ratios > 1 mean kubelab is faster. Both fsync before acknowledging a write.");
    Ok(())
}

// ---- the API server ---------------------------------------------------------------------

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
           "spec": {"containers": [{"name": "web", "image": "kubelab/web:1.0", "ports": [{"containerPort": 8080}]}]}})
}

/// What `bench api --store` compares between the two stores.
pub struct ApiFigures {
    create_1: Figures,
    create_16: Figures,
    fill: Figures,
}

/// `bench api --store etcd://…`: the API benchmark on the embedded store
/// and on etcd, then the density run on etcd, and the ratios.
pub async fn api_against_etcd(url: &str) -> anyhow::Result<()> {
    let prefix = format!(
        "/kubelab-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    println!("== the embedded store (sled)\n");
    let sled = tokio::task::block_in_place(|| api(None))?;
    println!("\n== etcd ({url})\n");
    let on_etcd = format!("{url}{prefix}/api");
    let etcd = tokio::task::block_in_place(|| api(Some(&on_etcd)))?;
    let pods = kubelab_client::rest::path(
        kubelab_client::rest::resource("v1", "Pod"),
        Some("default"),
        None,
    );
    println!("\n== density on the embedded store\n");
    let density_sled = pods::density(&pods, None).await?;
    println!("\n== density on etcd\n");
    let density = pods::density(&pods, Some(&format!("{url}{prefix}/density"))).await?;
    println!(
        "\n{:<34} {:>14} {:>14} {:>8}",
        "", "embedded", "etcd", "etcd/emb."
    );
    let rows = [
        (
            "create p99, 1 client (ms)",
            ms(sled.create_1.pct(0.99)),
            ms(etcd.create_1.pct(0.99)),
        ),
        (
            "create p99, 16 clients (ms)",
            ms(sled.create_16.pct(0.99)),
            ms(etcd.create_16.pct(0.99)),
        ),
        (
            "create, 16 clients (pods/s)",
            sled.create_16.per_sec(),
            etcd.create_16.per_sec(),
        ),
        (
            "create to 10,000 (pods/s)",
            sled.fill.per_sec(),
            etcd.fill.per_sec(),
        ),
    ];
    for (what, a, b) in rows {
        println!("{what:<34} {a:>14.2} {b:>14.2} {:>8}", ratio(b, a));
    }
    println!(
        "{:<34} {density_sled:>14.0} {density:>14.0} {:>8}",
        "density on fake nodes (pods/s)",
        ratio(density, density_sled)
    );
    println!(
        "\nBoth behind the same API server over TLS; etcd is a separate cluster of processes reached over HTTP/JSON on loopback."
    );
    Ok(())
}

pub fn api(store: Option<&str>) -> anyhow::Result<ApiFigures> {
    let dir = tempfile::Builder::new()
        .prefix("kubelab-bench-")
        .tempdir()?;
    let data = dir.path().join("data");
    let mut up = Command::new(std::env::current_exe()?);
    // Chapter 01's cluster: the API server and its store. With nodes the
    // 10,000 pods created below would also be scheduled and started,
    // and the figures would measure the containers, not the server.
    up.args(["up", "--chapter", "1", "--port", "0", "--data-dir"])
        .arg(&data);
    if let Some(url) = store {
        up.args(["--store", url]);
    }
    let mut child = up.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut first = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut first)?;
    let server = Reaped(child);
    let url = first
        .split_whitespace()
        .last()
        .context("no URL printed")?
        .to_string();
    let addr = url.trim_start_matches("https://").to_string();
    let ca = std::fs::read_to_string(data.join("pki/ca.crt"))?;
    let token = std::fs::read_to_string(data.join("admin.token"))?;
    let connect = {
        let (addr, ca, token) = (addr.clone(), ca.clone(), token.clone());
        move |_| Http::tls(&addr, &ca, &token).expect("connect to kubelab")
    };
    let pods = "/api/v1/namespaces/default/pods";
    println!(
        "API benchmark: a real `kubelab up` over TLS on {url} (release builds give the real figures)\n"
    );

    let create = |prefix: &'static str| {
        move |h: &mut Http, c: usize, i: usize| -> anyhow::Result<()> {
            let (st, _) = h.json(
                "POST",
                "/api/v1/namespaces/default/pods",
                &pod(&format!("{prefix}-{c}-{i}")),
            )?;
            if st != 201 {
                bail!("create: HTTP {st}");
            }
            Ok(())
        }
    };
    let c1 = run(1, 500, &connect, create("one"))?;
    let c16 = run(16, 125, &connect, create("many"))?;
    let get16 = run(16, 125, &connect, move |h, c, i| {
        let (st, _) = h.call(
            "GET",
            &format!("/api/v1/namespaces/default/pods/many-{c}-{i}"),
            None,
            "application/json",
        )?;
        if st != 200 {
            bail!("get: HTTP {st}");
        }
        Ok(())
    })?;
    let upd16 = run(16, 125, &connect, move |h, c, i| {
        let path = format!("/api/v1/namespaces/default/pods/many-{c}-{i}");
        let (_, mut p) = h.json("GET", &path, &Value::Null)?;
        p["metadata"]["labels"]["touched"] = json!("yes");
        let (st, _) = h.json("PUT", &path, &p)?;
        if st != 200 {
            bail!("update: HTTP {st}");
        }
        Ok(())
    })?;
    println!("{:<26} {}", "create pod, 1 client", c1.line());
    println!("{:<26} {}", "create pod, 16 clients", c16.line());
    println!("{:<26} {}", "get pod, 16 clients", get16.line());
    println!("{:<26} {}", "update pod, 16 clients", upd16.line());

    // Fill up to 10,000 pods, with a watcher counting what it is told.
    let existing = 500 + 16 * 125;
    let mut watcher = Http::tls(&addr, &ca, &token)?;
    let (_, list) = watcher.json("GET", pods, &Value::Null)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    watcher.send(
        "GET",
        &format!("{pods}?watch=true&resourceVersion={rv}"),
        None,
        "application/json",
    )?;
    watcher.head()?;
    let per_client = (10_000 - existing) / 16;
    let to_add = per_client * 16;
    let counting = std::thread::spawn(move || {
        let (mut seen, start) = (0usize, Instant::now());
        let mut line = String::new();
        while seen < to_add {
            let Ok(Some(chunk)) = watcher.chunk() else {
                break;
            };
            line.push_str(&String::from_utf8_lossy(&chunk));
            seen += line.matches('\n').count();
            line = line.rsplit('\n').next().unwrap_or_default().to_string();
        }
        (seen, start.elapsed())
    });
    let fill = run(16, per_client, &connect, create("fill"))?;
    let (seen, watch_time) = counting.join().expect("watch thread");
    println!("{:<26} {}", "create to 10,000 pods", fill.line());
    println!(
        "{:<26} {:>9.0} events/s   ({seen} events)",
        "watch, one watcher",
        seen as f64 / watch_time.as_secs_f64()
    );

    let mut h = Http::tls(&addr, &ca, &token)?;
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let (st, body) = h.call("GET", pods, None, "application/json")?;
        times.push(t.elapsed());
        if st != 200 {
            bail!("list: HTTP {st}");
        }
        count = serde_json::from_slice::<Value>(&body)?["items"]
            .as_array()
            .map_or(0, Vec::len);
    }
    times.sort();
    println!(
        "{:<26} {:>9.1} ms median of 5   ({count} pods, JSON)",
        "list all pods",
        ms(times[2])
    );
    let t = Instant::now();
    let mut pages = 0;
    let mut cont = String::new();
    loop {
        let path = if cont.is_empty() {
            format!("{pods}?limit=500")
        } else {
            format!("{pods}?limit=500&continue={cont}")
        };
        let (_, page) = h.json("GET", &path, &Value::Null)?;
        pages += 1;
        match page["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_string(),
            _ => break,
        }
    }
    println!(
        "{:<26} {:>9.1} ms   ({pages} pages of 500, as kubectl get pages)",
        "list all pods, paged",
        ms(t.elapsed())
    );
    match rss_kib(server.0.id()) {
        Some(kib) => println!(
            "{:<26} {:>9.1} MiB (VmRSS of the kubelab process)",
            "memory with 10,000 pods",
            kib as f64 / 1024.0
        ),
        None => println!("memory: /proc not readable"),
    }
    println!(
        "\ntargets (issue 2): create p99 <= 10 ms at 16 clients; list 10,000 pods <= 300 ms; RSS <= 300 MiB"
    );
    Ok(ApiFigures {
        create_1: c1,
        create_16: c16,
        fill,
    })
}
