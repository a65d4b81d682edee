//! A sidecar's `ready:` target, checked by waitfor's grammar (DESIGN.md
//! section 3): `tcp://HOST:PORT`, `unix:///PATH`, `http://HOST[:PORT][/PATH]`,
//! or an absolute path (a file the sidecar writes when it is ready).

use std::net::{Ipv4Addr, Ipv6Addr};

const FORMS: &str = "tcp://HOST:PORT, unix:///PATH, http://HOST[:PORT][/PATH] or /PATH";

/// `Ok` for a target waitfor takes; else why not.
pub fn check_ready(t: &str) -> Result<(), String> {
    if t.starts_with('/') {
        return Ok(());
    }
    let Some((scheme, rest)) = t.split_once("://") else {
        if looks_like_host_port(t) {
            return Err(format!("a network target is tcp://{t}"));
        }
        return Err(format!("not a target ({FORMS})"));
    };
    match scheme {
        "tcp" => {
            let (host, port) = split_port(rest).ok_or_else(|| "no port (tcp://HOST:PORT)".to_string())?;
            check_host(host)?;
            check_port(port)
        }
        "http" => {
            let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
            match split_port(authority) {
                Some((host, port)) => {
                    check_host(host)?;
                    check_port(port)
                }
                None => check_host(authority),
            }
        }
        "unix" => match rest.strip_prefix('/') {
            Some(p) if !p.is_empty() => Ok(()),
            _ => Err("no socket path (unix:///PATH)".to_string()),
        },
        "https" => Err("https: waitfor has no TLS (use http:// to a plain port, or tcp://)".to_string()),
        other => Err(format!("unknown scheme '{other}://' ({FORMS})")),
    }
}

/// `HOST:PORT` with the port's text; `[::1]:80` too.
fn split_port(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((&s[..host.len() + 2], port));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

fn check_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("no host".to_string());
    }
    if let Some(inner) = h.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => Err(format!("'{h}' is not an IPv6 address")),
        };
    }
    if h.contains(':') {
        return Err(format!("an IPv6 address goes in brackets: [{h}]"));
    }
    if h.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return h.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| format!("'{h}' is not an IPv4 address"));
    }
    let ok = h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("'{h}' is not a host name"))
    }
}

fn check_port(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("no port".to_string());
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) && p.bytes().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(format!("bad port '{p}' (1 to 65535)")),
    }
}

fn looks_like_host_port(t: &str) -> bool {
    split_port(t).is_some_and(|(h, p)| !h.is_empty() && check_port(p).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_targets() {
        for t in [
            "tcp://127.0.0.1:5432",
            "tcp://localhost:80",
            "tcp://db:5432",
            "tcp://db.ns.svc.cluster.local:5432",
            "tcp://[::1]:8080",
            "unix:///run/app.sock",
            "http://127.0.0.1:8080/healthz",
            "http://localhost",
            "http://[::1]/ready",
            "http://db:80",
            "/workspace/db.ready",
        ] {
            assert_eq!(check_ready(t), Ok(()), "{t}");
        }
    }

    #[test]
    fn bad_targets_say_why() {
        let cases = [
            ("tcp://host", "no port (tcp://HOST:PORT)"),
            ("tcp://:80", "no host"),
            ("tcp://h:0", "bad port '0' (1 to 65535)"),
            ("tcp://h:65536", "bad port '65536' (1 to 65535)"),
            ("tcp://h:", "no port"),
            ("tcp://h:+80", "bad port '+80' (1 to 65535)"),
            ("tcp://::1:80", "no port (tcp://HOST:PORT)"),
            ("tcp://[::g]:80", "'[::g]' is not an IPv6 address"),
            ("tcp://300.1.1.1:80", "'300.1.1.1' is not an IPv4 address"),
            ("tcp://bad_host!:80", "'bad_host!' is not a host name"),
            ("http://h:99999/x", "bad port '99999' (1 to 65535)"),
            ("http:///x", "no host"),
            ("unix://", "no socket path (unix:///PATH)"),
            ("unix://relative", "no socket path (unix:///PATH)"),
            ("https://h/x", "https: waitfor has no TLS (use http:// to a plain port, or tcp://)"),
            (
                "ftp://h/x",
                "unknown scheme 'ftp://' (tcp://HOST:PORT, unix:///PATH, http://HOST[:PORT][/PATH] or /PATH)",
            ),
            ("127.0.0.1:5432", "a network target is tcp://127.0.0.1:5432"),
            ("db.ready", "not a target (tcp://HOST:PORT, unix:///PATH, http://HOST[:PORT][/PATH] or /PATH)"),
        ];
        for (t, why) in cases {
            assert_eq!(check_ready(t), Err(why.to_string()), "{t}");
        }
    }
}
