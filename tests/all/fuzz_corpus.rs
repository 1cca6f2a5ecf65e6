//! R4, the short form of the fuzzing harness: every kept input of every fuzz target
//! (`tools/fuzz/corpus/<target>/`: seeds, and each input that once failed), then a few
//! thousand seeded mutations of them, through the real readers. A panic fails the test; a
//! reader may refuse any input. The long form is `make fuzz` (libFuzzer, coverage-guided,
//! a million executions per target).

use std::path::Path;

/// Mutations per target: byte flips, insertions, deletions and splices, seeded.
const MUTATIONS: usize = 2000;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Lcg, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(16).min(v.len() - i);
                v.drain(i..i + n);
            }
            3 if !v.is_empty() => {
                // Interesting values where numbers live.
                let i = rng.below(v.len());
                v[i] = [0, 0xff, 0x7f, 0x80, b'9', b'-', b'"', b'['][rng.below(8)];
            }
            _ if !other.is_empty() => {
                let i = rng.below(v.len() + 1);
                let j = rng.below(other.len());
                let n = rng.below(64).min(other.len() - j);
                v.splice(i..i, other[j..j + n].iter().copied());
            }
            _ => {}
        }
    }
    v
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations_of_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fuzz/corpus");
    for (name, target) in weft_fuzz::TARGETS {
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
            .unwrap_or_else(|e| panic!("corpus of {name}: {e}"))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(!inputs.is_empty(), "no corpus for {name}");
        inputs.sort();
        for input in &inputs {
            target(input);
        }
        let mut rng = Lcg(0xf022 ^ name.len() as u64);
        for _ in 0..MUTATIONS {
            let a = &inputs[rng.below(inputs.len())];
            let b = &inputs[rng.below(inputs.len())];
            let m = mutate(&mut rng, a, b);
            // An abort (a stack overflow) cannot be caught: with WEFT_FUZZ_DEBUG set, the
            // input about to run is left in the target dir to be replayed.
            if std::env::var_os("WEFT_FUZZ_DEBUG").is_some() {
                let last = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-last-{name}"));
                std::fs::write(last, &m).unwrap();
            }
            target(&m);
        }
    }
}
