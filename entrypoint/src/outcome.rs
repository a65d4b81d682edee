//! The step's outcome, written before exit whatever happened: the marker (`P`
//! or `P.err`, holding the wrapper's status), then the termination message
//! (Tekton's JSON, merged with the entries someone else left in the file).

use core::ffi::CStr;
use rustix::fd::AsFd;
use rustix::io::Errno;
use stepkit::cli::decimal;
use stepkit::cli::say::{self, Line};
use stepkit::cli::status::TOOL_FAILED;
use stepkit::files::atomic;
use stepkit::files::path::{create_dirs, dirname, is_regular_nofollow};
use stepkit::os::clock;
use stepkit::os::cstr::PathBuf;
use stepkit::os::io;
use stepkit::os::mem::Buf;

use crate::TOOL;

/// Why the step ended, as Tekton and Kubernetes tooling read it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Reason {
    /// COMMAND exited 0.
    Completed,
    /// COMMAND exited non-zero, could not be run, or the tool failed.
    Error,
    /// A dependency failed.
    Skipped,
    /// A dependency's wrapper died without a result.
    DependencyDied,
    /// `--timeout` or `--wait-timeout` expired.
    TimeoutExceeded,
    /// TERM or INT arrived while waiting.
    Cancelled,
    /// `--stop-when` stopped the command.
    Stopped,
    /// COMMAND was killed by a signal.
    Signaled,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Completed => "Completed",
            Reason::Error => "Error",
            Reason::Skipped => "Skipped",
            Reason::DependencyDied => "DependencyDied",
            Reason::TimeoutExceeded => "TimeoutExceeded",
            Reason::Cancelled => "Cancelled",
            Reason::Stopped => "Stopped",
            Reason::Signaled => "Signaled",
        }
    }
}

/// Where the outcome goes.
pub struct Step {
    /// `P`, if the step has a post file.
    pub post_file: Option<&'static [u8]>,
    /// The termination message path, if any.
    pub termination_path: Option<&'static [u8]>,
    /// When COMMAND's first attempt was started (ms since the epoch);
    /// meaningful once `attempts` is not 0.
    pub started_ms: u64,
    /// Where the results are read from once COMMAND has ended.
    pub results: Results,
    /// `--retries N`: how many times a failing COMMAND runs again; with N >
    /// 0 the message tells the attempts made (`Attempts`).
    pub retries: u32,
    /// How many times COMMAND was started. Once it was (not 0), the message
    /// has `StartedAt`, its results and `exitCode` are written.
    pub attempts: u32,
    /// The lock could not be made and a line said why: the marker is still
    /// tried (P's directory may take a file), but a failure is not told twice.
    pub marker_told: bool,
}

impl Step {
    /// A step known by nothing yet (the options fill it in), not started.
    pub fn new() -> Step {
        Step {
            post_file: None,
            termination_path: None,
            started_ms: 0,
            results: Results::default(),
            retries: 0,
            attempts: 0,
            marker_told: false,
        }
    }
}

/// A step's outputs, read once its command has ended (the tools' pages in docs/).
#[derive(Default)]
pub struct Results {
    /// `--results-dir DIR`: every regular file directly in DIR (type 1).
    pub dir: Option<&'static [u8]>,
    /// `-results=A,B`: those names in Tekton's `/tekton/results` (type 1);
    /// a missing one is skipped, as Tekton does.
    pub names: Option<&'static [u8]>,
    /// `-step_metadata_dir=D`: `D/results` (type 4) and `D/exitCode`.
    pub metadata: Option<&'static [u8]>,
}

/// Tekton's results directory, for `-results=A,B`.
pub const TEKTON_RESULTS: &[u8] = b"/tekton/results";

impl Results {
    /// Creates the directories the command writes its results into, before it
    /// starts (docs/steps.md); the line that says which one failed.
    pub fn create_dirs(&self) -> Result<(), Line> {
        let tekton = self.names.map(|_| TEKTON_RESULTS);
        for (dir, sub) in [(self.dir, &b""[..]), (self.metadata, b"/results"), (tekton, b"")] {
            let Some(dir) = dir else { continue };
            let p = PathBuf::with_suffix(dir, sub);
            if let Err(e) = p.as_ref().map_err(|e| *e).and_then(|p| create_dirs(p.as_bytes())) {
                return Err(say::failure(TOOL, "cannot create", p.as_ref().map_or(dir, |p| p.as_bytes()), e));
            }
        }
        Ok(())
    }

