//! Network targets (the tools' pages in docs/), waited for until they answer;
//! their grammar is `stepkit::cli::target`'s.
//!
//! Each target is tried by attempts, the first at once, then one every
//! `interval`; an attempt is bounded by `interval` (at most 1 s): resolve the
//! name (see `resolve`), connect to each address in turn, and for `http` send
//! one `GET` and read the status line (200 to 399 is an answer, as for
//! Kubernetes' `httpGet` probes). Nothing blocks: every step is a descriptor
//! in the wait engine's poll set, so signals, files and the `--timeout` are
//! served meanwhile. What a target last answered is kept for the timeout line
//! (`(last: HTTP 503)`). The engine reaches the targets through
//! [`Others`].

use crate::resolve::{self, Addrs, Conf, Reply};
use core::net::SocketAddr;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use stepkit::cli::decimal;
use stepkit::cli::say::Line;
use stepkit::cli::target::{Kind, Spec};
use stepkit::os::clock::{Duration, Instant};
use stepkit::os::cstr::{has_byte, PathBuf};
use stepkit::os::io::write_all;
use stepkit::os::mem::{Slab, SpillBuf};
use stepkit::wait::engine::Others;
use stepkit::wait::poll_set::Want;

/// What a target last answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Last {
    /// No attempt has ended yet.
    Nothing,
    /// The attempt ran out of time with no answer.
    NoAnswer,
    /// A system call failed (refused, unreachable, no such socket).
    Errno(Errno),
    /// The name has no address (no such name).
    NoName,
    /// The name server failed.
    NameServer,
    /// The peer closed before a status line.
    Closed,
    /// The HTTP status, not 200 to 399 (or 0 for a line that is no status).
    Http(u16),
}

/// Where an attempt is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Between attempts.
    Idle,
    /// Waiting for the name server.
    Resolving,
    /// Waiting for a connect to finish.
    Connecting,
    /// The HTTP request is sent: waiting for the status line.
    Asking,
    /// It answered: the wait for it is over.
    Answered,
}

struct Target {
    spec: Spec<'static>,
    text: &'static [u8],
    phase: Phase,
    sock: Option<OwnedFd>,
    /// The next attempt's start, and the end of the current one.
    next: Instant,
    end: Instant,
    addrs: Addrs,
    tried: usize,
    /// Which search candidate is being asked.
    candidate: usize,
    id: u16,
    attempts: usize,
    status: [u8; 12],
    got: usize,
    last: Last,
}

/// The network targets of one wait.
pub struct Targets {
    list: Slab<Target>,
    interval: Duration,
    conf: Option<Conf>,
}

impl Targets {
    /// Room for `cap` targets, tried every `interval`.
    pub fn new(cap: usize, interval: Duration) -> Result<Targets, Errno> {
        Ok(Targets { list: Slab::with_capacity(cap)?, interval, conf: None })
    }

    /// Adds a target; returns its index.
    pub fn add(&mut self, text: &'static [u8], spec: Spec<'static>) -> Result<usize, Errno> {
        let now = Instant::now();
        let i = self.list.as_slice().len();
        self.list.push(Target {
            spec,
            text,
            phase: Phase::Idle,
            sock: None,
            next: now,
            end: now,
            addrs: Addrs::new(),
            tried: 0,
            candidate: 0,
            id: 0,
            attempts: 0,
            status: [0; 12],
            got: 0,
            last: Last::Nothing,
        })?;
        Ok(i)
    }
}

impl Others for Targets {
    #[inline(never)]
    fn poll_fd(&self, k: usize) -> Option<(BorrowedFd<'_>, Want)> {
        let t = self.list.as_slice().get(k)?;
        let want = match t.phase {
            Phase::Connecting => Want::Write,
            _ => Want::Read,
        };
        Some((t.sock.as_ref()?.as_fd(), want))
    }

    #[inline(never)]
    fn due(&self, k: usize) -> Option<Instant> {
        let t = self.list.as_slice().get(k)?;
        match t.phase {
            Phase::Answered => None,
            Phase::Idle => Some(t.next),
            _ => Some(t.end),
        }
    }

