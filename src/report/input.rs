//! Where a report's KPI records come from: JSON Lines files that `replay` wrote (each line at
//! most `input.max_record_bytes`), or the `kpis` topic read to its end with `read_committed`.
//! A record that does not read is counted and named in a warning, never fatal.

use super::collect::{Collector, Filter, Prepared};
use super::row::KpiRow;
use crate::config::KafkaSettings;
use std::io::BufRead;
use std::path::Path;

/// Why records could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read KPI records {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Kafka(#[from] crate::kafka::client::KafkaOpError),
}

/// Unreadable records named in the log, at most this many (the rest only counted).
const WARNINGS: u64 = 10;

fn unreadable(c: &mut Collector, source: &str, at: &str, why: &str) {
    if c.stats.unreadable < WARNINGS {
        tracing::warn!(
            source,
            at,
            reason = why,
            "KPI record skipped: it does not read"
        );
    }
    c.unreadable();
}

/// Folds every record of a JSON Lines file (`-`: standard input) into `c`.
pub fn read_file(
    path: &Path,
    max_record_bytes: usize,
    c: &mut Collector,
) -> Result<(), InputError> {
    let name = path.display().to_string();
    let fail = |source| InputError::File {
        path: name.clone(),
        source,
    };
    if name == "-" {
        return read_from(&mut std::io::stdin().lock(), &name, max_record_bytes, c).map_err(fail);
    }
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    read_from(&mut reader, &name, max_record_bytes, c).map_err(fail)
}

/// Bytes of lines handed to a parser thread at once.
const BATCH_BYTES: usize = 1 << 20;

/// Batches queued per thread (memory: about this × BATCH_BYTES per parser).
const QUEUED: usize = 2;

/// Whole lines read (each ended by `\n` here, whatever ended it in the input), not yet
/// parsed, and the number of the first.
#[derive(Default)]
struct Batch {
    first_line: u64,
    text: Vec<u8>,
    /// Lines longer than the limit, left empty in `text`: (line number, bytes).
    too_long: Vec<(u64, usize)>,
}

/// What a parser made of a batch (unboxed, see [`Prepared`]).
#[allow(clippy::large_enum_variant)]
enum Parsed {
    Row(Prepared),
    Bad(u64, String),
}

fn parse(batch: Batch, filter: &Filter) -> Vec<Parsed> {
    let mut out = Vec::with_capacity(batch.text.len() / 1024 + batch.too_long.len());
    for (number, line) in (batch.first_line..).zip(batch.text.split(|b| *b == b'\n')) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(match KpiRow::from_json(line) {
            Ok(row) => Parsed::Row(filter.prepare(row)),
            Err(e) => Parsed::Bad(number, e.to_string()),
        });
    }
    for (number, len) in batch.too_long {
        let why = format!("line of {len} bytes is longer than input.max_record_bytes");
        out.push(Parsed::Bad(number, why));
    }
    out
}

