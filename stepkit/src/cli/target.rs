//! Network targets (the tools' pages in docs/), their grammar: `tcp://HOST:PORT`,
//! `unix:///PATH` and `http://HOST[:PORT][/PATH]`. Pure and written once, so
//! that `waitfor` (which waits for them) and `steps check` (which checks a
//! sidecar's `ready:`) accept and refuse exactly the same texts.
//!
//! HOST is an IPv4 address, an IPv6 address in brackets (`[::1]`), or a host
//! name: labels of letters, digits, `-` (not at either end) and `_`, 63 bytes
//! at most, 253 in all, and a final dot for a name to be asked as it is. PORT
//! is 1 to 65535 (`http`: 80 if none). A text with no `SCHEME://` is no target
//! (a file, for `waitfor`).

use super::decimal;
use crate::os::cstr::has_byte;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kinds of target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A TCP connection is accepted.
    Tcp,
    /// A connection to a unix stream socket is accepted.
    Unix,
    /// An HTTP/1.1 GET answers 200 to 399.
    Http,
}

/// A target, in the text it was read from.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    /// What to try.
    pub kind: Kind,
    /// The host (without brackets), or the socket's path for `unix`.
    pub host: &'a [u8],
    /// The port (0 for `unix`).
    pub port: u16,
    /// The HTTP path (`/` by default).
    pub path: &'a [u8],
}

/// Why a text is not a target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Problem {
    /// A scheme other than `tcp`, `unix` and `http` (`https` too: no TLS).
    UnknownScheme,
    /// `unix://` without an absolute path.
    NoSocketPath,
    /// No host.
    NoHost,
    /// An IPv6 address without its brackets.
    Unbracketed,
    /// A host that is neither an address nor a host name.
    BadHost,
    /// `tcp://` without a port.
    NoPort,
    /// A port that is not 1 to 65535 (or text after a TCP port).
    BadPort,
}

impl Problem {
    /// `waitfor`'s words for it (`steps` words it for a steps file).
    pub fn words(self) -> &'static str {
        match self {
            Problem::UnknownScheme => "unknown scheme (tcp, unix, http; no TLS)",
            Problem::NoSocketPath => "no socket path (unix:///PATH)",
            Problem::NoHost => "no host",
            Problem::Unbracketed => "bad host (IPv6 goes in brackets)",
            Problem::BadHost => "bad host",
            Problem::NoPort => "no port",
            Problem::BadPort => "bad port",
        }
    }
}

/// Parses `text` as a network target: `Ok(None)` when it is no URL (a file),
/// `Err` when it is a malformed one.
pub fn parse(text: &[u8]) -> Result<Option<Spec<'_>>, Problem> {
    let Some(at) = text.windows(3).position(|w| w == b"://") else { return Ok(None) };
    let (scheme, rest) = (text.get(..at).unwrap_or_default(), text.get(at + 3..).unwrap_or_default());
    let is_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !is_scheme {
        return Ok(None);
    }
    let kind = match scheme {
        b"tcp" => Kind::Tcp,
        b"http" => Kind::Http,
        // An absolute path, and more than the root.
        b"unix" if rest.len() > 1 && rest.first() == Some(&b'/') => {
            return Ok(Some(Spec { kind: Kind::Unix, host: rest, port: 0, path: b"" }))
        }
        b"unix" => return Err(Problem::NoSocketPath),
        _ => return Err(Problem::UnknownScheme),
    };
    let slash = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    if kind == Kind::Tcp && !path.is_empty() {
        return Err(Problem::BadPort);
    }
    let (host, port) = match authority.strip_prefix(b"[") {
        Some(v6) => {
            let close = v6.iter().position(|&c| c == b']').ok_or(Problem::BadHost)?;
            let (h, after) = v6.split_at(close);
            if !matches!(ip_literal(h), Some(IpAddr::V6(_))) {
                return Err(Problem::BadHost);
            }
            (h, after.get(1..).unwrap_or_default())
        }
        None => match authority.iter().rposition(|&c| c == b':') {
            Some(i) if has_byte(authority.get(..i).unwrap_or_default(), b':') => {
                return Err(Problem::Unbracketed)
            }
            Some(i) => (authority.get(..i).unwrap_or_default(), authority.get(i..).unwrap_or_default()),
            None => (authority, &b""[..]),
        },
    };
    if host.is_empty() {
        return Err(Problem::NoHost);
    }
    if !has_byte(host, b':') && !is_host(host) {
        return Err(Problem::BadHost);
    }
    let port = match port {
        b"" if kind == Kind::Http => 80,
        b"" | b":" => return Err(Problem::NoPort),
        p => match p.strip_prefix(b":").and_then(decimal::parse) {
            Some(n @ 1..=65535) => n as u16,
            _ => return Err(Problem::BadPort),
        },
    };
    Ok(Some(Spec { kind, host, port, path: if path.is_empty() { b"/" } else { path } }))
}

