//! What `/readyz` reports: ready once this instance has joined its group and restored its
//! state, and not ready, saying why, while anything waits — a unit re-reading without progress,
//! a unit restarting after a failure (broker or registry unreachable), the brokers down. Every
//! wait is logged where it is set; this is the one place that collects them for the endpoint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Since when every broker has been unreachable (set from the Kafka clients' error events,
/// cleared by the next committed transaction): one per process, like the clients' connections.
static BROKERS_DOWN: Mutex<Option<Instant>> = Mutex::new(None);

/// The Kafka client reports every broker down.
pub fn brokers_down() {
    if let Ok(mut at) = BROKERS_DOWN.lock()
        && at.is_none()
    {
        *at = Some(Instant::now());
        tracing::error!(
            "every Kafka broker is unreachable: waiting for them (the clients reconnect)"
        );
    }
}

/// A transaction committed: the brokers are back.
pub fn brokers_up() {
    if let Ok(mut at) = BROKERS_DOWN.lock()
        && let Some(since) = at.take()
    {
        tracing::info!(
            down_s = since.elapsed().as_secs(),
            "Kafka brokers reachable again"
        );
    }
}

/// Readiness and the waits in progress, shared by the pipeline's threads and the endpoint.
#[derive(Debug, Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    waits: Arc<Mutex<BTreeMap<String, (String, Instant)>>>,
}

impl Health {
    /// Marks the instance ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the instance joined its group and restored its state.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// `who` waits for `what` (kept from the first call until [`Health::done`]).
    pub fn waiting(&self, who: &str, what: impl Into<String>) {
        if let Ok(mut w) = self.waits.lock() {
            let what = what.into();
            let since = w.get(who).map_or_else(Instant::now, |(_, since)| *since);
            w.insert(who.to_string(), (what, since));
        }
    }

    /// `who` no longer waits (and, as it just committed, the brokers are up).
    pub fn done(&self, who: &str) {
        brokers_up();
        if let Ok(mut w) = self.waits.lock()
            && w.remove(who).is_some()
        {
            tracing::info!(who, "no longer waiting");
        }
    }

    /// `(ready, text)` for `/readyz`: ready only when joined and nothing waits.
    pub fn status(&self) -> (bool, String) {
        if !self.is_ready() {
            return (
                false,
                "not ready: joining the group, assigning partitions or restoring state\n".into(),
            );
        }
        let down = BROKERS_DOWN.lock().ok().and_then(|at| *at);
        let Ok(w) = self.waits.lock() else {
            return (true, "ready\n".into());
        };
        if w.is_empty() && down.is_none() {
            return (true, "ready\n".into());
        }
        let mut text = String::from("not ready:\n");
        if let Some(since) = down {
            text.push_str(&format!(
                "  kafka: every broker unreachable (for {:.0} s)\n",
                since.elapsed().as_secs_f64()
            ));
        }
        for (who, (what, since)) in w.iter() {
            text.push_str(&format!(
                "  {who}: {what} (for {:.0} s)\n",
                since.elapsed().as_secs_f64()
            ));
        }
        (false, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_make_an_instance_not_ready_and_say_why() {
        let h = Health::default();
        assert!(!h.status().0);
        h.set_ready(true);
        assert_eq!(h.status(), (true, "ready\n".to_string()));
        h.waiting(
            "shard 1",
            "re-reading calls/1: at offset 5, waiting for offset 9",
        );
        let (ok, text) = h.status();
        assert!(
            !ok && text.contains("shard 1: re-reading calls/1"),
            "{text}"
        );
        h.done("shard 1");
        assert!(h.status().0);
    }
}
