//! stepkit::cli::args::Parser over an arbitrary argv: the input split at NUL bytes
//! (argv[0] is the first piece). Checks the grammar of the tools' pages in docs/ as
//! the parser reports it, and that it never reads past argv.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::CString;
use stepkit::cli::args::{flag_value, Item, Parser, UsageError};
use stepkit::os::argv::{Args, TestArgv};

fuzz_target!(|data: &[u8]| {
    // Split at NUL bytes, so no piece holds one.
    let owned: Vec<CString> = data.split(|&b| b == 0).filter_map(|s| CString::new(s).ok()).collect();
    let mut argv = TestArgv::new(owned.iter().map(|s| s.as_bytes()));
    // SAFETY: `argv` lives until the end of this closure; nothing the parser
    // returns outlives it (the 'static lifetimes it hands out are not kept).
    let args = unsafe { argv.args() };
    check(&args, &owned);
});

fn check(args: &Args, argv: &[CString]) {
    assert_eq!(args.len(), argv.len());
    for (i, s) in argv.iter().enumerate() {
        assert_eq!(args.get(i), Some(s.as_bytes()));
        assert!(args.command(i).is_some());
    }
    assert_eq!(args.get(argv.len()), None);
    assert!(args.command(argv.len()).is_none());

    let mut p = Parser::new(args, 1);
    // The index of the argument the parser looks at next, tracked by hand.
    let mut at = 1usize;
    let mut steps = 0usize;
    loop {
        steps += 1;
        assert!(steps <= argv.len() + 1, "parser does not terminate");
        let Some(item) = p.next_item() else {
            assert!(at >= argv.len(), "stopped early at {at} of {}", argv.len());
            break;
        };
        match item {
            Item::Opt {
                name,
                dashes,
                inline,
                raw,
            } => {
                let typed = argv[at].as_bytes();
                assert_eq!(raw, typed);
                assert!(typed.len() >= 2 && typed[0] == b'-' && typed != b"--");
                let want_dashes = if typed[1] == b'-' { 2 } else { 1 };
                assert_eq!(dashes, want_dashes);
                let body = &typed[usize::from(dashes)..];
                match body.iter().position(|&c| c == b'=') {
                    Some(eq) => {
                        assert_eq!(name, &body[..eq]);
                        assert_eq!(inline, Some(&body[eq + 1..]));
                    }
                    None => {
                        assert_eq!(name, body);
                        assert_eq!(inline, None);
                    }
                }
                at += 1;
                // Treat the option as taking a value, a C-string value or none,
                // by the length of its name.
                match name.len() % 3 {
                    0 => match p.value(inline) {
                        Ok(v) => match inline {
                            Some(i) => assert_eq!(v, i),
                            None => {
                                assert_eq!(v, argv[at].as_bytes());
                                at += 1;
                            }
                        },
                        Err(e) => {
                            assert!(inline.is_none() && at >= argv.len());
                            assert_eq!(e, UsageError::MissingValue(raw));
                        }
                    },
                    1 => match p.value_cstr(inline) {
                        Ok(v) => match inline {
                            Some(i) => assert_eq!(v.to_bytes(), i),
                            None => {
                                assert_eq!(v.to_bytes(), argv[at].as_bytes());
                                at += 1;
                            }
                        },
                        Err(e) => {
                            assert!(inline.is_none() && at >= argv.len());
                            assert_eq!(e, UsageError::MissingValue(raw));
                        }
                    },
                    _ => {
                        let r = flag_value(name, inline);
                        match inline {
                            None | Some(b"true" | b"1") => assert_eq!(r, Ok(true)),
                            Some(b"false" | b"0") => assert_eq!(r, Ok(false)),
                            Some(_) => assert_eq!(r, Err(UsageError::UnexpectedValue(name))),
                        }
                    }
                }
            }
            Item::Operand(i) => {
                assert_eq!(i, at);
                let a = argv[i].as_bytes();
                assert!(a.len() < 2 || a[0] != b'-');
                assert_eq!(p.next_item(), None);
                break;
            }
            Item::End(i) => {
                assert_eq!(i, at + 1);
                assert_eq!(argv[at].as_bytes(), b"--");
                assert!(i <= argv.len());
                assert_eq!(p.next_item(), None);
                break;
            }
        }
    }
    assert_eq!(p.next_item(), None, "a finished parser stays finished");

    // replace_slot then command: argv[i..] with slot i replaced, in bounds only.
    let mut copy = *args;
    let prog: &'static std::ffi::CStr = c"prog";
    for i in [0, 1, argv.len().saturating_sub(1), argv.len(), argv.len() + 5] {
        let ok = copy.replace_slot(i, prog);
        assert_eq!(ok, i < argv.len());
        if ok {
            assert_eq!(copy.get(i), Some(&b"prog"[..]));
        }
    }
}
