//! Black-box tests of waitfor's network targets (the tools' pages in docs/, issue
//! 12): real listeners started late, small HTTP servers that answer 503 then
//! 200, 404 forever, never, or close at once; names through a private
//! `/etc/hosts` and a private `/etc/resolv.conf` (`unshare -m` and a bind
//! mount) with a DNS server of the test's own on a loopback address; IPv6 on
//! `::1`; every usage error with its exact line.
//!
//! No test asserts a time: a waiter is known to be waiting once it sleeps in
//! `poll` and has tried (the listener is not there yet); what ends the wait is
//! the listener, pinned by the exit status and the exact stderr.

use harness::{eventually, free_port, is_root, need, run, skip, tool, tool_argv, Ran, TempDir};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const LIMIT: f64 = 30.0;

fn spawn(args: &[&str]) -> Child {
    spawn_cmd(tool("waitfor").args(args))
}

fn spawn_cmd(c: &mut Command) -> Child {
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

fn finish(mut c: Child, what: &str) -> Ran {
    if !eventually(LIMIT, || c.try_wait().expect("try_wait").is_some()) {
        let _ = c.kill();
        let _ = c.wait();
        panic!("{what}: still running after {LIMIT} s");
    }
    c.wait_with_output().expect("wait").into()
}

fn wchan(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Waits until waitfor sleeps in poll and still runs.
fn waiting(c: &mut Child) {
    let pid = c.id();
    let mut exited = false;
    let slept = eventually(LIMIT, || {
        exited = c.try_wait().expect("try_wait").is_some();
        exited || wchan(pid).contains("poll")
    });
    assert!(!exited, "waitfor exited before the target answered");
    assert!(slept, "waitfor never slept in poll");
}

fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

fn timed_out(target: &str, last: &str) -> String {
    format!("waitfor: timed out waiting for '{target}' (last: {last})\n")
}

/// Serves HTTP on `listener`: each connection gets `answer(n, request)`
/// (n counts from 0), or `None` to keep it open without a word; stops after
/// `conns` connections.
fn http_server(
    listener: TcpListener,
    conns: usize,
    answer: impl Fn(usize, &str) -> Option<String> + Send + 'static,
) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut kept = Vec::new();
        for (n, s) in listener.incoming().take(conns).enumerate() {
            let Ok(mut s) = s else { break };
            let mut buf = [0u8; 2048];
            let len = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..len]).into_owned();
            seen.push(req.clone());
            match answer(n, &req) {
                Some(text) => {
                    let _ = s.write_all(text.as_bytes());
                }
                None => kept.push(s),
            }
        }
        seen
    })
}

fn status(code: u16) -> String {
    format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

// ---------------------------------------------------------------- tcp, unix

#[test]
fn tcp_listener_started_late_ends_the_wait_and_runs_the_command() {
    let port = free_port();
    let target = format!("tcp://127.0.0.1:{port}");
    let mut c = spawn(&["--interval", "50ms", &target, "--", "echo", "up"]);
    waiting(&mut c);
    thread::sleep(Duration::from_millis(200));
    assert!(c.try_wait().unwrap().is_none(), "waitfor went on without a listener");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind late");
    assert_ran(&finish(c, "tcp wait"), 0, "up\n", "");
    drop(listener);
}

#[test]
fn unix_socket_created_late_ends_the_wait() {
    let t = TempDir::new("net-unix");
    let sock = t.join("db.sock");
    let target = format!("unix://{}", sock.display());
    let mut c = spawn(&["--interval", "50ms", &target]);
    waiting(&mut c);
    let listener = UnixListener::bind(&sock).expect("bind");
    assert_ran(&finish(c, "unix wait"), 0, "", "");
    drop(listener);
    // Gone again: the last answer is the system's.
    std::fs::remove_file(&sock).unwrap();
    let r = run(tool("waitfor").args(["--timeout", "300ms", &target]));
    assert_ran(&r, 124, "", &timed_out(&target, "No such file or directory"));
}

#[test]
fn refused_connections_time_out_with_the_last_answer() {
    let port = free_port();
    let target = format!("tcp://127.0.0.1:{port}");
    let r = run(tool("waitfor").args(["--timeout", "300ms", "--interval", "50ms", &target]));
    assert_ran(&r, 124, "", &timed_out(&target, "Connection refused"));
}

#[test]
fn ipv6_loopback_in_brackets() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return skip("ipv6_loopback_in_brackets", "this machine has no ::1");
    };
    let port = listener.local_addr().unwrap().port();
    let r =
        run(tool("waitfor").args(["--timeout", "5s", &format!("tcp://[::1]:{port}"), "--", "echo", "v6"]));
    assert_ran(&r, 0, "v6\n", "");
    let r = run(tool("waitfor").args(["--timeout", "5s", &format!("tcp://localhost:{port}")]));
    assert_ran(&r, 0, "", "");
}

