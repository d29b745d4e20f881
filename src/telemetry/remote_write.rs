//! Prometheus remote write of closed windows, stamped with the window end (event time), so that
//! history in Prometheus is exact and a replay backfills it.
//!
//! The processing thread hands each closed window's samples to a bounded queue and never waits
//! for the network; a sender thread batches them into `WriteRequest`s (protobuf, snappy block
//! compression, remote-write 0.1.0), retries transient failures with exponential backoff
//! (connection errors, HTTP 5xx, 429) and never retries permanent ones: HTTP 4xx, and a 5xx whose
//! body says the sample is out of bounds, too old or a duplicate (Prometheus 2.42 answers a
//! too-old sample with HTTP 500). A full queue drops the window's samples. Every sample is
//! counted as sent, retried or dropped.

use super::series::{Sample, samples};
use crate::engine::KpiRecord;
use prometheus::{IntCounterVec, Opts, Registry};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// `prometheus.Label`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.TimeSeries`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<WireSample>,
}

/// `prometheus.WriteRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// The time series of one KPI record, stamped with its window end (null KPIs are left out).
pub fn time_series(r: &KpiRecord<'_>, job: &str) -> Vec<TimeSeries> {
    samples(r)
        .into_iter()
        .filter_map(|s: Sample| {
            let value = s.value?;
            let mut labels = vec![
                Label {
                    name: "__name__".into(),
                    value: s.name.into(),
                },
                Label {
                    name: "job".into(),
                    value: job.into(),
                },
            ];
            labels.extend(
                s.label_names
                    .iter()
                    .zip(s.label_values)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v,
                    }),
            );
            // Remote write wants labels sorted by name.
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            Some(TimeSeries {
                labels,
                samples: vec![WireSample {
                    value,
                    timestamp: r.window_end,
                }],
            })
        })
        .collect()
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Permanent,
    Transient,
}

/// Classifies an answer of the remote-write endpoint.
pub fn classify(status: u16, body: &str) -> Delivery {
    let b = body.to_ascii_lowercase();
    match status {
        200..=299 => Delivery::Sent,
        429 => Delivery::Transient,
        500..=599
            if b.contains("out of bounds")
                || b.contains("too old")
                || b.contains("duplicate sample")
                || b.contains("out of order") =>
        {
            Delivery::Permanent
        }
        500..=599 => Delivery::Transient,
        _ => Delivery::Permanent,
    }
}

/// The sending side: a sink of its own beside the metrics registry (it only registers its
/// counter there), shared by the threads that close windows.
pub struct RemoteWriter {
    tx: Mutex<Option<SyncSender<Vec<TimeSeries>>>>,
    samples: IntCounterVec,
    job: String,
    /// The levels whose KPI records are sent (`[prometheus] levels`).
    levels: Vec<String>,
    sender: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl RemoteWriter {
    /// Starts the sender thread for `url`, sending the KPI records of `levels`; its counter is
    /// registered in `registry`.
    pub fn start(
        url: &str,
        queue_windows: usize,
        levels: Vec<String>,
        registry: &Registry,
    ) -> Result<Self, prometheus::Error> {
        let samples = IntCounterVec::new(
            Opts::new(
                "netkpi_remote_write_samples_total",
                "Remote-write samples by outcome (sent, retried, dropped).",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(samples.clone()))?;
        for o in ["sent", "retried", "dropped"] {
            samples.with_label_values(&[o]);
        }
        let (tx, rx) = sync_channel(queue_windows.max(1));
        let (url, counters) = (url.to_string(), samples.clone());
        let sender = std::thread::Builder::new()
            .name("netkpi-remote-write".into())
            .spawn(move || send_loop(&url, rx, &counters))
            .map_err(|e| {
                prometheus::Error::Msg(format!("cannot start the remote-write thread: {e}"))
            })?;
        Ok(RemoteWriter {
            tx: Mutex::new(Some(tx)),
            samples,
            job: "netkpi".into(),
            levels,
            sender: Mutex::new(Some(sender)),
        })
    }

    /// Sends what is queued and stops the sender (end of a run or a replay).
    pub fn finish(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            *tx = None;
        }
        let sender = self.sender.lock().ok().and_then(|mut s| s.take());
        if let Some(h) = sender {
            let _ = h.join();
        }
    }

    /// Queues one KPI record's series (of a sent level); drops (and counts) them when the
    /// queue is full.
    pub fn push(&self, r: &KpiRecord<'_>) {
        if !self.levels.iter().any(|l| l == r.level) {
            return;
        }
        let series = time_series(r, &self.job);
        let n = series.len() as u64;
        let queued = self
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.try_send(series)));
        if !matches!(queued, Some(Ok(()))) {
            if let Some(Err(TrySendError::Full(_))) = queued {
                tracing::debug!("remote-write queue full: samples dropped");
            }
            self.samples.with_label_values(&["dropped"]).inc_by(n);
        }
    }
}

fn send_loop(url: &str, rx: Receiver<Vec<TimeSeries>>, counters: &IntCounterVec) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    while let Ok(first) = rx.recv() {
        let mut batch = first;
        while batch.len() < 5_000 {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let body = prost::Message::encode_to_vec(&WriteRequest { timeseries: batch });
        let Ok(compressed) = snap::raw::Encoder::new().compress_vec(&body) else {
            counters.with_label_values(&["dropped"]).inc_by(n);
            continue;
        };
        let mut backoff = Duration::from_millis(100);
        for attempt in 0..6 {
            let answer = agent
                .post(url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .send(&compressed[..]);
            let outcome = match answer {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.body_mut().read_to_string().unwrap_or_default();
                    let d = classify(status, &text);
                    if d == Delivery::Permanent {
                        tracing::warn!(status, body = %text.trim(), samples = n, "remote write refused the samples (not retried)");
                    }
                    d
                }
                Err(e) => {
                    tracing::debug!(error = %e, "remote write failed");
                    Delivery::Transient
                }
            };
            match outcome {
                Delivery::Sent => {
                    counters.with_label_values(&["sent"]).inc_by(n);
                    break;
                }
                Delivery::Permanent => {
                    counters.with_label_values(&["dropped"]).inc_by(n);
                    break;
                }
                Delivery::Transient if attempt == 5 => {
                    counters.with_label_values(&["dropped"]).inc_by(n)
                }
                Delivery::Transient => {
                    counters.with_label_values(&["retried"]).inc_by(n);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_answers_are_classified() {
        assert_eq!(classify(204, ""), Delivery::Sent);
        assert_eq!(classify(500, "out of bounds"), Delivery::Permanent);
        assert_eq!(classify(500, "too old sample"), Delivery::Permanent);
        assert_eq!(classify(503, "overloaded"), Delivery::Transient);
        assert_eq!(classify(429, ""), Delivery::Transient);
        assert_eq!(classify(400, "bad"), Delivery::Permanent);
    }
}
