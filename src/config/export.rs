//! The `[http]` and `[prometheus]` sections: the address metrics and health are served on, the
//! levels exported as Prometheus gauges, and the remote-write target with its queue bound.

use super::raw::RawPrometheus;
use super::read::Problems;
use super::values::in_range;
use crate::model::level::Level;

/// `http.address`: host:port, or empty to serve nothing.
pub(super) fn validate_http_address(address: &str, p: &mut Problems) -> Option<String> {
    let address = Some(address.trim().to_string()).filter(|a| !a.is_empty());
    if let Some(a) = &address
        && a.parse::<std::net::SocketAddr>().is_err()
    {
        p.add(
            "http.address",
            format!("`{a}` is not host:port (e.g. 127.0.0.1:9898), or empty to disable"),
        );
    }
    address
}

/// `prometheus.levels`: configured levels only; every configured level when absent.
pub(super) fn validate_exported_levels(
    list: Option<&[String]>,
    levels: &[Level],
    p: &mut Problems,
) -> Vec<String> {
    let Some(list) = list else {
        return levels.iter().map(|l| l.name()).collect();
    };
    list.iter()
        .enumerate()
        .filter_map(|(i, text)| match Level::parse(text) {
            Ok(l) if levels.contains(&l) => Some(l.name()),
            Ok(l) => {
                p.add(
                    format!("prometheus.levels[{i}]"),
                    format!("`{}` is not a configured level (kpi.levels)", l.name()),
                );
                None
            }
            Err(e) => {
                p.add(format!("prometheus.levels[{i}]"), format!("`{text}`: {e}"));
                None
            }
        })
        .collect()
}

/// `prometheus.remote_write_url` (http or https) and its queue bound in records.
pub(super) fn validate_remote_write(
    raw: &RawPrometheus,
    p: &mut Problems,
) -> Option<(String, usize)> {
    let url = raw
        .remote_write_url
        .as_ref()
        .filter(|u| !u.trim().is_empty())?;
    let queue = raw.remote_write_queue.as_ref().map_or(Some(100_000), |q| {
        in_range(
            q.0,
            1..=10_000_000,
            "prometheus.remote_write_queue",
            "records",
            p,
        )
    });
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        p.add(
            "prometheus.remote_write_url",
            format!("`{url}` is not an http:// or https:// URL"),
        );
    }
    Some((
        url.clone(),
        queue.and_then(|q| usize::try_from(q).ok()).unwrap_or(1),
    ))
}