    /// True when `key` is the name of one of this step's results (an older
    /// entry with that key is replaced by ours).
    fn has(&self, key: &[u8]) -> bool {
        let file = |d: Option<&[u8]>, sub: &[u8]| {
            d.is_some_and(|d| PathBuf::concat(&[d, sub, key]).is_ok_and(|p| is_regular_nofollow(p.as_cstr())))
        };
        self.names.is_some_and(|n| stepkit::cli::args::item_index(n, b',', key).is_some())
            || file(self.dir, b"/")
            || file(self.metadata, b"/results/")
    }

    /// Appends every result to `json`, after our own entries; the line that
    /// says why one cannot be taken (not UTF-8, or the message would pass
    /// 4096 bytes with it: no result is ever dropped or cut).
    // Not inlined: smaller in a frame of its own than in its caller's large one.
    #[inline(never)]
    fn add_to(&self, json: &mut Json) -> Result<(), Line> {
        if let Some(dir) = self.dir {
            add_dir(json, dir, b"", 1)?;
        }
        for name in self.names.unwrap_or_default().split(|&c| c == b',').filter(|n| !n.is_empty()) {
            let path = PathBuf::concat(&[TEKTON_RESULTS, b"/", name]);
            // `-results=A,B`: a result the command did not write is skipped.
            add_result(json, path.as_ref().map_err(|e| *e), name, 1, true)?;
        }
        if let Some(d) = self.metadata {
            add_dir(json, d, b"/results", 4)?;
        }
        Ok(())
    }

    /// Removes every result file (before COMMAND runs again: the results
    /// are those of its last attempt); the line that says which one could
    /// not be removed. A `-results` name that is not there is fine.
    // Not inlined: the message it walks with (unused) is not in `main`'s frame.
    #[inline(never)]
    pub fn clear(&self) -> Result<(), Line> {
        let mut json = Json::new();
        json.clearing = true;
        self.add_to(&mut json)
    }
}

/// Appends every regular file directly in `dir` `sub` as a result of type
/// `ty`, in the directory's order; anything but a regular file (a
/// directory, a symlink) is not a result and is passed over.
fn add_dir(json: &mut Json, dir: &[u8], sub: &[u8], ty: u8) -> Result<(), Line> {
    use core::mem::MaybeUninit;
    use rustix::fs::{openat, FileType, Mode, OFlags, RawDir, CWD};
    let cannot = |e| say::failure(TOOL, "cannot read the results in", dir, e);
    let mut path = PathBuf::with_suffix(dir, sub).map_err(cannot)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match openat(CWD, path.as_cstr(), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(cannot(e)),
    };
    let base = path.as_bytes().len();
    let optional = ty == 1 && dir == TEKTON_RESULTS;
    let mut space = [MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(&fd, &mut space);
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(cannot)?;
        let name = entry.file_name().to_bytes();
        path.truncate(base);
        let full = path.push(b"/").and_then(|()| path.push(name));
        let kind = entry.file_type();
        if kind == FileType::RegularFile
            || kind == FileType::Unknown && full.is_ok() && is_regular_nofollow(path.as_cstr())
        {
            add_result(json, full.map(|()| &path), name, ty, optional)?;
        }
    }
    Ok(())
}

/// Appends the result `name` in the file `path` as an entry of type `ty`
/// (`optional`: a missing file is no result).
#[inline(never)]
fn add_result(
    json: &mut Json,
    path: Result<&PathBuf, Errno>,
    name: &[u8],
    ty: u8,
    optional: bool,
) -> Result<(), Line> {
    let verb = if json.clearing { "cannot remove result" } else { "cannot read result" };
    let cannot = |e| say::failure(TOOL, verb, name, e);
    let path = path.map_err(cannot)?;
    if json.clearing {
        return match rustix::fs::unlink(path.as_cstr()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(cannot(e)),
        };
    }
    let mut buf = [0u8; MAX + 1];
    let value = match read_small(path.as_cstr(), &mut buf) {
        Ok(Some(v)) => v,
        Err(Errno::NOENT) if optional => return Ok(()),
        Ok(None) => {
            // At least: the file as it is, in its entry, and the closing bracket.
            let size = rustix::fs::stat(path.as_cstr()).map_or(MAX as u64 + 1, |st| st.st_size as u64);
            return Err(too_large(
                name,
                json.len() + br#",{"key":"","value":"","type":1}]"#.len() + name.len() + size as usize,
            ));
        }
        Err(e) => return Err(cannot(e)),
    };
    if !is_utf8(value) {
        return Err(Line::new(TOOL).text("result ").quoted(name).text(" is not UTF-8 text"));
    }
    // Our own entries are before it: never the first.
    json.raw(b",");
    json.entry([name, value], ty, usize::MAX);
    // The message as it would be, closing bracket included.
    let need = json.total + 1;
    if need > MAX {
        return Err(too_large(name, need));
    }
    Ok(())
}

