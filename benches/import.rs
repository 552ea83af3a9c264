//! `comp import a1111` on prompts with many `AND` parts (issue 26, item 11: it was quadratic).
//!
//! `cargo bench --bench import`: the binary is spawned with the prompt on standard input
//! (`comp import a1111 -`), as a user would pipe a long prompt, for 1,000 to 100,000 parts
//! `wN :0.5` (distinct texts). 1,000 parts are written; from 10,000 on the expression is over
//! `comp check`'s limit (10,000 nodes; a weighted part is two) and the import exits 1 after
//! checking: the time is still the import's whole work (read, split, schedule, write, check).
//! No assertion on time: read the numbers.

use criterion::{criterion_group, criterion_main, Criterion};
use std::io::Write;
use std::process::{Command, Stdio};

fn prompt(parts: usize) -> String {
    (0..parts).map(|i| format!("w{i} :0.5")).collect::<Vec<_>>().join(" AND ")
}

fn import(text: &str) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_comp"))
        .args(["import", "a1111", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the comp binary runs");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("writes the prompt");
    child.wait().expect("waits").code().unwrap_or(-1)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("import_a1111");
    group.sample_size(10);
    for parts in [1_000, 10_000, 20_000, 100_000] {
        let text = prompt(parts);
        eprintln!("{parts} parts: exit {}", import(&text));
        group.bench_function(format!("{parts}_and_parts"), |b| b.iter(|| import(&text)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
