//! The metrics registry and the `/metrics`, `/healthz`, `/readyz` endpoint a command starts.

use anyhow::Result;
use netkpi::{config, inventory};

/// The process's metrics, when the endpoint or remote write is configured.
pub(super) fn make_metrics(
    settings: &config::Settings,
    cells: &[inventory::Cell],
) -> Result<Option<std::sync::Arc<netkpi::telemetry::metrics::Metrics>>> {
    if settings.http_address.is_none() && settings.remote_write.is_none() {
        return Ok(None);
    }
    let metrics = netkpi::telemetry::metrics::Metrics::new(settings.exported_levels.clone())?;
    metrics.set_inventory(cells)?;
    metrics.set_rules(&settings.rules);
    if let Some((url, queue)) = &settings.remote_write {
        metrics.enable_remote_write(url, *queue)?;
        tracing::info!(url = %url, "remote-writing closed windows");
    }
    Ok(Some(std::sync::Arc::new(metrics)))
}

/// Sets up metrics and starts the metrics and health endpoint when configured. `required`: a busy
/// address is an error (run); otherwise a warning (the demo still runs).
pub(super) fn start_http(
    settings: &config::Settings,
    cells: &[inventory::Cell],
    control: &mut netkpi::pipeline::Control,
    required: bool,
) -> Result<()> {
    control.metrics = make_metrics(settings, cells)?;
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
