//! # kubelab-demo — the apps the chapters run (chapter 02 onwards)
//!
//! Every manifest in `chapters/` runs one of these, never an image from a
//! registry: the course works offline and you can read every line of what
//! runs in your pods. Like busybox, it is one program with many names; the
//! name it is started as (`argv[0]`, or `kubelab demo <app>`) picks the app:
//!
//! | app | what it does | used in |
//! |---|---|---|
//! | `web` | a web page with the pod's hostname and the image's `VERSION`; `/burn/N` keeps a CPU busy N ms | pods, services, scaling, rollouts |
//! | `whoami` | prints who answered and what it was asked | services |
//! | `random` | `GET /random` → a random number; `POST /fail` makes it fail | probes, self-healing |
//! | `frontend` | a web page that calls `random` through a Service | services, DNS |
//! | `ticker` | logs the time every `INTERVAL` seconds | logs, sidecars |
//! | `sleep` | sleeps (forever, or `sleep N`) and exits 0 on SIGTERM | jobs, graceful deletion |
//! | `health` | a gRPC health server on `GRPC_PORT` (9090); NOT_SERVING while `/tmp/not-serving` exists | gRPC probes |
//!
//! Each app uses only the standard library, answers SIGTERM by exiting at
//! once (a PID 1 that does not would wait out the whole grace period), and
//! reads its settings from the environment (`PORT`, `VERSION`, …), as
//! twelve-factor apps in real clusters do.
//!
//! Where to start reading: [`run`].

pub mod grpc_health;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The names this program answers to.
pub const APPS: &[&str] = &[
    "web", "whoami", "random", "frontend", "ticker", "sleep", "health",
];

/// Runs app `name` with `args`; `None` if there is no such app.
pub fn run(name: &str, args: &[String]) -> Option<i32> {
    if !APPS.contains(&name) {
        return None;
    }
    exit_on_sigterm();
    Some(match name {
        "web" => serve(web),
        "whoami" => serve(whoami),
        "random" => serve(random),
        "frontend" => serve(frontend),
        "ticker" => ticker(),
        "sleep" => sleep(args),
        "health" => grpc_health::run(),
        _ => return None,
    })
}

/// A PID 1 gets no default signal actions: without a handler, SIGTERM is
/// ignored and `kubectl delete pod` waits the whole grace period.
fn exit_on_sigterm() {
    extern "C" fn on_term(_: libc::c_int) {
        // Only async-signal-safe calls here: write(2) and _exit(2).
        let msg = b"received SIGTERM, exiting\n";
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(0);
        }
    }
    let handler = on_term as extern "C" fn(libc::c_int);
    unsafe {
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| env("HOSTNAME", "unknown"))
}

fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02} UTC")
}

/// One HTTP request, as much as these apps need.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub peer: String,
}

/// One HTTP response.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn ok(content_type: &'static str, body: String) -> Response {
    Response {
        status: 200,
        content_type,
        body,
    }
}

/// A tiny HTTP/1.1 server: a thread per connection, one request each.
fn serve(app: fn(&Request) -> Response) -> i32 {
    let port = env("PORT", "8080");
    let listener = match TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(8080))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {port}: {e}");
            return 1;
        }
    };
    eprintln!("listening on :{port} (version {})", env("VERSION", "dev"));
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = answer(conn, app);
        });
    }
    0
}

fn answer(conn: TcpStream, app: fn(&Request) -> Response) -> std::io::Result<()> {
    let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = Request {
        method,
        path,
        headers,
        peer,
    };
    let resp = app(&req);
    eprintln!(
        "{} {} {} -> {}",
        req.peer, req.method, req.path, resp.status
    );
    let reason = if resp.status < 400 { "OK" } else { "Error" };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        resp.status,
        resp.content_type,
        resp.body.len(),
        resp.body
    )
}