/// `result 'NAME' does not fit in the termination message: N bytes with it, over 4096`.
fn too_large(name: &[u8], need: usize) -> Line {
    Line::new(TOOL)
        .text("result ")
        .quoted(name)
        .text(" does not fit in the termination message: ")
        .num(need as u64)
        .text(" bytes with it, over 4096")
}

impl Step {
    /// Writes the marker for wrapper status `status`, then the termination
    /// message (with COMMAND's real status `exit_code`, the `reason` if there
    /// is one, and `note`, the line that explained a failure, if any); returns
    /// `status`.
    ///
    /// `reason` is `None` only for a failure that `--on-error continue` turned
    /// into success: like Tekton's entrypoint, the message then holds the real
    /// `ExitCode` and no `Reason`, which Tekton's controller reports as
    /// `Continued` with that exit code.
    // Not inlined: its buffers (the message, old entries, a result) must not
    // sit in `main`'s frame, which is probed (made resident) at its start.
    #[inline(never)]
    pub fn finish(&self, status: u8, exit_code: u8, reason: Option<Reason>, note: Option<&Line>) -> u8 {
        let (mut status, mut exit_code, mut reason) = (status, exit_code, reason);
        let mut digits = [0u8; 21];
        let ran = self.attempts > 0;
        if let (true, Some(d)) = (ran, self.results.metadata) {
            let code = decimal(exit_code, &mut digits, 0);
            let file = PathBuf::with_suffix(d, b"/exitCode");
            if let Err(e) = file.and_then(|f| write_step_file(f.as_bytes(), code, false)) {
                say::failed(TOOL, "cannot write the exit code in", d, e);
            }
        }
        // The message is made before the marker, which depends on it: a result
        // that cannot be taken fails the step. In it: the entries someone
        // else left, ours (a step whose command never started has no
        // `StartedAt`; `Attempts` once COMMAND ran with `--retries`), then
        // the results (docs/protocol.md).
        let mut json = Json::new();
        let attempts = if self.retries > 0 { self.attempts } else { 0 };
        let started_ms = ran.then_some(self.started_ms);
        let problem;
        let note = note.map(Line::as_bytes);
        if let Some(t) = self.termination_path {
            let mut kept = merge_existing(t, &mut json, self);
            let mut start = json.len();
            let ours = Entries { started_ms, exit_code, reason, attempts, note };
            if !json.ours(&ours, kept) {
                Line::new(TOOL)
                    .text("cannot keep the entries already in ")
                    .quoted(t)
                    .text(": the message would pass 4096 bytes")
                    .emit();
                json.truncate(0);
                (kept, start) = (0, 0);
                json.ours(&ours, 0);
            }
            // Only a command that ran has results: files left in the
            // directory by an earlier run are not this one's.
            let added = if ran { self.results.add_to(&mut json) } else { Ok(()) };
            if let Err(line) = added {
                line.emit();
                problem = line;
                (status, exit_code, reason) = (TOOL_FAILED, TOOL_FAILED, Some(Reason::Error));
                json.truncate(start);
                let note = Some(problem.as_bytes());
                json.ours(&Entries { started_ms, exit_code, reason, attempts, note }, kept);
            }
            json.raw(b"]");
        }
        if let Some(p) = self.post_file {
            let suffix: &[u8] = if status == 0 { b"" } else { b".err" };
            let marker = PathBuf::with_suffix(p, suffix);
            let content = decimal(status, &mut digits, 1);
            let written =
                marker.as_ref().map_err(|e| *e).and_then(|m| write_step_file(m.as_bytes(), content, false));
            if let Err(e) = written {
                if !self.marker_told {
                    say::failed(TOOL, "cannot write", marker.as_ref().map_or(p, |m| m.as_bytes()), e);
                }
                // The outcome could not be told: the tool failed (a system
                // call), whatever COMMAND did.
                status = TOOL_FAILED;
            }
        }
        if let Some(t) = self.termination_path {
            if let Err(e) = write_step_file(t, json.as_bytes(), true) {
                say::failed(TOOL, "cannot write", t, e);
                status = TOOL_FAILED;
            }
        }
        status
    }

