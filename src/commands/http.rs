//! What a command reports to besides its outputs — the metrics registry and, beside it, the
//! remote-write sink — and the `/metrics`, `/healthz`, `/readyz` endpoint it starts.

use anyhow::Result;
use netkpi::telemetry::metrics::Metrics;
use netkpi::telemetry::remote_write::RemoteWriter;
use netkpi::{config, inventory};
use std::sync::Arc;

/// The process's metrics (when the endpoint or remote write is configured) and its remote-write
/// sink (when configured).
type Reporting = (Option<Arc<Metrics>>, Option<Arc<RemoteWriter>>);

/// The [`Reporting`] the configuration asks for.
pub(super) fn make_reporting(
    settings: &config::Settings,
    cells: &[inventory::Cell],
) -> Result<Reporting> {
    if settings.http_address.is_none() && settings.remote_write.is_none() {
        return Ok((None, None));
    }
    let metrics = Metrics::new(settings.exported_levels.clone())?;
    metrics.set_inventory(cells)?;
    metrics.set_rules(&settings.rules);
    let remote_write = match &settings.remote_write {
        Some((url, queue)) => {
            let levels = metrics.exported_levels().to_vec();
            let writer = RemoteWriter::start(url, *queue, levels, metrics.registry())?;
            tracing::info!(url = %url, "remote-writing closed windows");
            Some(Arc::new(writer))
        }
        None => None,
    };
    Ok((Some(Arc::new(metrics)), remote_write))
}

/// Sets up reporting and starts the metrics and health endpoint when configured. `required`: a
/// busy address is an error (run); otherwise a warning (the demo still runs).
pub(super) fn start_http(
    settings: &config::Settings,
    cells: &[inventory::Cell],
    control: &mut netkpi::pipeline::Control,
    required: bool,
) -> Result<()> {
    (control.metrics, control.remote_write) = make_reporting(settings, cells)?;
    let (Some(address), Some(metrics)) = (&settings.http_address, &control.metrics) else {
        return Ok(());
    };
    match netkpi::telemetry::http::serve(address, metrics.clone(), control.health.clone()) {
        Ok(bound) => {
            tracing::info!(address = %bound, "serving /metrics, /healthz, /readyz");
            Ok(())
        }
        Err(e) if !required => {
            tracing::warn!(error = %e, "metrics endpoint not started");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
