//! What a program file is, from its first bytes: a script with a `#!` line, an ELF binary
//! (and for which machine), or neither. `execve(2)` starts only the first two, and an ELF
//! binary only on a machine of its architecture (an `--arm64` build on an x86_64 machine is
//! "Exec format error").

use std::io::Read;
use std::path::Path;

/// The start of a program file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProgramHead {
    /// A script: its `#!` line, without the `#!`.
    Script(String),
    /// An ELF binary for the machine `e_machine` names.
    Elf {
        /// The architecture, as Rust names it (`std::env::consts::ARCH`), when known.
        architecture: Option<&'static str>,
    },
    /// Neither (an empty file, text without `#!`, another format).
    Other,
}

/// The head of `file`, or `None` when it cannot be read.
pub(crate) fn read(file: &Path) -> Option<ProgramHead> {
    let mut head = [0_u8; 256];
    let mut opened = std::fs::File::open(file).ok()?;
    let mut read = 0;
    // A short read is not the end of the file: read until full or at its end.
    while read < head.len() {
        match opened.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(parse(&head[..read]))
}

fn parse(head: &[u8]) -> ProgramHead {
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|byte| *byte == b'\n').next().unwrap_or_default();
        return ProgramHead::Script(String::from_utf8_lossy(line).into_owned());
    }
    if head.starts_with(b"\x7fELF") && head.len() >= 20 {
        // e_machine: two bytes at offset 18, in the byte order of EI_DATA (offset 5).
        let bytes = [head[18], head[19]];
        let machine = if head[5] == 2 {
            u16::from_be_bytes(bytes)
        } else {
            u16::from_le_bytes(bytes)
        };
        return ProgramHead::Elf {
            architecture: architecture(machine),
        };
    }
    ProgramHead::Other
}

/// The architecture an ELF `e_machine` value names, spelled as `std::env::consts::ARCH`.
fn architecture(machine: u16) -> Option<&'static str> {
    Some(match machine {
        3 => "x86",
        8 => "mips",
        20 => "powerpc",
        21 => "powerpc64",
        22 => "s390x",
        40 => "arm",
        62 => "x86_64",
        183 => "aarch64",
        243 => "riscv64",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of an ELF header: 64-bit, little-endian, `e_machine` = `machine`.
    fn elf(machine: u16) -> Vec<u8> {
        let mut head = b"\x7fELF\x02\x01\x01\x00".to_vec();
        head.resize(18, 0);
        head.extend_from_slice(&machine.to_le_bytes());
        head
    }

    #[test]
    fn tells_scripts_binaries_and_the_rest_apart() {
        assert_eq!(
            parse(b"#!/usr/bin/env python3 -u\nprint()\n"),
            ProgramHead::Script("/usr/bin/env python3 -u".into())
        );
        assert_eq!(
            parse(&elf(183)),
            ProgramHead::Elf {
                architecture: Some("aarch64")
            }
        );
        assert_eq!(
            parse(&elf(62)),
            ProgramHead::Elf {
                architecture: Some("x86_64")
            }
        );
        assert_eq!(parse(&elf(0x9999)), ProgramHead::Elf { architecture: None });
        assert_eq!(parse(b""), ProgramHead::Other);
        assert_eq!(parse(b"echo hello\n"), ProgramHead::Other);
        assert_eq!(parse(b"\x7fELF\x02"), ProgramHead::Other, "too short");
    }

    #[test]
    fn reads_this_test_binary_as_one_for_this_machine() {
        let this = std::env::current_exe().unwrap();
        assert_eq!(
            read(&this),
            Some(ProgramHead::Elf {
                architecture: Some(std::env::consts::ARCH)
            })
        );
        assert_eq!(read(Path::new("/no/such/file")), None);
    }
}