/// Reads lines on this thread (bounded, with [`crate::source::json::read_line`]), parses them on one thread per core (batches dealt round robin)
/// and folds them into `c` on another: parsing is what a report's time goes to, and the
/// folding does not depend on the order records arrive in.
fn read_from(
    reader: &mut dyn BufRead,
    name: &str,
    max_record_bytes: usize,
    c: &mut Collector,
) -> std::io::Result<()> {
    let parsers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Vec<Parsed>>(QUEUED * parsers);
        let mut queues = Vec::with_capacity(parsers);
        for _ in 0..parsers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(QUEUED);
            let done = done_tx.clone();
            let filter = c.filter().clone();
            scope.spawn(move || {
                for batch in rx {
                    if done.send(parse(batch, &filter)).is_err() {
                        return;
                    }
                }
            });
            queues.push(tx);
        }
        drop(done_tx);
        scope.spawn(move || {
            for parsed in done_rx {
                for p in parsed {
                    match p {
                        Parsed::Row(row) => c.fold(row),
                        Parsed::Bad(line_no, why) => {
                            unreadable(c, name, &format!("line {line_no}"), &why)
                        }
                    }
                }
            }
        });
        let mut batch = Batch {
            first_line: 1,
            ..Batch::default()
        };
        let mut line_no = 0u64;
        let mut next = 0usize;
        let mut deal = |batch: Batch| {
            let sent = queues.get(next % parsers).map(|q| q.send(batch));
            next += 1;
            sent.is_some_and(|r| r.is_ok())
        };
        let mut buf = Vec::with_capacity(2048);
        // The one bounded line reader of JSON Lines input (replay's too): LF, CRLF and CR end
        // a line; at most max_record_bytes + 1 bytes of a line are held.
        while let Some(len) = crate::source::json::read_line(reader, &mut buf, max_record_bytes)? {
            line_no += 1;
            let line = match buf.strip_prefix(b"\xEF\xBB\xBF") {
                Some(rest) if line_no == 1 => rest,
                _ => &buf,
            };
            if len > max_record_bytes {
                batch.too_long.push((line_no, len));
            } else {
                batch.text.extend_from_slice(line);
            }
            batch.text.push(b'\n');
            buf.clear();
            if batch.text.len() >= BATCH_BYTES {
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        first_line: line_no + 1,
                        ..Batch::default()
                    },
                );
                if !deal(full) {
                    break;
                }
            }
        }
        deal(batch);
        Ok(())
    })
}

/// Folds every record of the `kpis` topic into `c`.
pub fn read_topic(k: &KafkaSettings, c: &mut Collector) -> Result<(), InputError> {
    let topic = k.kpis_topic.clone();
    crate::kafka::client::read_each(k, &topic, &mut |m| match crate::kafka::codec::output_datum(
        k.output_framing,
        &m.value,
    )
    .ok_or_else(|| "not in the Confluent wire format (kafka.framing.outputs)".to_string())
    .and_then(|d| KpiRow::from_avro_datum(d).map_err(|e| e.to_string()))
    {
        Ok(row) => c.add(row),
        Err(e) => unreadable(
            c,
            &topic,
            &format!("partition {} offset {}", m.partition, m.offset),
            &e.to_string(),
        ),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::calendar::Calendar;

    fn line(hour: i64, cell: i64) -> String {
        let start = hour * 3_600_000;
        format!(
            "{{\"window_start\":{start},\"window_end\":{},\"level\":\"cell\",\"group\":{{\"cell\":\"C{cell}\"}},\"kpis\":{{\"call_attempts\":3,\"traffic_erlangs\":0.5}}}}\n",
            start + 3_600_000
        )
    }

    /// `text` read into a cell-level collector, lines limited to 4096 bytes.
    fn collected(text: &str) -> Collector {
        let calendar = Calendar::new("UTC").unwrap();
        let mut c = Collector::new(3_600_000, vec!["cell".into()], 0, 10 * 86_400_000, calendar);
        read_from(
            &mut std::io::Cursor::new(text.as_bytes()),
            "t",
            4096,
            &mut c,
        )
        .unwrap();
        c
    }

    #[test]
    fn every_line_over_batches_is_read_and_an_over_long_one_is_cut_alone() {
        let mut text = String::from("\u{feff}");
        // More than two batches of lines, CRLF in places, a blank line.
        for i in 0..20_000 {
            text.push_str(&line(i % 48, i / 48));
            if i % 1000 == 0 {
                text.insert(text.len() - 1, '\r');
                text.push('\n');
            }
        }
        text.push_str(&format!("{{\"window_start\":{}\n", "9".repeat(5000)));
        text.push_str(&line(1, 999_999));
        assert!(text.len() > 2 * BATCH_BYTES);
        let c = collected(&text);
        assert_eq!(c.stats.used, 20_001);
        assert_eq!(c.stats.unreadable, 1, "{:?}", c.stats);
        assert_eq!(c.stats.records, 20_002);
        // A line without an end, over the limit, at the end of the input.
        let c = collected(&format!("{}{}", line(0, 1), "x".repeat(10_000)));
        assert_eq!((c.stats.used, c.stats.unreadable), (1, 1));
    }
}
