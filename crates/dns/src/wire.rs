//! The DNS wire format (RFC 1035), as much as a cluster DNS needs: read a
//! query, write an answer. A message is a 12-byte header, the question
//! (a name as length-prefixed labels, a type, a class), then records.

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_ANY: u16 = 255;

/// Response codes.
pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: u16,
    pub recursion_desired: bool,
    /// Lower case, without the final dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question section as received, echoed in the answer.
    raw_question: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    A(Ipv4Addr),
    Cname(String),
    Ptr(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: Data,
}

impl Record {
    fn rtype(&self) -> u16 {
        match self.data {
            Data::A(_) => TYPE_A,
            Data::Cname(_) => TYPE_CNAME,
            Data::Ptr(_) => TYPE_PTR,
            Data::Srv { .. } => TYPE_SRV,
        }
    }
}

/// Reads a query. `Err` carries the id (when readable) for a FORMERR.
pub fn parse_query(msg: &[u8]) -> Result<Query, Option<u16>> {
    if msg.len() < 12 {
        return Err(None);
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if flags & 0x8000 != 0 || qdcount != 1 {
        return Err(Some(id));
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(pos).ok_or(Some(id))? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(Some(id)); // compression pointers have no place in a question
        }
        let label = msg.get(pos..pos + len).ok_or(Some(id))?;
        labels.push(String::from_utf8_lossy(label).to_lowercase());
        pos += len;
    }
    let tail = msg.get(pos..pos + 4).ok_or(Some(id))?;
    Ok(Query {
        id,
        recursion_desired: flags & 0x0100 != 0,
        name: labels.join("."),
        qtype: u16::from_be_bytes([tail[0], tail[1]]),
        qclass: u16::from_be_bytes([tail[2], tail[3]]),
        raw_question: msg[12..pos + 4].to_vec(),
    })
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
}

/// Writes the answer to `q`: authoritative, with `answers`.
pub fn response(q: &Query, rcode: u8, answers: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR=1, opcode 0, AA=1, RD copied, RA=0 (we answer only our own zone).
    let flags: u16 = 0x8000 | 0x0400 | if q.recursion_desired { 0x0100 } else { 0 } | rcode as u16;
    out.extend_from_slice(&flags.to_be_bytes());
    for n in [1u16, answers.len() as u16, 0, 0] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&q.raw_question);
    for r in answers {
        put_name(&mut out, &r.name);
        out.extend_from_slice(&r.rtype().to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // class IN
        out.extend_from_slice(&r.ttl.to_be_bytes());
        let mut data = Vec::new();
        match &r.data {
            Data::A(ip) => data.extend_from_slice(&ip.octets()),
            Data::Cname(n) | Data::Ptr(n) => put_name(&mut data, n),
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                for v in [priority, weight, port] {
                    data.extend_from_slice(&v.to_be_bytes());
                }
                put_name(&mut data, target);
            }
        }
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// A FORMERR for a message we could not read.
pub fn format_error(id: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&(0x8000u16 | FORMERR as u16).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out
}

/// Builds a query (for tests and the benchmark).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&0x0100u16.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    put_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// The rcode and the A addresses of an answer (for tests and the benchmark).
pub fn answer_addresses(msg: &[u8]) -> Option<(u8, Vec<Ipv4Addr>)> {
    let rcode = msg.get(3)? & 0x0f;
    let ancount = u16::from_be_bytes([*msg.get(6)?, *msg.get(7)?]);
    let mut pos = 12;
    let skip_name = |pos: &mut usize| -> Option<()> {
        loop {
            let len = *msg.get(*pos)? as usize;
            if len & 0xc0 == 0xc0 {
                *pos += 2;
                return Some(());
            }
            *pos += 1 + len;
            if len == 0 {
                return Some(());
            }
        }
    };
    skip_name(&mut pos)?;
    pos += 4;
    let mut ips = Vec::new();
    for _ in 0..ancount {
        skip_name(&mut pos)?;
        let rtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
        let len = u16::from_be_bytes([*msg.get(pos + 8)?, *msg.get(pos + 9)?]) as usize;
        pos += 10;
        if rtype == TYPE_A && len == 4 {
            let o = msg.get(pos..pos + 4)?;
            ips.push(Ipv4Addr::new(o[0], o[1], o[2], o[3]));
        }
        pos += len;
    }
    Some((rcode, ips))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips() {
        let q = parse_query(&query(7, "Web.Default.svc.cluster.local.", TYPE_A)).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype),
            (7, "web.default.svc.cluster.local", TYPE_A)
        );
        let r = response(
            &q,
            NOERROR,
            &[Record {
                name: q.name.clone(),
                ttl: 5,
                data: Data::A(Ipv4Addr::new(10, 96, 0, 20)),
            }],
        );
        assert_eq!(
            answer_addresses(&r),
            Some((NOERROR, vec![Ipv4Addr::new(10, 96, 0, 20)]))
        );
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert!(parse_query(&r).is_err(), "a response is not a query");
        assert!(parse_query(&[0, 1, 2]).is_err());
    }
}