    /// True when `key` is one this step writes.
    fn writes_key(&self, key: &[u8]) -> bool {
        ["StartedAt", "ExitCode", "Reason", "Attempts", "Message"].iter().any(|k| k.as_bytes() == key)
            || self.results.has(key)
    }
}

/// `n` in decimal, followed by `newline` newlines (0 or 1), in `buf`.
fn decimal(n: u8, buf: &mut [u8; 21], newline: usize) -> &[u8] {
    *buf = [b'\n'; 21];
    let len = buf.first_chunk_mut::<20>().map_or(0, |d| decimal::format(u64::from(n), d).len());
    buf.get(20 - len..20 + newline).unwrap_or_default()
}

/// Writes a marker or termination file atomically, creating its directory
/// when missing. Where it cannot be renamed over (`in_place`: the termination
/// message), it is rewritten in place: the kubelet bind-mounts
/// `terminationMessagePath` (EBUSY, EXDEV), and a non-root step cannot create
/// a file beside `/dev/termination-log` (EACCES, EPERM, EROFS) though it may
/// write that file itself.
fn write_step_file(path: &[u8], content: &[u8], in_place: bool) -> Result<(), Errno> {
    let mut result = atomic::write_file(path, content, 0o644);
    if result == Err(Errno::NOENT) {
        result = create_dirs(dirname(path)).and_then(|()| atomic::write_file(path, content, 0o644));
    }
    match result {
        // No file there to rewrite: the first reason is the one to tell.
        Err(e @ (Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::BUSY | Errno::XDEV)) if in_place => {
            overwrite(path, content).map_err(|o| if o == Errno::NOENT { e } else { o })
        }
        other => other,
    }
}

/// Rewrites the existing file `path` with `content`: written from the start,
/// then cut to its length, so that a reader sees old or new bytes, never an
/// empty file.
fn overwrite(path: &[u8], content: &[u8]) -> Result<(), Errno> {
    use rustix::fs::{ftruncate, openat, Mode, OFlags, CWD};
    let p = PathBuf::new(path)?;
    let fd = openat(CWD, p.as_cstr(), OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())?;
    io::write_all(fd.as_fd(), content)?;
    ftruncate(&fd, content.len() as u64)
}

/// Reads the termination file `path` as someone else left it and, if it holds
/// Tekton-style entries, puts those whose keys are not the step's into `json`
/// (opening the array); returns how many were kept. Tekton merges the same
/// way, and Kubernetes tooling reads the last entry of a key.
// Not inlined: smaller in a frame of its own than in its caller's large one.
#[inline(never)]
fn merge_existing(path: &[u8], json: &mut Json, step: &Step) -> usize {
    let mut old = [0u8; MAX + 1];
    let Ok(Some(old)) = PathBuf::new(path).and_then(|p| read_small(p.as_cstr(), &mut old)) else { return 0 };
    let mut foreign = 0;
    let ok = json_entries(old, |entry, key| {
        if !step.writes_key(key) {
            json.raw(if foreign == 0 { b"[" } else { b"," });
            json.raw(entry);
            foreign += 1;
        }
    });
    if !ok {
        json.truncate(0);
        return 0;
    }
    foreign
}

/// The whole content of the file at `path` if it is shorter than `buf`
/// (`None` if not).
fn read_small<'b>(path: &CStr, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>, Errno> {
    let cap = buf.len();
    let len = io::read_up_to(path, buf)?;
    Ok(buf.get(..len).filter(|v| v.len() < cap))
}

