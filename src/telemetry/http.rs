//! The HTTP endpoint of `run` and `demo`: `/metrics` (Prometheus text format), `/healthz`
//! (the process is up) and `/readyz` (partitions assigned and state restored). A small
//! synchronous server on its own thread: scrapes never touch the processing thread, which only
//! takes the metrics' locks briefly when a window closes.

use super::metrics::Metrics;
use std::sync::Arc;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}: {message}")]
pub struct HttpError {
    pub address: String,
    pub message: String,
}

/// The Prometheus text exposition as OpenMetrics: counter families are named without their
/// `_total` suffix in `# TYPE`/`# HELP` (their samples keep it), and the exposition ends with
/// `# EOF`. Everything else is the same in both formats for the metric types netkpi uses.
pub fn to_openmetrics(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut counters = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            counters.insert(name.to_string());
        }
    }
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        let renamed = ["# TYPE ", "# HELP "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            let base = name
                .strip_suffix("_total")
                .filter(|_| counters.contains(name))?;
            Some(format!("{prefix}{base} {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out.into_bytes()
}

/// Serves the endpoint on `address` until the process ends; returns the bound address.
pub fn serve(
    address: &str,
    metrics: Arc<Metrics>,
    health: super::health::Health,
) -> Result<String, HttpError> {
    let server = tiny_http::Server::http(address).map_err(|e| HttpError {
        address: address.to_string(),
        message: e.to_string(),
    })?;
    let bound = server
        .server_addr()
        .to_ip()
        .map_or_else(|| address.to_string(), |a| a.to_string());
    std::thread::Builder::new()
        .name("netkpi-http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or("").to_string();
                let (status, body, content_type) = match path.as_str() {
                    "/metrics" => (
                        200,
                        metrics.encode(),
                        "text/plain; version=0.0.4; charset=utf-8",
                    ),
                    "/healthz" => (200, b"ok\n".to_vec(), "text/plain"),
                    "/readyz" => {
                        let (ready, text) = health.status();
                        (
                            if ready { 200 } else { 503 },
                            text.into_bytes(),
                            "text/plain",
                        )
                    }
                    _ => (
                        404,
                        b"not found: /metrics, /healthz, /readyz\n".to_vec(),
                        "text/plain",
                    ),
                };
                let header =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes());
                let mut response = tiny_http::Response::from_data(body)
                    .with_status_code(status)
                    .with_chunked_threshold(usize::MAX);
                if let Ok(h) = header {
                    response = response.with_header(h);
                }
                let _ = request.respond(response);
            }
        })
        .map_err(|e| HttpError {
            address: address.to_string(),
            message: e.to_string(),
        })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::to_openmetrics;

    #[test]
    fn counters_lose_total_in_metadata_and_the_exposition_ends_with_eof() {
        let text = b"# HELP netkpi_x_total Things.\n# TYPE netkpi_x_total counter\nnetkpi_x_total{a=\"1\"} 3\n# HELP netkpi_g A gauge.\n# TYPE netkpi_g gauge\nnetkpi_g 1\n";
        let om = String::from_utf8(to_openmetrics(text)).unwrap();
        assert_eq!(
            om,
            "# HELP netkpi_x Things.\n# TYPE netkpi_x counter\nnetkpi_x_total{a=\"1\"} 3\n# HELP netkpi_g A gauge.\n# TYPE netkpi_g gauge\nnetkpi_g 1\n# EOF\n"
        );
    }
}
