//! Host names to addresses as musl resolves them, in a few hundred bytes and
//! without blocking (musl's `getaddrinfo` would add about 25 KiB and block for
//! its own timeouts, past `--timeout`).
//!
//! - A literal needs nothing: IPv4 (`10.0.0.1`), IPv6 (`::1`, bracketed on the
//!   command line), and `localhost` (127.0.0.1 and ::1).
//! - Then `/etc/hosts`: the first lines that name the host (any case).
//! - Then DNS over UDP, to `/etc/resolv.conf`'s nameservers (one per attempt,
//!   in turn), asking for A records (AAAA records too are read if a server
//!   sends them). The names asked are musl's: a
//!   name with fewer dots than `ndots` (default 1; 5 in a pod) is tried with
//!   each `search` domain first, then as it is; a name with more, or ending
//!   in a dot, only as it is. So `db` in namespace `ns` of a pod resolves as
//!   `db.ns.svc.cluster.local`. The first name that has addresses wins; a name
//!   that does not exist moves on to the next.
//!
//! The network I/O lives in `targets`; here are the pure parts.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use stepkit::cli::decimal;
use stepkit::cli::target::ip_literal;
use stepkit::os::io::read_up_to;
use stepkit::os::mem::Mapping;

/// Addresses of one host, at most [`Addrs::CAP`].
#[derive(Clone, Copy)]
pub struct Addrs {
    list: [IpAddr; Addrs::CAP],
    len: usize,
}

impl Addrs {
    /// Addresses kept per host.
    pub const CAP: usize = 4;

    /// None.
    pub const fn new() -> Addrs {
        Addrs { list: [IpAddr::V4(Ipv4Addr::UNSPECIFIED); Addrs::CAP], len: 0 }
    }

    /// Adds `a` (dropped when full).
    pub fn push(&mut self, a: IpAddr) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = a;
            self.len += 1;
        }
    }

    /// The addresses.
    pub fn as_slice(&self) -> &[IpAddr] {
        self.list.get(..self.len).unwrap_or_default()
    }
}

impl Default for Addrs {
    fn default() -> Addrs {
        Addrs::new()
    }
}

/// The addresses of a literal host or `localhost`, with no file and no DNS.
pub fn literal(host: &[u8]) -> Option<Addrs> {
    let mut a = Addrs::new();
    if same_name(host, b"localhost") {
        a.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        a.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    } else {
        a.push(ip_literal(host)?);
    }
    Some(a)
}

/// Host names compare without case (smaller here than `eq_ignore_ascii_case`).
#[allow(clippy::manual_ignore_case_cmp)]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_ascii_lowercase() == y.to_ascii_lowercase())
}

/// Reads a small configuration file (its first 64 KiB, in a mapping of
/// which only what is read becomes resident).
pub fn read_file(path: &core::ffi::CStr) -> Option<(Mapping, usize)> {
    let mut map = Mapping::new(64 * 1024).ok()?;
    let len = read_up_to(path, map.bytes_mut()).ok()?;
    Some((map, len))
}

/// Words of a configuration line, comments (`#`, `;`) cut.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = line.iter().position(|&c| c == b'#' || c == b';').unwrap_or(line.len());
    line.get(..end).unwrap_or_default().split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty())
}

/// The addresses `hosts` (the text of `/etc/hosts`) gives `host`.
pub fn from_hosts(hosts: &[u8], host: &[u8]) -> Addrs {
    let mut a = Addrs::new();
    for line in hosts.split(|&c| c == b'\n') {
        let mut w = words(line);
        let Some(addr) = w.next().and_then(ip_literal) else { continue };
        if w.any(|name| same_name(name, host)) {
            a.push(addr);
        }
    }
    a
}

/// What `/etc/resolv.conf` says, as far as names are concerned.
pub struct Conf {
    /// Nameservers (at most 3, as in musl; none: 127.0.0.1).
    pub servers: [IpAddr; 3],
    /// How many.
    pub n_servers: usize,
    /// The search list, words separated by one space (at most 255 bytes).
    search: [u8; 256],
    search_len: usize,
    /// Names with fewer dots are tried with the search list first.
    pub ndots: usize,
}

