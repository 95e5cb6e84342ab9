//! Any bytes as one line of a batch's input, against the shipped rules: the record
//! contract's "one judgment". The reader a host or `eval` uses and the batch's readers
//! (the row reader, the tree reader, the fallback to the reference reader) must accept
//! the same lines and reject the others with the same reason; and neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::{ChunkOutput, RuleSet, RunConfig, Sink};
use std::path::Path;
use std::sync::OnceLock;

fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        RuleSet::load_dir(dir).expect("the shipped rules load")
    })
}

#[derive(Default)]
struct Rejected(String);

impl Sink for Rejected {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        self.0.push_str(&chunk.rejected);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if line.contains('\n') || line.trim().is_empty() {
        return;
    }
    let rules = rules();
    let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).expect("a date");
    let mut sink = Rejected::default();
    let summary = rules
        .run_json_lines(line.as_bytes(), &RunConfig::new(on), &mut sink)
        .expect("a run over one line ends");
    assert_eq!(summary.read, 1, "one line, one record");
    match rules.read_json(line) {
        Ok(_) => assert_eq!(summary.rejected, 0, "the batch rejects what eval reads: {}", sink.0),
        Err(e) => {
            assert_eq!(summary.rejected, 1, "the batch reads what eval rejects ({e})");
            let reason = serde_json::to_string(&e.reason()).expect("a string");
            assert!(
                sink.0.contains(&reason),
                "eval says {reason}, the batch {}",
                sink.0
            );
        }
    }
});
