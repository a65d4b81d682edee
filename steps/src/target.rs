//! A sidecar's `ready:` target: waitfor's grammar itself
//! (`stepkit::cli::target`, the tools' pages in docs/), so that `steps check`
//! accepts exactly the targets waitfor takes: `tcp://HOST:PORT`,
//! `unix:///PATH`, `http://HOST[:PORT][/PATH]`, or an absolute path (a file
//! the sidecar writes when it is ready). Only the words are steps' own.

use stepkit::cli::target::{self, Problem};

const FORMS: &str = "tcp://HOST:PORT, unix:///PATH, http://HOST[:PORT][/PATH] or /PATH";

/// `Ok` for a target waitfor takes; else why not.
pub fn check_ready(t: &str) -> Result<(), String> {
    if t.starts_with('/') {
        return Ok(());
    }
    match target::parse(t.as_bytes()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) if target::looks_like_host_port(t.as_bytes()) => {
            Err(format!("a network target is tcp://{t}"))
        }
        Ok(None) => Err(format!("not a target ({FORMS})")),
        Err(problem) => Err(words(t, problem)),
    }
}

/// What is wrong with the target `t`, in a steps file's words.
fn words(t: &str, problem: Problem) -> String {
    let scheme = t.split_once("://").map_or("", |(s, _)| s);
    match problem {
        Problem::UnknownScheme if scheme == "https" => {
            "https: waitfor has no TLS (use http:// to a plain port, or tcp://)".to_string()
        }
        Problem::UnknownScheme => format!("unknown scheme '{scheme}://' ({FORMS})"),
        Problem::NoSocketPath => "no socket path (unix:///PATH)".to_string(),
        Problem::NoHost => "no host".to_string(),
        Problem::Unbracketed => "an IPv6 address goes in brackets ([::1]:80)".to_string(),
        Problem::BadHost => "bad host (an IPv4 address, [IPv6] or a host name)".to_string(),
        Problem::NoPort => format!("no port ({scheme}://HOST:PORT)"),
        Problem::BadPort => "bad port (1 to 65535)".to_string(),
    }
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
            "tcp://db.ns.svc.cluster.local.:5432",
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
            ("tcp://h:0", "bad port (1 to 65535)"),
            ("tcp://h:65536", "bad port (1 to 65535)"),
            ("tcp://h:", "no port (tcp://HOST:PORT)"),
            ("tcp://h:+80", "bad port (1 to 65535)"),
            ("tcp://::1:80", "an IPv6 address goes in brackets ([::1]:80)"),
            ("tcp://[::g]:80", "bad host (an IPv4 address, [IPv6] or a host name)"),
            ("tcp://300.1.1.1:80", "bad host (an IPv4 address, [IPv6] or a host name)"),
            ("tcp://bad_host!:80", "bad host (an IPv4 address, [IPv6] or a host name)"),
            ("http://h:99999/x", "bad port (1 to 65535)"),
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

    /// What waitfor takes as a network target, steps takes as a ready
    /// target, and what one refuses the other refuses: the same grammar.
    #[test]
    fn the_same_targets_as_waitfor() {
        for t in [
            "tcp://db:5432",
            "unix:///s",
            "unix://s",
            "tcp://a b:1",
            "http://h/x",
            "gopher://h",
            "tcp://[::1]",
        ] {
            let waitfor = target::parse(t.as_bytes()).map(|s| s.is_some());
            assert_eq!(check_ready(t).is_ok(), waitfor == Ok(true), "{t}");
        }
    }
}