/// True for an IPv4 address or a host name (see the module's notes).
fn is_host(host: &[u8]) -> bool {
    if host.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        return ip_literal(host).is_some();
    }
    let name = host.strip_suffix(b".").unwrap_or(host);
    name.len() <= 253
        && name.split(|&c| c == b'.').all(|label| {
            matches!(label.len(), 1..=63)
                && label.first() != Some(&b'-')
                && label.last() != Some(&b'-')
                && label.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// True for an operand that reads as `HOST:PORT` (a network target without
/// its scheme), for the hint of the tools' pages in docs/.
pub fn looks_like_host_port(text: &[u8]) -> bool {
    let Some(i) = text.iter().rposition(|&c| c == b':') else { return false };
    let (host, port) = (text.get(..i).unwrap_or_default(), text.get(i + 1..).unwrap_or_default());
    !host.is_empty()
        && !has_byte(host, b'/')
        && matches!(decimal::parse(port), Some(1..=65535))
        && (!has_byte(host, b':') || (host.starts_with(b"[") && host.ends_with(b"]")))
}

/// An IPv4 (`10.0.0.1`) or unbracketed IPv6 (`fd00::1`, `::1`) literal.
/// (core's parser would cost 14 KiB.)
pub fn ip_literal(host: &[u8]) -> Option<IpAddr> {
    if has_byte(host, b':') {
        return ipv6(host).map(IpAddr::V6);
    }
    let mut b = [0u8; 4];
    let mut parts = host.split(|&c| c == b'.');
    for slot in &mut b {
        let p = parts.next()?;
        if p.len() > 3 || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        *slot = u8::try_from(decimal::parse(p)?).ok()?;
    }
    parts.next().is_none().then(|| IpAddr::V4(Ipv4Addr::from(b)))
}

/// Hex groups with at most one `::`.
fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    let group = |g: &[u8]| -> Option<u16> {
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        g.iter().try_fold(0u16, |n, &c| Some(n << 4 | (c as char).to_digit(16)? as u16))
    };
    let mut out = [0u16; 8];
    let (head, tail) = match text.windows(2).position(|w| w == b"::") {
        Some(i) => (text.get(..i)?, Some(text.get(i + 2..)?)),
        None => (text, None),
    };
    let fill = |part: &[u8], dst: &mut [u16]| -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        for g in part.split(|&c| c == b':') {
            *dst.get_mut(n)? = group(g)?;
            n += 1;
        }
        Some(n)
    };
    let n = fill(head, &mut out)?;
    match tail {
        None if n == 8 => {}
        None => return None,
        Some(t) => {
            let mut rest = [0u16; 8];
            let m = fill(t, &mut rest)?;
            if n + m > 7 {
                return None;
            }
            out.get_mut(8 - m..)?.copy_from_slice(rest.get(..m)?);
        }
    }
    Some(Ipv6Addr::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &'static str) -> (Kind, String, u16, String) {
        let s = parse(text.as_bytes()).unwrap().unwrap();
        (s.kind, String::from_utf8_lossy(s.host).into(), s.port, String::from_utf8_lossy(s.path).into())
    }

    #[test]
    fn targets() {
        assert_eq!(ok("tcp://db:5432"), (Kind::Tcp, "db".into(), 5432, "/".into()));
        assert_eq!(ok("tcp://[::1]:80"), (Kind::Tcp, "::1".into(), 80, "/".into()));
        assert_eq!(
            ok("http://127.0.0.1:8080/healthz?x=1"),
            (Kind::Http, "127.0.0.1".into(), 8080, "/healthz?x=1".into())
        );
        assert_eq!(ok("http://db"), (Kind::Http, "db".into(), 80, "/".into()));
        assert_eq!(ok("http://[::1]/x"), (Kind::Http, "::1".into(), 80, "/x".into()));
        assert_eq!(ok("unix:///run/db.sock"), (Kind::Unix, "/run/db.sock".into(), 0, "".into()));
        for good in [
            "tcp://db.ns.svc.cluster.local:5432",
            "tcp://db.ns.svc.cluster.local.:5432",
            "tcp://my_db-1:80",
            "tcp://LOCALHOST:80",
            "http://db:080",
        ] {
            assert!(parse(good.as_bytes()).is_ok_and(|s| s.is_some()), "{good}");
        }
        for (bad, why) in [
            ("tcp://db", Problem::NoPort),
            ("tcp://db:", Problem::NoPort),
            ("tcp://:80", Problem::NoHost),
            ("tcp://", Problem::NoHost),
            ("http:///x", Problem::NoHost),
            ("tcp://db:65536", Problem::BadPort),
            ("tcp://db:0", Problem::BadPort),
            ("tcp://db:8o", Problem::BadPort),
            ("tcp://db:+80", Problem::BadPort),
            ("tcp://db:80/x", Problem::BadPort),
            ("http://db:99999/x", Problem::BadPort),
            ("tcp://::1:80", Problem::Unbracketed),
            ("tcp://[db]:80", Problem::BadHost),
            ("tcp://[::1:80", Problem::BadHost),
            ("tcp://[::g]:80", Problem::BadHost),
            ("tcp://300.1.1.1:80", Problem::BadHost),
            ("tcp://1.2.3:80", Problem::BadHost),
            ("tcp://bad_host!:80", Problem::BadHost),
            ("tcp://-db:80", Problem::BadHost),
            ("tcp://a..b:80", Problem::BadHost),
            ("http://user@db/", Problem::BadHost),
            ("unix://", Problem::NoSocketPath),
            ("unix:///", Problem::NoSocketPath),
            ("unix://relative", Problem::NoSocketPath),
            ("ftp://x", Problem::UnknownScheme),
            ("https://x", Problem::UnknownScheme),
        ] {
            assert_eq!(parse(bad.as_bytes()).err(), Some(why), "{bad}");
        }
        let long = format!("tcp://{}:80", vec!["a".repeat(63); 4].join("."));
        assert_eq!(parse(long.as_bytes()).err(), Some(Problem::BadHost), "254 bytes");
        let label = format!("tcp://{}:80", "a".repeat(64));
        assert_eq!(parse(label.as_bytes()).err(), Some(Problem::BadHost), "a 64-byte label");
        for file in ["/steps/a", "a:b", "./x://y", "/x://y", "127.0.0.1:5432"] {
            assert!(parse(file.as_bytes()).unwrap().is_none(), "{file}");
        }
    }

    #[test]
    fn host_port_hint() {
        for yes in ["127.0.0.1:5432", "db:80", "[::1]:8080", "db.ns.svc:65535"] {
            assert!(looks_like_host_port(yes.as_bytes()), "{yes}");
        }
        for no in ["/steps/db:80", "db", "db:0", "db:99999", ":80", "a:b", "::1:80", "db:80x"] {
            assert!(!looks_like_host_port(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn address_literals() {
        assert_eq!(ip_literal(b"10.96.0.10"), Some(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10))));
        for v6 in ["fd00::1", "::", "::1", "1:2:3:4:5:6:7:8", "fe80::1:2", "2001:db8::"] {
            assert_eq!(ip_literal(v6.as_bytes()), Some(IpAddr::V6(v6.parse().unwrap())), "{v6}");
        }
        for bad in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "g::",
            ":1",
        ] {
            assert_eq!(ip_literal(bad.as_bytes()), None, "{bad}");
        }
    }
}