/// Calls `each(entry, key)` for every object of a JSON array of flat objects
/// as Tekton writes them (`[{"key":"K","value":"V","type":1},...]`: `entry`
/// is the object's text, `key` the raw content of its `"key"` string); false
/// when `text` is not such an array, or an empty one.
fn json_entries(text: &[u8], mut each: impl FnMut(&[u8], &[u8])) -> bool {
    // Where the scan is: before the array, before an object, in an object,
    // in one of its strings, after a backslash there, after an object,
    // after the array.
    #[derive(PartialEq, Clone, Copy)]
    enum At {
        Start,
        Next,
        Object,
        Str,
        Escape,
        After,
        End,
    }
    let mut at = At::Start;
    let mut open = 0;
    for (i, &c) in text.iter().enumerate() {
        at = match (at, c) {
            (At::Str, b'\\') => At::Escape,
            (At::Str, b'"') => At::Object,
            (At::Str, _) | (At::Escape, _) => At::Str,
            (At::Object, b'"') => At::Str,
            (At::Object, b'}') => {
                let entry = text.get(open..=i).unwrap_or_default();
                let Some(key) = key_of(entry) else { return false };
                each(entry, key);
                At::After
            }
            (At::Object, b'{' | b'[' | b']') => return false,
            (At::Object, _) => At::Object,
            (_, b' ' | b'\t' | b'\n' | b'\r') => at,
            (At::Start, b'[') | (At::After, b',') => At::Next,
            (At::Next, b'{') => {
                open = i;
                At::Object
            }
            (At::After, b']') => At::End,
            _ => return false,
        };
    }
    at == At::End
}

/// The raw content of the `"key":"..."` member of a flat object.
fn key_of(entry: &[u8]) -> Option<&[u8]> {
    let at = entry.windows(7).position(|w| w == br#""key":""#)? + 7;
    let rest = entry.get(at..)?;
    let mut esc = false;
    let len = rest.iter().position(|&c| {
        let end = !esc && c == b'"';
        esc = !esc && c == b'\\';
        end
    })?;
    rest.get(..len)
}

/// Our entries of the message.
pub struct Entries<'n> {
    /// `StartedAt`, ms since the epoch; none when COMMAND never started.
    pub started_ms: Option<u64>,
    /// `ExitCode`: COMMAND's real status.
    pub exit_code: u8,
    /// `Reason`, except for a failure `--on-error continue` let pass.
    pub reason: Option<Reason>,
    /// `Attempts`: how many times COMMAND was started (with `--retries`;
    /// 0: no such entry).
    pub attempts: u32,
    /// `Message`: the line that explained a failure.
    pub note: Option<&'n [u8]>,
}

/// Kubernetes keeps at most 4096 bytes of a termination message.
const MAX: usize = 4096;

/// Tekton's termination message: a JSON array of `{"key","value","type":N}`.
pub struct Json {
    buf: Buf<MAX>,
    /// The length the text would have if nothing had been left out: more
    /// than `MAX` when something did not fit (the text is not to be used).
    total: usize,
    /// The result files are removed, not read ([`Results::clear`]).
    clearing: bool,
}

/// The JSON text of byte `c` at the start of `s` inside a string, as
/// (bytes, their length, input bytes used): escapes for `"`, `\` and the
/// controls, UTF-8 sequences as they are, U+FFFD for a byte that is not UTF-8.
fn escape(s: &[u8]) -> ([u8; 6], usize, usize) {
    let c = s.first().copied().unwrap_or(0);
    let hex = b"0123456789abcdef";
    match c {
        b'"' | b'\\' => ([b'\\', c, 0, 0, 0, 0], 2, 1),
        b'\n' => (*b"\\n\0\0\0\0", 2, 1),
        b'\t' => (*b"\\t\0\0\0\0", 2, 1),
        0..=0x1f | 0x7f => {
            ([b'\\', b'u', b'0', b'0', hex[usize::from(c >> 4)], hex[usize::from(c & 15)]], 6, 1)
        }
        0x20..=0x7e => ([c, 0, 0, 0, 0, 0], 1, 1),
        _ => match utf8_len(s) {
            0 => (*b"\\ufffd", 6, 1),
            n => {
                let mut out = [0u8; 6];
                if let (Some(dst), Some(src)) = (out.get_mut(..n), s.get(..n)) {
                    dst.copy_from_slice(src);
                }
                (out, n, n)
            }
        },
    }
}

/// True when `s` is well-formed UTF-8 throughout.
fn is_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        let n = if c < 0x80 { 1 } else { utf8_len(s.get(i..).unwrap_or_default()) };
        if n == 0 {
            return false;
        }
        i += n;
    }
    true
}