impl Conf {
    /// Parses the text of `/etc/resolv.conf`.
    pub fn parse(text: &[u8]) -> Conf {
        let mut c = Conf {
            servers: [IpAddr::V4(Ipv4Addr::LOCALHOST); 3],
            n_servers: 0,
            search: [0; 256],
            search_len: 0,
            ndots: 1,
        };
        for line in text.split(|&b| b == b'\n') {
            let mut w = words(line);
            match w.next() {
                Some(b"nameserver") => {
                    if let (Some(ip), Some(slot)) =
                        (w.next().and_then(ip_literal), c.servers.get_mut(c.n_servers))
                    {
                        *slot = ip;
                        c.n_servers += 1;
                    }
                }
                // The last `search` or `domain` line wins.
                Some(b"search" | b"domain") => {
                    c.search_len = 0;
                    for d in w {
                        let end = c.search_len + d.len() + 1;
                        if let Some(dst) = c.search.get_mut(c.search_len..end) {
                            dst[..d.len()].copy_from_slice(d);
                            dst[d.len()] = b' ';
                            c.search_len = end;
                        }
                    }
                }
                Some(b"options") => {
                    for o in w {
                        if let Some(n) = o.strip_prefix(b"ndots:") {
                            c.ndots = decimal::parse(n).map_or(1, |n| n.min(15) as usize);
                        }
                    }
                }
                _ => {}
            }
        }
        if c.n_servers == 0 {
            c.n_servers = 1;
        }
        c
    }

    /// The search domains.
    fn domains(&self) -> impl Iterator<Item = &[u8]> {
        self.search.get(..self.search_len).unwrap_or_default().split(|&b| b == b' ').filter(|d| !d.is_empty())
    }

    /// Writes into `out` the `n`th name DNS is asked for `host`; its length,
    /// or `None` when there are no more.
    pub fn candidate(&self, host: &[u8], n: usize, out: &mut [u8; 256]) -> Option<usize> {
        let dots = host.iter().filter(|&&c| c == b'.').count();
        // A final dot asks for the name as it is (global scope).
        let (host, rooted) = match host.strip_suffix(b".") {
            Some(h) => (h, true),
            None => (host, false),
        };
        let searched = dots < self.ndots && !rooted;
        let mut put = |parts: [&[u8]; 3]| -> Option<usize> {
            let mut at = 0;
            for p in parts {
                out.get_mut(at..at + p.len())?.copy_from_slice(p);
                at += p.len();
            }
            Some(at)
        };
        let mut i = 0;
        for d in self.domains().filter(|_| searched) {
            if i == n {
                return put([host, b".", d]);
            }
            i += 1;
        }
        if i == n {
            return put([host, b"", b""]);
        }
        None
    }
}

/// DNS record types asked for.
pub const A: u16 = 1;
/// IPv6 address records.
pub const AAAA: u16 = 28;

/// Writes a query (recursion desired) for `name`'s records of type `qtype`
/// into `out`; its length, or `None` for a name DNS cannot carry.
pub fn query(name: &[u8], id: u16, qtype: u16, out: &mut [u8; 300]) -> Option<usize> {
    let head = [(id >> 8) as u8, id as u8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    out.get_mut(..12)?.copy_from_slice(&head);
    let mut at = 12;
    for label in name.split(|&c| c == b'.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        *out.get_mut(at)? = label.len() as u8;
        out.get_mut(at + 1..at + 1 + label.len())?.copy_from_slice(label);
        at += 1 + label.len();
    }
    let tail = [0, (qtype >> 8) as u8, qtype as u8, 0, 1];
    out.get_mut(at..at + 5)?.copy_from_slice(&tail);
    Some(at + 5)
}

/// What a reply said.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Reply {
    /// Not the answer to our query (another id, or not a reply).
    NotOurs,
    /// The name exists; the addresses (maybe none of that type) were added.
    Answer,
    /// No such name (NXDOMAIN).
    NoName,
    /// The server failed (SERVFAIL, REFUSED, ...).
    Failed,
}

