//! entrypoint's termination message (Tekton's JSON array, docs/protocol.md, termination message):
//! valid JSON whatever the Message holds, never longer than 4096 bytes, the
//! Message decoding back to the note (bytes that are not UTF-8 as U+FFFD) or to
//! a prefix of it when cut, and StartedAt a real RFC 3339 date (or absent, for a
//! step whose command never started).
//!
//! `outcome` lives in the entrypoint binary crate, which cannot be a dependency:
//! the module is compiled here from its own source file (not a copy), with the
//! one item it takes from its crate root (`TOOL`).
#![no_main]
#![allow(dead_code)]

#[path = "../../entrypoint/src/outcome.rs"]
mod outcome;

pub(crate) const TOOL: &str = "entrypoint";

use libfuzzer_sys::fuzz_target;
use outcome::{Entries, Json, Reason};

const REASONS: [(Reason, &str); 8] = [
    (Reason::Completed, "Completed"),
    (Reason::Error, "Error"),
    (Reason::Skipped, "Skipped"),
    (Reason::DependencyDied, "DependencyDied"),
    (Reason::TimeoutExceeded, "TimeoutExceeded"),
    (Reason::Cancelled, "Cancelled"),
    (Reason::Stopped, "Stopped"),
    (Reason::Signaled, "Signaled"),
];

#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Num(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
    Lit(&'static str),
}

/// A strict JSON parser (RFC 8259): the whole input, one value.
struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Obj(v));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    v.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(v));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                if self.s[self.i] == b'-' {
                    self.i += 1;
                }
                let d = self.s[self.i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if d == 0 || (d > 1 && self.s[self.i] == b'0') {
                    return Err(format!("bad number at {start}"));
                }
                self.i += d;
                Ok(Value::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()))
            }
            _ => {
                for lit in ["true", "false", "null"] {
                    if self.s[self.i..].starts_with(lit.as_bytes()) {
                        self.i += lit.len();
                        return Ok(Value::Lit(lit));
                    }
                }
                Err(format!("unexpected byte at {}", self.i))
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("short \\u")?;
        let h = std::str::from_utf8(h).map_err(|e| e.to_string())?;
        let v = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
        self.i += 4;
        Ok(v)
    }
    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = *self.s.get(self.i).ok_or("dangling backslash")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let v = self.hex4()?;
                            if (0xd800..0xe000).contains(&v) {
                                return Err("surrogate escape".into());
                            }
                            out.push(char::from_u32(v).ok_or("bad \\u")?);
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    }
                }
                0..=0x1f => return Err(format!("raw control byte at {}", self.i)),
                _ => {
                    // Must be valid UTF-8 right here.
                    let n = match c {
                        0..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let chunk = self.s.get(self.i..self.i + n).ok_or("cut UTF-8")?;
                    let s = std::str::from_utf8(chunk).map_err(|e| format!("bad UTF-8 at {}: {e}", self.i))?;
                    out.push_str(s);
                    self.i += n;
                }
            }
        }
    }
}

fn parse(s: &[u8]) -> Result<Value, String> {
    let mut p = P { s, i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != s.len() {
        return Err(format!("trailing bytes at {}", p.i));
    }
    Ok(v)
}

/// The note as the message should carry it: each byte that does not start a
/// well-formed UTF-8 sequence becomes U+FFFD.
fn expected_text(note: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < note.len() {
        let mut taken = false;
        for n in (1..=4).rev() {
            if let Some(chunk) = note.get(i..i + n) {
                if let Ok(s) = std::str::from_utf8(chunk) {
                    if s.chars().count() == 1 {
                        out.push_str(s);
                        i += n;
                        taken = true;
                        break;
                    }
                }
            }
        }
        if !taken {
            out.push('\u{fffd}');
            i += 1;
        }
    }
    out
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn check_started_at(v: &str, ms: u64) {
    let b = v.as_bytes();
    assert_eq!(b.len(), 24, "{v}");
    if ms >= 253_402_300_800_000 {
        return; // past 9999-12-31: four digits cannot say it
    }
    let num = |r: std::ops::Range<usize>| -> i64 { v[r].parse().unwrap_or(-1) };
    assert_eq!(
        [b[4], b[7], b[10], b[13], b[16], b[19], b[23]],
        *b"--T::.Z",
        "{v}"
    );
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let (h, mi, s, milli) = (num(11..13), num(14..16), num(17..19), num(20..23));
    assert!((1..=12).contains(&mo) && (1..=31).contains(&d), "{v}");
    assert!(h < 24 && mi < 60 && s < 60, "{v}");
    let days = days_from_civil(y, mo, d);
    // Round trip: the date names the same day (a 31st of a 30-day month would not).
    let total = ((days * 24 + h) * 60 + mi) * 60 + s;
    assert_eq!(total * 1000 + milli, ms as i64, "{v}");
    let next = days_from_civil(if mo == 12 { y + 1 } else { y }, mo % 12 + 1, 1);
    assert!(days < next, "{v}");
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let mut head = [0u8; 8];
    head.copy_from_slice(&data[..8]);
    let ms = u64::from_le_bytes(head);
    let code = data[8];
    let (reason, reason_text) = REASONS[usize::from(data[9] % 8)];
    let has_note = data[9] & 0x80 == 0;
    // A step whose command never started has no StartedAt.
    let started = data[9] & 0x40 == 0;
    let note = &data[10..];

    let mut j = Json::new();
    // With --retries: how many attempts (0: no Attempts entry).
    let attempts = [0, 1, 3, 999_999_999][usize::from(data[9] >> 4 & 3)];
    let ours = Entries {
        started_ms: started.then_some(ms),
        exit_code: code,
        reason: Some(reason),
        attempts,
        note: has_note.then_some(note),
    };
    j.message(&ours, 0);
    let out = j.as_bytes();
    assert!(out.len() <= 4096, "{} bytes", out.len());
    let v = parse(out).unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(out)));
    let Value::Arr(entries) = v else { panic!("not an array") };
    let mut keys = Vec::new();
    for e in &entries {
        let Value::Obj(fields) = e else { panic!("entry not an object") };
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].0, "key");
        assert_eq!(fields[1].0, "value");
        assert_eq!(fields[2], ("type".to_string(), Value::Num("3".into())));
        let (Value::Str(k), Value::Str(val)) = (&fields[0].1, &fields[1].1) else {
            panic!("key and value must be strings")
        };
        keys.push(k.clone());
        match k.as_str() {
            "StartedAt" => check_started_at(val, ms),
            "ExitCode" => assert_eq!(val, &code.to_string()),
            "Reason" => assert_eq!(val, reason_text),
            "Attempts" => assert_eq!(val, &attempts.to_string()),
            "Message" => {
                let want = expected_text(note);
                assert!(
                    want.starts_with(val.as_str()),
                    "Message {val:?} is not (a prefix of) {want:?}"
                );
                if val.len() < want.len() {
                    // Cut only because the message would not fit otherwise.
                    assert!(out.len() > 4096 - 24, "cut short at {} bytes", out.len());
                }
            }
            other => panic!("unexpected key {other}"),
        }
    }
    let mut want = vec!["StartedAt", "ExitCode", "Reason", "Attempts", "Message"];
    if !has_note {
        want.pop();
    }
    if attempts == 0 {
        want.retain(|&k| k != "Attempts");
    }
    if !started {
        want.remove(0);
    }
    assert_eq!(keys, want);
});