    fn advance(&mut self, k: usize, ready: bool) -> bool {
        let interval = self.interval;
        let Some(t) = self.list.as_mut_slice().get_mut(k) else { return false };
        let now = Instant::now();
        match t.phase {
            Phase::Answered => return true,
            Phase::Idle if now >= t.next => {
                let bound = if interval < Duration::secs(1) { interval } else { Duration::secs(1) };
                t.next = now.after(interval);
                t.end = now.after(bound);
                t.attempts += 1;
                begin(t, &mut self.conf);
            }
            Phase::Idle => {}
            _ if ready => step(t, self.conf.as_ref()),
            _ => {}
        }
        if t.phase != Phase::Idle && t.phase != Phase::Answered && Instant::now() >= t.end {
            fail(t, Last::NoAnswer);
        }
        t.phase == Phase::Answered
    }

    fn describe(&self, k: usize, line: &mut Line) {
        let Some(t) = self.list.as_slice().get(k) else { return };
        line.add_quoted(t.text);
        line.add_text(" (last: ");
        match t.last {
            Last::Nothing | Last::NoAnswer => line.add_text("no answer"),
            Last::Errno(e) => line.add_error(e),
            Last::NoName => line.add_text("no such name"),
            Last::NameServer => line.add_text("DNS failure"),
            Last::Closed => line.add_text("closed"),
            Last::Http(code) => {
                line.add_text("HTTP ");
                let mut d = [0u8; 20];
                line.add_bytes(decimal::format(u64::from(code), &mut d));
            }
        }
        line.add_text(")");
    }
}

/// Ends the attempt with `last`; the next starts at its time.
fn fail(t: &mut Target, last: Last) {
    t.sock = None;
    t.phase = Phase::Idle;
    t.last = last;
}

/// Starts an attempt: a unix connect, or a name to resolve.
fn begin(t: &mut Target, conf: &mut Option<Conf>) {
    t.addrs = Addrs::new();
    t.tried = 0;
    if t.spec.kind == Kind::Unix {
        return connect_unix(t);
    }
    if let Some(a) = resolve::literal(t.spec.host) {
        t.addrs = a;
        return connect_next(t);
    }
    if let Some((hosts, len)) = resolve::read_file(c"/etc/hosts") {
        t.addrs = resolve::from_hosts(hosts.bytes().get(..len).unwrap_or_default(), t.spec.host);
        if !t.addrs.as_slice().is_empty() {
            return connect_next(t);
        }
    }
    let conf = conf.get_or_insert_with(|| match resolve::read_file(c"/etc/resolv.conf") {
        Some((text, len)) => Conf::parse(text.bytes().get(..len).unwrap_or_default()),
        None => Conf::parse(b""),
    });
    t.candidate = 0;
    ask(t, conf);
}

/// Sends the A query for the current candidate name to this attempt's name
/// server (they take turns, attempt by attempt). (IPv6 addresses come from
/// literals and `/etc/hosts`; AAAA records would cost bytes the budget lacks.)
fn ask(t: &mut Target, conf: &Conf) {
    let mut name = [0u8; 256];
    let Some(len) = conf.candidate(t.spec.host, t.candidate, &mut name) else {
        return fail(t, Last::NoName);
    };
    let server = conf.servers.get(t.attempts % conf.n_servers.max(1)).copied();
    let Some(server) = server else { return fail(t, Last::NameServer) };
    let sock = match open_to(SocketAddr::new(server, 53), SocketType::DGRAM) {
        Ok(s) => s,
        Err(e) => return fail(t, Last::Errno(e)),
    };
    // Not a secret: a reply must match it (and come from the server).
    t.id = (Instant::now().nanos() as u16) ^ ((t.candidate as u16) << 8);
    let mut q = [0u8; 300];
    let Some(qlen) = resolve::query(name.get(..len).unwrap_or_default(), t.id, resolve::A, &mut q) else {
        return fail(t, Last::NoName);
    };
    let _ = rustix::io::write(&sock, q.get(..qlen).unwrap_or_default());
    t.sock = Some(sock);
    t.phase = Phase::Resolving;
}