#[test]
fn files_and_targets_mix_under_all_of_and_any() {
    let t = TempDir::new("net-mix");
    let file = t.join("ready");
    let port = free_port();
    let target = format!("tcp://127.0.0.1:{port}");
    // --any: the file alone is enough, the target never answers.
    let mut c = spawn(&["--any", "--interval", "50ms", &target, file.to_str().unwrap()]);
    waiting(&mut c);
    std::fs::write(&file, "").unwrap();
    assert_ran(&finish(c, "--any"), 0, "", "");
    // All of: the file is there, the listener comes last.
    let mut c = spawn(&["--interval", "50ms", file.to_str().unwrap(), &target]);
    waiting(&mut c);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    assert_ran(&finish(c, "all of"), 0, "", "");
    drop(listener);
}

// ---------------------------------------------------------------- http

#[test]
fn http_503_then_200_ends_the_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = http_server(listener, 3, |n, _| Some(status(if n < 2 { 503 } else { 200 })));
    let target = format!("http://127.0.0.1:{port}/healthz");
    let r =
        run(tool("waitfor").args(["--timeout", "20s", "--interval", "50ms", &target, "--", "echo", "ok"]));
    assert_ran(&r, 0, "ok\n", "");
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].starts_with("GET /healthz HTTP/1.1\r\n"), "{:?}", seen[0]);
    assert!(seen[0].contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")), "{:?}", seen[0]);
}

#[test]
fn http_redirect_counts_as_an_answer_as_for_kubernetes_probes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = http_server(listener, 1, |_, _| Some(status(302)));
    let r = run(tool("waitfor").args(["--timeout", "20s", &format!("http://localhost:{port}")]));
    assert_ran(&r, 0, "", "");
    assert!(server.join().unwrap()[0].starts_with("GET / HTTP/1.1\r\n"));
}

#[test]
fn http_that_never_succeeds_times_out_saying_what_it_last_answered() {
    type Answer = fn(usize, &str) -> Option<String>;
    let cases: [(&str, Answer); 4] = [
        ("HTTP 404", |_, _| Some(status(404))),
        ("HTTP 503", |_, _| Some(status(503))),
        ("no answer", |_, _| None),
        ("closed", |_, _| Some(String::new())),
    ];
    for (last, answer) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _server = http_server(listener, 1000, answer);
        let target = format!("http://127.0.0.1:{port}/healthz");
        let r = run(tool("waitfor").args(["--timeout", "1s", "--interval", "200ms", &target]));
        assert_ran(&r, 124, "", &timed_out(&target, last));
        // Unblock the server thread's accept so that it can end.
        for _ in 0..2 {
            let _ = TcpStream::connect(("127.0.0.1", port));
        }
    }
}

// ---------------------------------------------------------------- names

/// Runs waitfor with `args` in a mount namespace of its own where `file`
/// is bind-mounted over `over` (/etc/hosts, /etc/resolv.conf).
fn with_private(over: &str, file: &Path, args: &[&str]) -> Command {
    assert!(is_root(), "this test needs root: unshare -m and a bind mount over {over}");
    need("unshare", "util-linux");
    let mut argv = tool_argv("waitfor");
    argv.extend(args.iter().map(|a| a.to_string()));
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("mount --bind '{}' {over} && exec {}", file.display(), quoted.join(" "));
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c", &script]);
    c
}

#[test]
fn names_from_a_private_etc_hosts() {
    let t = TempDir::new("net-hosts");
    let hosts = t.join("hosts");
    std::fs::write(&hosts, "# test\n127.0.0.1 localhost\n127.0.0.1\tdb.test db # the database\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = run(&mut with_private(
        "/etc/hosts",
        &hosts,
        &["--timeout", "10s", &format!("tcp://DB:{port}"), "--", "echo", "db"],
    ));
    assert_ran(&r, 0, "db\n", "");
    drop(listener);
}

/// A DNS server of the test's own on `addr`:53 (UDP): answers A records from
/// `records`, NXDOMAIN for other names; with `silent`, never answers. Returns
/// the names it was asked, in order.
fn dns_server(addr: Ipv4Addr, records: Vec<(String, Ipv4Addr)>, silent: bool) -> Arc<Mutex<Vec<String>>> {
    let sock = UdpSocket::bind(SocketAddr::from((addr, 53))).expect("bind udp 53 (root, free port)");
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut idle = 0;
        while idle < 100 {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                idle += 1;
                continue;
            };
            idle = 0;
            let q = &buf[..n];
            let mut i = 12;
            let mut labels = Vec::new();
            while i < n && q[i] != 0 {
                let l = q[i] as usize;
                labels.push(String::from_utf8_lossy(&q[i + 1..i + 1 + l]).into_owned());
                i += 1 + l;
            }
            let name = labels.join(".");
            log.lock().unwrap().push(name.clone());
            if silent {
                continue;
            }
            let question = &q[12..i + 5];
            let mut r = vec![q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
            r.extend_from_slice(question);
            match records.iter().find(|(n, _)| *n == name) {
                Some((_, ip)) => {
                    r[7] = 1;
                    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
                    r.extend_from_slice(&ip.octets());
                }
                None => r[3] = 0x83,
            }
            let _ = sock.send_to(&r, from);
        }
    });
    asked
}