impl Json {
    /// An empty message.
    pub fn new() -> Json {
        Json { buf: Buf::new(), total: 0, clearing: false }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    /// Forgets what was written from `len` on.
    fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
        self.total = self.buf.len();
    }

    fn raw(&mut self, s: &[u8]) -> bool {
        self.total += s.len();
        self.total == self.buf.len() + s.len() && self.buf.push(s)
    }

    /// Appends the entry `{"key":"K","value":"V","type":N}`, `K` and `V`
    /// escaped; `V` is cut (between escapes) where the text would pass
    /// `limit` bytes.
    fn entry(&mut self, [key, value]: [&[u8]; 2], ty: u8, limit: usize) {
        self.raw(b"{\"key\":\"");
        self.escaped(key, usize::MAX);
        self.raw(b"\",\"value\":\"");
        self.escaped(value, limit);
        self.raw(b"\",\"type\":");
        self.raw(&[b'0' + ty]);
        self.raw(b"}");
    }

    /// Appends `s` as JSON string content (see [`escape`]), cut (between
    /// escapes) where the text would pass `limit` bytes.
    fn escaped(&mut self, s: &[u8], limit: usize) {
        let mut i = 0;
        while let Some(rest) = s.get(i..).filter(|r| !r.is_empty()) {
            let (piece, n, used) = escape(rest);
            if self.total + n > limit {
                return;
            }
            self.raw(piece.get(..n).unwrap_or_default());
            i += used;
        }
    }

    /// Our entries, after `kept` entries already written (the array is
    /// opened here when there are none). False if the message, closed now,
    /// would pass 4096 bytes.
    pub fn ours(&mut self, ours: &Entries<'_>, kept: usize) -> bool {
        let mut digits = [0u8; 20];
        // The note is cut to leave room for the end of its entry and the array's.
        let limit = MAX - br#"","type":3}]"#.len();
        self.raw(if kept > 0 { b"," } else { b"[" });
        if let Some(ms) = ours.started_ms {
            self.entry([b"StartedAt", &clock::rfc3339_millis(ms)], 3, limit);
            self.raw(b",");
        }
        self.entry([b"ExitCode", decimal::format(u64::from(ours.exit_code), &mut digits)], 3, limit);
        if let Some(r) = ours.reason {
            self.raw(b",");
            self.entry([b"Reason", r.as_str().as_bytes()], 3, limit);
        }
        if ours.attempts > 0 {
            self.raw(b",");
            self.entry([b"Attempts", decimal::format(u64::from(ours.attempts), &mut digits)], 3, limit);
        }
        if let Some(n) = ours.note {
            self.raw(b",");
            self.entry([b"Message", n], 3, limit);
        }
        self.total < MAX
    }
}