fn web(req: &Request) -> Response {
    // `/bytes/N`: N bytes of filler (at most 64 MiB), for throughput tests.
    if let Some(n) = req
        .path
        .strip_prefix("/bytes/")
        .and_then(|n| n.parse::<usize>().ok())
    {
        return ok("application/octet-stream", "x".repeat(n.min(64 << 20)));
    }
    // `/burn/N`: keep a CPU busy for N ms (at most 10 s), the work a
    // request costs, for the autoscaler of chapter 06 to react to.
    if let Some(ms) = req
        .path
        .strip_prefix("/burn/")
        .and_then(|n| n.parse::<u64>().ok())
    {
        let until = std::time::Instant::now() + Duration::from_millis(ms.min(10_000));
        let mut x: u64 = 1;
        while std::time::Instant::now() < until {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        return ok("text/plain", format!("burned {ms} ms ({})\n", x % 10));
    }
    match req.path.as_str() {
        "/healthz" | "/readyz" => ok("text/plain", "ok\n".into()),
        _ => ok(
            "text/html",
            format!(
                "<html><body><h1>Hello from {}</h1><p>version {}</p></body></html>\n",
                hostname(),
                env("VERSION", "dev")
            ),
        ),
    }
}

fn whoami(req: &Request) -> Response {
    let mut body = format!(
        "Hostname: {}\nVersion: {}\nRemoteAddr: {}\n{} {}\n",
        hostname(),
        env("VERSION", "dev"),
        req.peer,
        req.method,
        req.path
    );
    for (k, v) in &req.headers {
        body.push_str(&format!("{k}: {v}\n"));
    }
    ok("text/plain", body)
}

/// The failure switch: `POST /fail` turns it on, `POST /recover` off.
static FAILING: AtomicBool = AtomicBool::new(false);

fn random(req: &Request) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/fail") => {
            FAILING.store(true, Ordering::SeqCst);
            ok("text/plain", "failing from now on\n".into())
        }
        ("POST", "/recover") => {
            FAILING.store(false, Ordering::SeqCst);
            ok("text/plain", "recovered\n".into())
        }
        _ if FAILING.load(Ordering::SeqCst) || env("FAIL", "") == "true" => Response {
            status: 500,
            content_type: "text/plain",
            body: format!("{} is failing\n", hostname()),
        },
        (_, "/healthz") => ok("text/plain", "ok\n".into()),
        _ => {
            let mut bytes = [0u8; 4];
            let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
            let n = u32::from_le_bytes(bytes) % 100;
            ok(
                "application/json",
                format!("{{\"number\":{n},\"host\":\"{}\"}}\n", hostname()),
            )
        }
    }
}

fn frontend(req: &Request) -> Response {
    if req.path == "/healthz" {
        return ok("text/plain", "ok\n".into());
    }
    let backend = env("BACKEND", "http://random:8080/random");
    let answer = http_get(&backend).unwrap_or_else(|e| format!("error calling {backend}: {e}"));
    ok(
        "text/html",
        format!(
            "<html><body><h1>Frontend {}</h1><p>backend {backend} said: {}</p></body></html>\n",
            hostname(),
            answer.trim()
        ),
    )
}

/// A minimal HTTP GET (`http://host:port/path`), for the frontend.
pub fn http_get(url: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(resp))
}

fn ticker() -> i32 {
    let every: u64 = env("INTERVAL", "1").parse().unwrap_or(1).max(1);
    let mut n = 0u64;
    loop {
        n += 1;
        println!("tick {n} at {} from {}", now(), hostname());
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_secs(every));
    }
}

fn sleep(args: &[String]) -> i32 {
    match args.first().and_then(|a| a.parse::<u64>().ok()) {
        Some(secs) => std::thread::sleep(Duration::from_secs(secs)),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, method: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: vec![],
            peer: "10.0.0.1:1234".into(),
        }
    }

    #[test]
    fn the_failure_switch_turns_random_into_500s_and_back() {
        assert_eq!(random(&get("/random", "GET")).status, 200);
        assert!(random(&get("/random", "GET")).body.contains("\"number\""));
        random(&get("/fail", "POST"));
        assert_eq!(random(&get("/random", "GET")).status, 500);
        assert_eq!(random(&get("/healthz", "GET")).status, 500);
        random(&get("/recover", "POST"));
        assert_eq!(random(&get("/healthz", "GET")).status, 200);
    }

    #[test]
    fn web_shows_the_hostname_and_whoami_echoes_the_request() {
        assert!(web(&get("/", "GET")).body.contains(&hostname()));
        let w = whoami(&get("/x", "GET"));
        assert!(w.body.contains("GET /x") && w.body.contains("10.0.0.1:1234"));
    }

    #[test]
    fn unknown_apps_are_refused() {
        assert_eq!(run("nope", &[]), None);
    }
}
