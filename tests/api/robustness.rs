//! Outside input never panics: mangled real payloads, random bytes and random comment text
//! go through every parser agen runs on them. A small deterministic generator stands in for a
//! fuzzer so the run is repeatable.

use std::path::Path;

use agen::event::Event;
use agen::webhook::signature::Verifier;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn payloads() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/github/webhook-payloads");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).unwrap() {
        let dir = dir.unwrap().path();
        let event = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&dir).unwrap() {
            out.push((event.clone(), std::fs::read(file.unwrap().path()).unwrap()));
        }
    }
    out
}

fn mangle(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    match rng.below(4) {
        0 => b.truncate(rng.below(b.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
        }
        2 => {
            let i = rng.below(b.len());
            let j = rng.below(b.len());
            let (lo, hi) = (i.min(j), i.max(j));
            b.drain(lo..hi);
        }
        _ => {
            let i = rng.below(b.len());
            let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            b.splice(i..i, junk);
        }
    }
    b
}

#[test]
fn mangled_payloads_never_panic_the_event_parser() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all = payloads();
    for round in 0..20_000 {
        let (event, body) = &all[round % all.len()];
        let mangled = mangle(&mut rng, body);
        let _ = Event::parse(event, &mangled);
    }
}

#[test]
fn random_signatures_and_bodies_never_panic_the_verifier() {
    let mut rng = Rng(42);
    let v = Verifier::new(&[b"secret".to_vec(), Vec::new()]);
    for _ in 0..20_000 {
        let header: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
        let mut prefixed = b"sha256=".to_vec();
        prefixed.extend((0..64).map(|_| b"0123456789abcdefABCDEFxyz"[rng.below(25)]));
        let body: Vec<u8> = (0..rng.below(256)).map(|_| rng.next() as u8).collect();
        assert!(v.verify(Some(&header), &body).is_err());
        assert!(v.verify(Some(&prefixed), &body).is_err());
    }
}

#[test]
fn random_comment_text_never_panics_the_command_parser() {
    let mut rng = Rng(7);
    let pieces = [
        "/agen", " ", "\n", "\r\n", "```", "~~~", "    ", "\t", "> ", "<!--", "-->", "stop",
        "retry", "status", "help", "fix", "\u{200B}", "\u{202E}", "\u{FEFF}", "é", "🦀", "-", "* ",
        "1. ",
    ];
    for _ in 0..50_000 {
        let text: String = (0..rng.below(40))
            .map(|_| pieces[rng.below(pieces.len())])
            .collect();
        let _ = agen::command::parse(&text);
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        let _ = agen::command::parse(&String::from_utf8_lossy(&bytes));
    }
}