/// A non-blocking socket of type `ty`, connecting (UDP: connected) to `addr`.
fn open_to(addr: SocketAddr, ty: SocketType) -> Result<OwnedFd, Errno> {
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let sock = rustix::net::socket_with(family, ty, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?;
    match rustix::net::connect(&sock, &addr) {
        Ok(()) | Err(Errno::INPROGRESS) => Ok(sock),
        Err(e) => Err(e),
    }
}

/// The attempt's descriptor is ready: moves it on.
fn step(t: &mut Target, conf: Option<&Conf>) {
    match t.phase {
        Phase::Resolving => {
            let mut msg = [0u8; 1024];
            while let Ok(n) = t.sock.as_ref().map_or(Err(Errno::BADF), |s| rustix::io::read(s, &mut msg)) {
                match resolve::parse_reply(msg.get(..n).unwrap_or_default(), t.id, &mut t.addrs) {
                    Reply::NotOurs => continue,
                    Reply::Failed => return fail(t, Last::NameServer),
                    Reply::Answer | Reply::NoName => {}
                }
                if !t.addrs.as_slice().is_empty() {
                    t.sock = None;
                    return connect_next(t);
                }
                // This name has no address: the next in the search list.
                t.candidate += 1;
                return match conf {
                    Some(c) => ask(t, c),
                    None => fail(t, Last::NoName),
                };
            }
        }
        Phase::Connecting => {
            let err = t.sock.as_ref().map(rustix::net::sockopt::socket_error);
            match err {
                Some(Ok(Ok(()))) if t.spec.kind == Kind::Http => request(t),
                Some(Ok(Ok(()))) => answered(t),
                Some(Ok(Err(e)) | Err(e)) => {
                    t.last = Last::Errno(e);
                    connect_next(t)
                }
                None => fail(t, Last::NoAnswer),
            }
        }
        Phase::Asking => {
            let Some(s) = t.sock.as_ref() else { return fail(t, Last::NoAnswer) };
            let Some(room) = t.status.get_mut(t.got..) else { return };
            match rustix::io::read(s, room) {
                Ok(0) => return fail(t, Last::Closed),
                Ok(n) => t.got += n,
                Err(Errno::AGAIN | Errno::INTR) => return,
                Err(e) => return fail(t, Last::Errno(e)),
            }
            if t.got < t.status.len() {
                return;
            }
            // "HTTP/1.1 200 OK": the status is bytes 9 to 11.
            let code = match (t.status.starts_with(b"HTTP/"), t.status.get(9..12).and_then(decimal::parse)) {
                (true, Some(c)) => c as u16,
                _ => 0,
            };
            if (200..=399).contains(&code) {
                answered(t)
            } else {
                fail(t, Last::Http(code))
            }
        }
        Phase::Idle | Phase::Answered => {}
    }
}

fn answered(t: &mut Target) {
    t.sock = None;
    t.phase = Phase::Answered;
}

/// Connects to the next address of the host (non-blocking); the attempt
/// fails when every address has failed.
fn connect_next(t: &mut Target) {
    t.sock = None;
    while let Some(&ip) = t.addrs.as_slice().get(t.tried) {
        t.tried += 1;
        match open_to(SocketAddr::new(ip, t.spec.port), SocketType::STREAM) {
            Ok(sock) => {
                t.sock = Some(sock);
                t.phase = Phase::Connecting;
                return;
            }
            Err(e) => t.last = Last::Errno(e),
        }
    }
    let last = if t.last == Last::Nothing { Last::NoAnswer } else { t.last };
    fail(t, last)
}

/// A connect to the unix socket at the target's path (immediate).
fn connect_unix(t: &mut Target) {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let done = PathBuf::new(t.spec.host).and_then(|p| {
        let addr = rustix::net::SocketAddrUnix::new(p.as_cstr())?;
        let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
        rustix::net::connect(&sock, &addr).map(|()| sock)
    });
    match done {
        Ok(_) => answered(t),
        Err(e) => fail(t, Last::Errno(e)),
    }
}

/// Sends the GET (one write: it fits any socket buffer).
fn request(t: &mut Target) {
    let mut req = SpillBuf::new();
    let host = t.spec.host;
    let v6 = has_byte(host, b':');
    let mut port = [0u8; 20];
    let port = decimal::format(u64::from(t.spec.port), &mut port);
    let parts: [&[u8]; 9] = [
        b"GET ",
        t.spec.path,
        b" HTTP/1.1\r\nHost: ",
        if v6 { b"[" } else { b"" },
        host,
        if v6 { b"]:" } else { b":" },
        port,
        b"\r\nConnection: close\r\n\r\n",
        b"",
    ];
    let mut at = 0;
    for p in parts {
        if !req.write(at, p) {
            return fail(t, Last::Errno(Errno::NAMETOOLONG));
        }
        at += p.len();
    }
    let sent = t.sock.as_ref().map(|s| write_all(s.as_fd(), req.bytes()));
    match sent {
        Some(Ok(())) => {
            t.got = 0;
            t.phase = Phase::Asking;
        }
        Some(Err(e)) => fail(t, Last::Errno(e)),
        None => fail(t, Last::NoAnswer),
    }
}
