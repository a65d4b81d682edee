//! The one option parser, over the process's argument vector
//! ([`Args`](crate::os::argv::Args)), and the rules every tool shares: the
//! standard options `--help` and `--version`, Go's boolean spellings.
//!
//! Grammar (the tools' pages in docs/): options come before operands; `--` ends options;
//! long options take `--name VALUE` or `--name=VALUE`; a single dash works too
//! (`-r`, and Tekton's Go-flag spelling `-post_file=P`), so a tool matches names
//! without caring how many dashes were typed, except where it says otherwise.

use crate::os::argv::Args;
use core::ffi::CStr;

/// One item of the command line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Item {
    /// An option: its name without dashes, how many dashes, an `=value`, and
    /// the whole argument as typed (for messages).
    Opt { name: &'static [u8], dashes: u8, inline: Option<&'static [u8]>, raw: &'static [u8] },
    /// The first operand, at this argv index (options end there).
    Operand(usize),
    /// `--` was seen; the next argument (if any) is at this index.
    End(usize),
}

/// What went wrong while parsing; the tool turns it into its usage line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum UsageError {
    /// `--name` needs a value and none followed.
    MissingValue(&'static [u8]),
    /// `--name=value` given to an option that takes none.
    UnexpectedValue(&'static [u8]),
    /// An option this tool does not know, as typed (`--bogus`).
    Unknown(&'static [u8]),
    /// An option of Tekton's that this tool does not implement, as typed.
    Unsupported(&'static [u8]),
    /// A value that does not parse: what it should be, and what was given.
    Invalid(&'static str, &'static [u8]),
    /// A malformed network target, as given, and what is wrong with it.
    Target(&'static [u8], &'static str),
    /// Anything else, already worded.
    Other(&'static str),
}

/// Walks the options of a command line, from argv[1].
pub struct Parser<'a> {
    args: &'a Args,
    next: usize,
    finished: bool,
    /// The last option as typed, for messages.
    last: &'static [u8],
}

impl<'a> Parser<'a> {
    /// A parser positioned at `start` (1 for the usual `argv[1]`).
    pub fn new(args: &'a Args, start: usize) -> Parser<'a> {
        Parser { args, next: start, finished: false, last: b"" }
    }

    /// The next option, or where the operands start. After `Operand`/`End` (or the
    /// end of argv, `None`) the parser is finished.
    pub fn next_item(&mut self) -> Option<Item> {
        if self.finished {
            return None;
        }
        let i = self.next;
        let Some(arg) = self.args.get(i) else {
            self.finished = true;
            return None;
        };
        if arg == b"--" {
            self.finished = true;
            return Some(Item::End(i + 1));
        }
        if arg.len() < 2 || arg.first() != Some(&b'-') {
            self.finished = true;
            return Some(Item::Operand(i));
        }
        self.next = i + 1;
        self.last = arg;
        let dashes = if arg.get(1) == Some(&b'-') { 2 } else { 1 };
        let body = arg.get(usize::from(dashes)..).unwrap_or_default();
        Some(match body.iter().position(|&c| c == b'=') {
            Some(eq) => Item::Opt {
                name: body.get(..eq).unwrap_or_default(),
                dashes,
                inline: body.get(eq + 1..),
                raw: arg,
            },
            None => Item::Opt { name: body, dashes, inline: None, raw: arg },
        })
    }

    /// The value of the option just returned: its `=value`, or the next argument.
    pub fn value(&mut self, inline: Option<&'static [u8]>) -> Result<&'static [u8], UsageError> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match self.args.get(self.next) {
            Some(v) => {
                self.next += 1;
                Ok(v)
            }
            None => Err(UsageError::MissingValue(self.last)),
        }
    }

    /// The value of the option just returned, as a C string (for paths that are
    /// handed to the kernel as they are, such as `-entrypoint=PROG`).
    pub fn value_cstr(&mut self, inline: Option<&'static [u8]>) -> Result<&'static CStr, UsageError> {
        if let Some(v) = inline {
            // The inline value is the tail of a NUL-terminated argv string.
            return self.args.tail_cstr(self.next - 1, v).ok_or(UsageError::MissingValue(self.last));
        }
        match self.args.get_cstr(self.next) {
            Some(v) => {
                self.next += 1;
                Ok(v)
            }
            None => Err(UsageError::MissingValue(self.last)),
        }
    }
}

/// The position of `word` in `list`, words separated by one space (a list
/// in one string is smaller than a table of slices).
pub fn word_index(list: &[u8], word: &[u8]) -> Option<usize> {
    item_index(list, b' ', word)
}

/// The position of `item` in `list`, items separated by `sep`.
#[inline(never)]
pub fn item_index(list: &[u8], sep: u8, item: &[u8]) -> Option<usize> {
    let (mut rest, mut i) = (list, 0);
    loop {
        let end = rest.iter().position(|&c| c == sep).unwrap_or(rest.len());
        if rest.get(..end) == Some(item) {
            return Some(i);
        }
        rest = rest.get(end + 1..)?;
        i += 1;
    }
}

/// The options every tool answers the same way (the tools' pages in docs/), the
/// one rule for them: `--help` (also `-help` and `-h`, as Go's flag package
/// takes them) prints `usage`, `--version` prints `version` (`TOOL
/// VERSION`), on stdout. True when the option `name` (without dashes; with no
/// `=value`: `--help=x` is no standard option) was one of them.
pub fn answer_standard(name: &[u8], inline: Option<&[u8]>, usage: &str, version: &str) -> bool {
    let text = match (inline, word_index(b"help h version", name)) {
        (None, Some(0 | 1)) => usage,
        (None, Some(_)) => version,
        _ => return false,
    };
    super::say::print(text);
    true
}

/// A boolean option's value: none, or Go's `=true`/`=false` spellings.
pub fn flag_value(name: &'static [u8], inline: Option<&[u8]>) -> Result<bool, UsageError> {
    match inline.map(|v| word_index(b"false 0 true 1", v)) {
        None => Ok(true),
        Some(Some(i)) => Ok(i > 1),
        Some(None) => Err(UsageError::UnexpectedValue(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_args<R>(list: &[&str], f: impl FnOnce(Args) -> R) -> R {
        f(crate::os::argv::TestArgv::new(list).leak())
    }

    #[test]
    fn long_short_inline_and_separate_values() {
        with_args(&["t", "--mode=755", "--mode", "644", "-r", "-post_file=/a/b", "x"], |a| {
            let mut p = Parser::new(&a, 1);
            assert_eq!(
                p.next_item(),
                Some(Item::Opt { name: b"mode", dashes: 2, inline: Some(b"755"), raw: b"--mode=755" })
            );
            match p.next_item() {
                Some(Item::Opt { name, inline, .. }) => {
                    assert_eq!(name, b"mode");
                    assert_eq!(p.value(inline), Ok(&b"644"[..]));
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(p.next_item(), Some(Item::Opt { name: b"r", dashes: 1, inline: None, raw: b"-r" }));
            assert_eq!(
                p.next_item(),
                Some(Item::Opt {
                    name: b"post_file",
                    dashes: 1,
                    inline: Some(b"/a/b"),
                    raw: b"-post_file=/a/b"
                })
            );
            assert_eq!(p.next_item(), Some(Item::Operand(6)));
            assert_eq!(p.next_item(), None);
        });
    }

    #[test]
    fn double_dash_ends_options_and_lone_dash_is_operand() {
        with_args(&["t", "--", "--mode"], |a| {
            let mut p = Parser::new(&a, 1);
            assert_eq!(p.next_item(), Some(Item::End(2)));
            assert_eq!(p.next_item(), None);
        });
        with_args(&["t", "-"], |a| {
            assert_eq!(Parser::new(&a, 1).next_item(), Some(Item::Operand(1)));
        });
    }

    #[test]
    fn missing_value() {
        with_args(&["t", "--timeout"], |a| {
            let mut p = Parser::new(&a, 1);
            let Some(Item::Opt { inline, .. }) = p.next_item() else { panic!() };
            assert_eq!(p.value(inline), Err(UsageError::MissingValue(b"--timeout")));
        });
    }

    #[test]
    fn inline_value_as_cstr_is_the_tail_of_the_argument() {
        with_args(&["t", "-entrypoint=sh", "--entrypoint", "bash"], |a| {
            let mut p = Parser::new(&a, 1);
            let Some(Item::Opt { inline, .. }) = p.next_item() else { panic!() };
            assert_eq!(p.value_cstr(inline).unwrap().to_bytes(), b"sh");
            let Some(Item::Opt { inline, .. }) = p.next_item() else { panic!() };
            assert_eq!(p.value_cstr(inline).unwrap().to_bytes(), b"bash");
        });
    }

    #[test]
    fn replace_slot_builds_a_command_vector() {
        with_args(&["t", "--", "-c", "echo"], |mut a| {
            let prog: &'static CStr = c"sh";
            assert!(a.replace_slot(1, prog));
            assert_eq!(a.get(1), Some(&b"sh"[..]));
            assert!(!a.replace_slot(9, prog));
        });
    }

    #[test]
    fn go_bool_spellings() {
        assert_eq!(flag_value(b"x", None), Ok(true));
        assert_eq!(flag_value(b"x", Some(b"false")), Ok(false));
        assert_eq!(flag_value(b"x", Some(b"yes")), Err(UsageError::UnexpectedValue(b"x")));
        assert_eq!(flag_value(b"x", Some(b"1")), Ok(true));
        assert_eq!(flag_value(b"x", Some(b"true")), Ok(true));
        assert_eq!(flag_value(b"x", Some(b"0")), Ok(false));
        for bad in ["", "tru", "true ", "0 true", "TRUE"] {
            assert_eq!(
                flag_value(b"x", Some(bad.as_bytes())),
                Err(UsageError::UnexpectedValue(b"x")),
                "{bad}"
            );
        }
    }
}