#[test]
fn names_by_dns_with_the_search_list_and_ndots_of_a_pod() {
    let t = TempDir::new("net-dns");
    let ns = Ipv4Addr::new(127, 53, 0, 1);
    let asked = dns_server(ns, vec![("db.ns.svc.cluster.local".into(), Ipv4Addr::LOCALHOST)], false);
    let conf = t.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("search other.svc.cluster.local ns.svc.cluster.local svc.cluster.local\nnameserver {ns}\noptions ndots:5\n"),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r =
        run(&mut with_private("/etc/resolv.conf", &conf, &["--timeout", "10s", &format!("tcp://db:{port}")]));
    assert_ran(&r, 0, "", "");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked[..2], ["db.other.svc.cluster.local", "db.ns.svc.cluster.local"], "{asked:?}");
    // A name with 5 dots or more is asked as it is, first and only.
    let r =
        run(&mut with_private("/etc/resolv.conf", &conf, &["--timeout", "300ms", "tcp://a.b.c.d.e.f:80"]));
    assert_ran(&r, 124, "", &timed_out("tcp://a.b.c.d.e.f:80", "no such name"));
    drop(listener);
}

#[test]
fn a_dns_server_that_never_answers_does_not_hold_the_timeout() {
    let t = TempDir::new("net-dns-silent");
    let ns = Ipv4Addr::new(127, 53, 0, 2);
    let asked = dns_server(ns, Vec::new(), true);
    let conf = t.join("resolv.conf");
    std::fs::write(&conf, format!("nameserver {ns}\n")).unwrap();
    let mut c =
        spawn_cmd(&mut with_private("/etc/resolv.conf", &conf, &["--timeout", "2s", "tcp://db.example:80"]));
    // It asked, and waits in poll (not in a resolver of its own blocking).
    assert!(eventually(LIMIT, || !asked.lock().unwrap().is_empty()), "no query reached the server");
    let inner = {
        let mut k = 0;
        let ok = eventually(LIMIT, || {
            k = std::fs::read_to_string(format!("/proc/{}/task/{}/children", c.id(), c.id()))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(c.id());
            wchan(k).contains("poll")
        });
        assert!(ok, "waitfor does not sleep in poll while the DNS server is silent");
        k
    };
    assert!(inner != 0 && c.try_wait().unwrap().is_none());
    assert_ran(&finish(c, "silent DNS"), 124, "", &timed_out("tcp://db.example:80", "no answer"));
}

// ---------------------------------------------------------------- usage

#[test]
fn malformed_targets_are_usage_errors_naming_the_target() {
    for (target, why) in [
        ("tcp://db", "no port"),
        ("tcp://db:", "no port"),
        ("tcp://:5432", "no host"),
        ("tcp://db:65536", "bad port"),
        ("tcp://db:0", "bad port"),
        ("tcp://db:54x", "bad port"),
        ("tcp://::1:80", "bad host (IPv6 goes in brackets)"),
        ("tcp://[db]:80", "bad host"),
        ("http://:80/x", "no host"),
        ("http://db:99999/", "bad port"),
        ("tcp://300.1.1.1:80", "bad host"),
        ("tcp://bad_host!:80", "bad host"),
        ("http://user@db/", "bad host"),
        ("unix://", "no socket path (unix:///PATH)"),
        ("unix://run/db.sock", "no socket path (unix:///PATH)"),
        ("ftp://db:21", "unknown scheme (tcp, unix, http; no TLS)"),
        ("https://db", "unknown scheme (tcp, unix, http; no TLS)"),
    ] {
        let r = run(tool("waitfor").args(["/tmp", target, "--", "echo", "no"]));
        let line = format!("waitfor: invalid network target '{target}': {why} (try 'waitfor --help')\n");
        assert_ran(&r, 125, "", &line);
    }
}

#[test]
fn host_port_without_a_scheme_gets_the_hint_and_is_waited_for_as_a_file() {
    let t = TempDir::new("net-hint");
    let r = harness::run(
        tool("waitfor").args(["--timeout", "300ms", "127.0.0.1:5432", "db:80"]).current_dir(t.path()),
    );
    let want = "waitfor: waiting for the file '127.0.0.1:5432' (a network target is tcp://127.0.0.1:5432)\n\
                waitfor: waiting for the file 'db:80' (a network target is tcp://db:80)\n\
                waitfor: timed out waiting for '127.0.0.1:5432'\n";
    assert_ran(&r, 124, "", want);
    // A file of that name exists: no hint.
    std::fs::write(t.join("db:80"), "").unwrap();
    let r = harness::run(tool("waitfor").args(["db:80"]).current_dir(t.path()));
    assert_ran(&r, 0, "", "");
}