/// Reads a reply to query `id`, adding its A and AAAA records to `into`.
pub fn parse_reply(msg: &[u8], id: u16, into: &mut Addrs) -> Reply {
    let u16_at =
        |i: usize| -> Option<usize> { Some(usize::from(*msg.get(i)?) << 8 | usize::from(*msg.get(i + 1)?)) };
    let (Some(got), Some(flags), Some(qd), Some(an)) = (u16_at(0), u16_at(2), u16_at(4), u16_at(6)) else {
        return Reply::NotOurs;
    };
    if got != usize::from(id) || flags & 0x8000 == 0 {
        return Reply::NotOurs;
    }
    match flags & 0xf {
        0 => {}
        3 => return Reply::NoName,
        _ => return Reply::Failed,
    }
    // A name: labels up to a zero, or a compression pointer (two bytes).
    let skip_name = |mut i: usize| -> Option<usize> {
        loop {
            let len = *msg.get(i)?;
            if len & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            i += 1 + usize::from(len);
            if len == 0 {
                return Some(i);
            }
        }
    };
    let mut at = 12;
    for _ in 0..qd {
        let Some(i) = skip_name(at) else { return Reply::Failed };
        at = i + 4;
    }
    for _ in 0..an {
        let Some(i) = skip_name(at) else { break };
        let (Some(rtype), Some(len)) = (u16_at(i), u16_at(i + 8)) else { break };
        let data = msg.get(i + 10..i + 10 + len);
        match (rtype as u16, data) {
            (A, Some(d)) if len == 4 => into.push(IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3]))),
            (AAAA, Some(d)) if len == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(d);
                into.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        at = i + 10 + len;
    }
    Reply::Answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_localhost() {
        assert_eq!(literal(b"127.0.0.1").unwrap().as_slice(), [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(literal(b"::1").unwrap().as_slice(), [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert_eq!(literal(b"LocalHost").unwrap().as_slice().len(), 2);
        assert!(literal(b"db").is_none());
        assert!(literal(b"1.2.3").is_none());
    }

    #[test]
    fn hosts_file() {
        let hosts =
            b"# comment\n127.0.0.1\tlocalhost\n10.1.2.3 db db.local # the database\n::1 db\nbad line\n";
        let a = from_hosts(hosts, b"DB");
        assert_eq!(a.as_slice(), [IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert!(from_hosts(hosts, b"other").as_slice().is_empty());
    }

    fn names(c: &Conf, host: &[u8]) -> Vec<String> {
        let mut out = [0u8; 256];
        (0..)
            .map_while(|n| {
                c.candidate(host, n, &mut out).map(|l| String::from_utf8_lossy(&out[..l]).into_owned())
            })
            .collect()
    }

    #[test]
    fn search_list_and_ndots_as_in_a_pod() {
        let c = Conf::parse(
            b"search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
        );
        assert_eq!(c.servers[..c.n_servers], [IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10))]);
        assert_eq!(
            names(&c, b"db"),
            ["db.ns.svc.cluster.local", "db.svc.cluster.local", "db.cluster.local", "db"]
        );
        assert_eq!(names(&c, b"a.b.c.d.e.f"), ["a.b.c.d.e.f"]);
        assert_eq!(names(&c, b"db."), ["db"]);
        let plain =
            Conf::parse(b"nameserver ::1\nnameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n");
        assert_eq!(plain.n_servers, 3);
        assert_eq!(plain.ndots, 1);
        assert_eq!(names(&plain, b"db"), ["db"]);
        assert_eq!(Conf::parse(b"").n_servers, 1);
    }

    #[test]
    fn query_and_reply() {
        let mut q = [0u8; 300];
        let n = query(b"db.ns", 0x1234, A, &mut q).unwrap();
        assert_eq!(
            &q[..n],
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02db\x02ns\x00\x00\x01\x00\x01"
        );
        assert!(query(b"a..b", 1, A, &mut [0u8; 300]).is_none());
        // The reply: the question, then a CNAME, then an A record by pointer.
        let mut r = q[..n].to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 2;
        r.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c");
        r.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07");
        let mut a = Addrs::new();
        assert_eq!(parse_reply(&r, 0x1234, &mut a), Reply::Answer);
        assert_eq!(a.as_slice(), [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]);
        assert_eq!(parse_reply(&r, 0x1235, &mut a), Reply::NotOurs);
        r[3] = 0x83;
        assert_eq!(parse_reply(&r, 0x1234, &mut a), Reply::NoName);
        r[3] = 0x82;
        assert_eq!(parse_reply(&r, 0x1234, &mut a), Reply::Failed);
        assert_eq!(parse_reply(&r[..5], 0x1234, &mut a), Reply::NotOurs);
    }
}
