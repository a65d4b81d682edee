//! Black-box checks of the build (docs/design.md (budgets) and docs/steps.md): every shipped
//! binary fits the size budget, is a static ELF executable (no program
//! interpreter, no dynamic section) for the architecture under test
//! (`BIN_ARCH`), and is stripped. The ELF headers are parsed here, with no
//! external tool.

use std::path::Path;

/// The size budget of each binary, in bytes.
/// docs/design.md, budgets: copier and waitfor 32 KiB; entrypoint, with every
/// feature of the contract, 40 KiB.
fn budget(tool: &str) -> u64 {
    if tool == "entrypoint" {
        40 * 1024
    } else {
        32 * 1024
    }
}

const TOOLS: [&str; 3] = ["copier", "waitfor", "entrypoint"];

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const SHT_SYMTAB: u32 = 2;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The parts of an ELF file these checks look at.
#[derive(Debug)]
struct Elf {
    machine: u16,
    /// `p_type` of every program header.
    segments: Vec<u32>,
    /// `sh_type` of every section header.
    sections: Vec<u32>,
}

/// A little reader of fixed-width integers at offsets, either byte order.
struct Bytes<'a> {
    data: &'a [u8],
    little: bool,
    name: &'a str,
}

impl Bytes<'_> {
    fn get<const N: usize>(&self, at: usize) -> [u8; N] {
        let slice = at
            .checked_add(N)
            .and_then(|end| self.data.get(at..end))
            .unwrap_or_else(|| panic!("{}: ELF truncated at offset {at}", self.name));
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        out
    }

    fn u16(&self, at: usize) -> u16 {
        let b = self.get::<2>(at);
        if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32(&self, at: usize) -> u32 {
        let b = self.get::<4>(at);
        if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    fn u64(&self, at: usize) -> u64 {
        let b = self.get::<8>(at);
        if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    }

    /// An address-sized field (`Elf32_Off` or `Elf64_Off`).
    fn off(&self, at: usize, is64: bool) -> usize {
        let v = if is64 { self.u64(at) } else { u64::from(self.u32(at)) };
        usize::try_from(v).unwrap_or_else(|_| panic!("{}: offset {v} out of range", self.name))
    }
}

/// Parses the ELF header, program headers and section headers of `data`.
fn parse_elf(name: &str, data: &[u8]) -> Elf {
    assert!(data.len() >= 16 && data.starts_with(b"\x7fELF"), "{name}: not an ELF file");
    let is64 = match data[4] {
        1 => false,
        2 => true,
        c => panic!("{name}: bad ELF class {c}"),
    };
    let little = match data[5] {
        1 => true,
        2 => false,
        d => panic!("{name}: bad ELF data encoding {d}"),
    };
    let b = Bytes { data, little, name };
    let machine = b.u16(18);
    // Offsets of e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum.
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = if is64 {
        (b.off(32, true), b.off(40, true), 54, 56, 58, 60)
    } else {
        (b.off(28, false), b.off(32, false), 42, 44, 46, 48)
    };
    let (phentsize, phnum) = (usize::from(b.u16(phentsize)), usize::from(b.u16(phnum)));
    let (shentsize, shnum) = (usize::from(b.u16(shentsize)), usize::from(b.u16(shnum)));
    assert!(phnum > 0, "{name}: no program headers");
    // p_type and sh_type are the first word of their header (sh_type after sh_name).
    let segments = (0..phnum).map(|i| b.u32(phoff + i * phentsize)).collect();
    let sections = (0..shnum).map(|i| b.u32(shoff + i * shentsize + 4)).collect();
    Elf { machine, segments, sections }
}

fn read_binary(tool: &str) -> (std::path::PathBuf, Vec<u8>) {
    let path = harness::bin(tool);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, data)
}

fn check_size(tool: &str) {
    let path = harness::bin(tool);
    let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).len();
    let budget = budget(tool);
    eprintln!("{}: {size} bytes (budget {budget})", path.display());
    assert!(
        size <= budget,
        "{} is {size} bytes, over the {budget}-byte budget by {}",
        path.display(),
        size - budget
    );
}

fn check_static(tool: &str) {
    let (path, data) = read_binary(tool);
    let elf = parse_elf(&path.display().to_string(), &data);
    assert!(
        !elf.segments.contains(&PT_INTERP),
        "{} has a PT_INTERP segment: dynamically linked (segments {:?})",
        path.display(),
        elf.segments
    );
    assert!(
        !elf.segments.contains(&PT_DYNAMIC),
        "{} has a PT_DYNAMIC segment: not a plain static executable (segments {:?})",
        path.display(),
        elf.segments
    );
}

fn check_machine(tool: &str) {
    // Without BIN_ARCH the suite runs against dist/x86_64 (the harness's default).
    let arch = std::env::var("BIN_ARCH").ok().filter(|a| !a.is_empty()).unwrap_or_else(|| "x86_64".into());
    let want = match arch.as_str() {
        "x86_64" => EM_X86_64,
        "aarch64" => EM_AARCH64,
        other => panic!("BIN_ARCH={other}: expected x86_64 or aarch64"),
    };
    let (path, data) = read_binary(tool);
    let elf = parse_elf(&path.display().to_string(), &data);
    assert_eq!(
        elf.machine,
        want,
        "{}: ELF machine {} but BIN_ARCH={arch} wants {want}",
        path.display(),
        elf.machine
    );
}

fn check_stripped(tool: &str) {
    let (path, data) = read_binary(tool);
    let elf = parse_elf(&path.display().to_string(), &data);
    assert!(!elf.sections.contains(&SHT_SYMTAB), "{} has a symbol table: not stripped", path.display());
}

fn check_executable(tool: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = harness::bin(tool);
    let mode =
        std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{}: mode {mode:o} is not executable by all", path.display());
}

macro_rules! per_tool {
    ($($tool:ident),*) => {
        $(
            mod $tool {
                #[test]
                fn size_within_budget() {
                    super::check_size(stringify!($tool));
                }

                #[test]
                fn statically_linked() {
                    super::check_static(stringify!($tool));
                }

                #[test]
                fn machine_matches_bin_arch() {
                    super::check_machine(stringify!($tool));
                }

                #[test]
                fn stripped() {
                    super::check_stripped(stringify!($tool));
                }

                #[test]
                fn executable() {
                    super::check_executable(stringify!($tool));
                }
            }
        )*
    };
}

per_tool!(copier, waitfor, entrypoint);

#[test]
fn every_tool_is_in_bin_dir() {
    let dir = harness::bin_dir();
    for tool in TOOLS {
        assert!(
            Path::new(&dir).join(tool).is_file(),
            "{tool} is missing from {}: run `make` first",
            dir.display()
        );
    }
}

#[test]
fn parser_rejects_a_dynamic_executable() {
    // The checks would be worthless if the parser could not see PT_INTERP in
    // an ordinary dynamically linked program of the host.
    let host = ["/bin/sh", "/bin/true", "/usr/bin/env"].into_iter().map(Path::new).find(|p| p.is_file());
    let host = host.expect("no host program to parse (/bin/sh, /bin/true, /usr/bin/env)");
    let data = std::fs::read(host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
    let elf = parse_elf(&host.display().to_string(), &data);
    // Debian's /bin/sh (dash) is dynamically linked.
    assert!(elf.segments.contains(&PT_INTERP), "{}: no PT_INTERP: the parser missed it", host.display());
    assert!(elf.segments.contains(&PT_DYNAMIC), "{}: PT_INTERP without PT_DYNAMIC", host.display());
}