/// The length of the well-formed UTF-8 sequence at the start of `s` (which
/// starts with a byte >= 0x80), or 0 if it is not one.
fn utf8_len(s: &[u8]) -> usize {
    // The second byte's range depends on the first (no overlong forms, no
    // surrogates, nothing past U+10FFFF); later bytes are 0x80..=0xbf.
    let (n, lo, hi) = match s.first() {
        Some(0xc2..=0xdf) => (2, 0x80, 0xbf),
        Some(0xe0) => (3, 0xa0, 0xbf),
        Some(0xed) => (3, 0x80, 0x9f),
        Some(0xe1..=0xef) => (3, 0x80, 0xbf),
        Some(0xf0) => (4, 0x90, 0xbf),
        Some(0xf4) => (4, 0x80, 0x8f),
        Some(0xf1..=0xf3) => (4, 0x80, 0xbf),
        _ => return 0,
    };
    let second_ok = s.get(1).is_some_and(|b| (lo..=hi).contains(b));
    let rest_ok = (2..n).all(|k| s.get(k).is_some_and(|b| (0x80..=0xbf).contains(b)));
    if second_ok && rest_ok {
        n
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(note: Option<&[u8]>) -> Entries<'_> {
        Entries {
            started_ms: Some(1_795_770_900_123),
            exit_code: 137,
            reason: Some(Reason::Signaled),
            attempts: 0,
            note,
        }
    }

    fn msg(note: Option<&[u8]>) -> String {
        let mut j = Json::new();
        assert!(j.ours(&ours(note), 0) && j.raw(b"]"));
        String::from_utf8(j.as_bytes().to_vec()).unwrap()
    }

    fn merged(old: &str) -> (bool, String) {
        let d = std::env::temp_dir().join(format!("ep-merge-{}-{}", std::process::id(), old.len()));
        std::fs::write(&d, old).unwrap();
        let path: &'static [u8] = Box::leak(d.to_str().unwrap().as_bytes().to_vec().into_boxed_slice());
        let step = Step {
            post_file: None,
            termination_path: Some(path),
            started_ms: 1_795_770_900_123,
            results: Results::default(),
            retries: 0,
            attempts: 0,
            marker_told: false,
        };
        let mut j = Json::new();
        let kept = merge_existing(path, &mut j, &step);
        let whole = kept > 0 && (j.ours(&ours(None), kept) && j.raw(b"]"));
        std::fs::remove_file(&d).unwrap();
        (whole, String::from_utf8(j.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn foreign_entries_are_kept_and_ours_replace_theirs() {
        let (kept, m) = merged(
            r#" [ {"key":"digest","value":"sha256:1","type":1} , {"key":"ExitCode","value":"3","type":3},{"key":"x","value":"a\"}b","resourceName":"r","type":1}]"#,
        );
        assert!(kept);
        assert_eq!(
            m,
            r#"[{"key":"digest","value":"sha256:1","type":1},{"key":"x","value":"a\"}b","resourceName":"r","type":1},{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"137","type":3},{"key":"Reason","value":"Signaled","type":3}]"#
        );
    }

    #[test]
    fn what_is_not_an_array_of_entries_is_not_kept() {
        for old in ["", "[]", "not json", "[{\"key\":1}", "{}", "[1,2]", "tknz:abc"] {
            assert!(!merged(old).0, "{old}");
        }
        let big = format!("[{{\"key\":\"k\",\"value\":\"{}\",\"type\":1}}]", "v".repeat(4000));
        assert!(!merged(&big).0, "would pass 4096 bytes");
    }

    #[test]
    fn tekton_shape() {
        assert_eq!(
            msg(None),
            r#"[{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"137","type":3},{"key":"Reason","value":"Signaled","type":3}]"#
        );
    }

    #[test]
    fn a_step_that_never_started_has_no_started_at() {
        let mut j = Json::new();
        let skipped = Entries {
            started_ms: None,
            exit_code: 1,
            reason: Some(Reason::Skipped),
            attempts: 0,
            note: None,
        };
        assert!(j.ours(&skipped, 0) && j.raw(b"]"));
        assert_eq!(
            String::from_utf8(j.as_bytes().to_vec()).unwrap(),
            r#"[{"key":"ExitCode","value":"1","type":3},{"key":"Reason","value":"Skipped","type":3}]"#
        );
    }

    #[test]
    fn attempts_come_after_the_reason_and_before_the_message() {
        let mut j = Json::new();
        let retried =
            Entries { attempts: 3, exit_code: 0, reason: Some(Reason::Completed), ..ours(Some(b"m")) };
        assert!(j.ours(&retried, 0) && j.raw(b"]"));
        assert_eq!(
            String::from_utf8(j.as_bytes().to_vec()).unwrap(),
            r#"[{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"0","type":3},{"key":"Reason","value":"Completed","type":3},{"key":"Attempts","value":"3","type":3},{"key":"Message","value":"m","type":3}]"#
        );
    }

    #[test]
    fn escaping() {
        let m = msg(Some(b"a\"b\\c\nd\x01e\xffz \xc3\xa9"));
        assert!(m.ends_with(r#"{"key":"Message","value":"a\"b\\c\nd\u0001e\ufffdz é","type":3}]"#), "{m}");
    }

    #[test]
    fn utf8_sequences() {
        for ok in ["é", "€", "𝄞", "\u{10ffff}"] {
            assert_eq!(utf8_len(ok.as_bytes()), ok.len(), "{ok}");
        }
        for bad in [&b"\xc0\x80"[..], b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3", b"\xff"]
        {
            assert_eq!(utf8_len(bad), 0, "{bad:?}");
        }
    }

    #[test]
    fn never_longer_than_4096() {
        let long = vec![b'"'; 10_000];
        let m = msg(Some(&long));
        assert!(m.len() <= 4096, "{}", m.len());
        // Cut between escapes, never inside one.
        assert!(m.ends_with(r#"\"","type":3}]"#), "{}", &m[m.len() - 40..]);
    }
}
