//! `health`: a gRPC health server (`grpc.health.v1.Health/Check`) for
//! chapter 07's `grpc` probes, in the standard library only.
//!
//! gRPC runs over HTTP/2, and HTTP/2 is binary frames: a 9-byte header
//! (length, type, flags, stream) and a payload. A health check needs very
//! little of it, so this server speaks just that: it answers the client's
//! SETTINGS and PINGs, and when a request's body is complete (a DATA frame
//! with END_STREAM) it sends three frames back on that stream — response
//! headers (`:status 200`, `content-type: application/grpc`), one DATA
//! frame with the answer, and trailers (`grpc-status: 0`). Headers are
//! HPACK-encoded with literal fields only (no compression tables needed).
//!
//! It answers SERVING, or NOT_SERVING while the file `/tmp/not-serving`
//! exists: `touch` it to fail the probe, `rm` it to pass again.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

pub fn run() -> i32 {
    // Not `PORT`: the demo images set that to 8080 for the HTTP apps.
    let port = super::env("GRPC_PORT", "9090");
    let listener = match TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(9090))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {port}: {e}");
            return 1;
        }
    };
    eprintln!("gRPC health server listening on :{port}");
    serve(listener)
}

/// Answers health checks on `listener`, forever.
pub fn serve(listener: TcpListener) -> i32 {
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = connection(conn);
        });
    }
    0
}

fn frame(
    out: &mut impl Write,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = payload.len() as u32;
    let mut head = [0u8; 9];
    head[..3].copy_from_slice(&len.to_be_bytes()[1..]);
    head[3] = kind;
    head[4] = flags;
    head[5..].copy_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.write_all(&head)?;
    out.write_all(payload)
}

/// One header field as an HPACK literal without indexing, new name.
fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x00, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

fn connection(mut conn: TcpStream) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    conn.read_exact(&mut preface)?;
    if &preface != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
        return Ok(()); // not HTTP/2
    }
    frame(&mut conn, SETTINGS, 0, 0, &[])?;
    loop {
        let mut head = [0u8; 9];
        conn.read_exact(&mut head)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        conn.read_exact(&mut payload)?;
        match kind {
            SETTINGS if flags & ACK == 0 => frame(&mut conn, SETTINGS, ACK, 0, &[])?,
            PING if flags & ACK == 0 => frame(&mut conn, PING, ACK, 0, &payload)?,
            // The request is complete: answer it.
            DATA | HEADERS if flags & END_STREAM != 0 && stream != 0 => answer(&mut conn, stream)?,
            _ => {} // WINDOW_UPDATE, a request's first frames …
        }
    }
}

fn answer(conn: &mut TcpStream, stream: u32) -> std::io::Result<()> {
    // `:status: 200` is entry 8 of HPACK's static table.
    let mut headers = vec![0x88];
    headers.extend(literal("content-type", "application/grpc"));
    frame(conn, HEADERS, END_HEADERS, stream, &headers)?;
    // HealthCheckResponse { status = 1 (SERVING) or 2 (NOT_SERVING) },
    // behind gRPC's 5-byte prefix (not compressed, length 2).
    let status = if std::path::Path::new("/tmp/not-serving").exists() {
        2
    } else {
        1
    };
    frame(conn, DATA, 0, stream, &[0, 0, 0, 0, 2, 0x08, status])?;
    frame(
        conn,
        HEADERS,
        END_HEADERS | END_STREAM,
        stream,
        &literal("grpc-status", "0"),
    )
}
