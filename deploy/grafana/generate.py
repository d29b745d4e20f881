#!/usr/bin/env python3
"""Writes the netkpi Grafana dashboards (dashboards/*.json) from one description.

Run after changing a panel: python3 deploy/grafana/generate.py
The test suite type-checks every dashboard against @grafana/schema's Dashboard type and runs
every panel query against a Prometheus that scraped a real netkpi run.
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}


def var_datasource():
    return {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "hide": 0, "refresh": 1, "options": [], "includeAll": False, "multi": False}


def var_query(name, label, query, refresh=2):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"},
            "hide": 0, "refresh": refresh, "options": [], "includeAll": False, "multi": False, "sort": 1}


def panel(pid, title, exprs, unit, x, y, w=12, h=8, kind="timeseries", legend="{{region}}"):
    targets = [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": legend}
               for i, e in enumerate(exprs)]
    p = {"id": pid, "type": kind, "title": title, "datasource": DS, "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "targets": targets, "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}
    return p


def dashboard(uid, title, tags, panels, variables, description):
    return {"uid": uid, "title": title, "description": description, "tags": ["netkpi"] + tags, "timezone": "utc",
            "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
            "time": {"from": "now-24h", "to": "now"}, "refresh": "1m",
            "templating": {"list": variables}, "annotations": {"list": []}, "links": [], "panels": panels}


def grid(specs):
    """Lays panels out two per row."""
    out = []
    for i, spec in enumerate(specs):
        out.append(panel(i + 1, *spec, x=(i % 2) * 12, y=(i // 2) * 8))
    return out


W = 'window="$window"'
noc = dashboard("netkpi-noc", "netkpi — NOC overview", ["noc"], grid([
    ("Network connection ratio (网络接通率) by region", [f'netkpi_network_connection_ratio{{level="region",{W}}}'], "percentunit"),
    ("Dropped-call ratio (掉话率) by region", [f'netkpi_dropped_call_ratio{{level="region",{W}}}'], "percentunit"),
    ("Availability by region", [f'netkpi_availability_ratio{{level="region",{W}}}'], "percentunit"),
    ("Speed compliance by region", [f'netkpi_speed_compliance_ratio{{level="region",{W}}}'], "percentunit"),
    ("Connection ratio, region × technology", [f'netkpi_network_connection_ratio{{level="region,technology",{W}}}'], "percentunit"),
    ("Coverage by region", [f'netkpi_coverage_ratio{{level="region",{W}}}'], "percentunit"),
    ("Active breaches: alarms raised and not cleared, by rule", ['netkpi_alarms_firing'], "short"),
    ("Breach events in the last hour, by rule and state", ['sum by (rule, state) (increase(netkpi_breach_events_total[1h]))'], "short"),
    ("Cells out of service (availability below 50 %)", [f'count(netkpi_availability_ratio{{level="cell",{W}}} < 0.5) or vector(0)'], "short"),
]), [var_datasource(), var_query("window", "Window", "label_values(netkpi_call_attempts, window)")],
    "Region and technology status of the service-quality KPIs, and alarms raised by netkpi's threshold engine.")
for p in noc["panels"]:
    if "technology" in p["title"]:
        for t in p["targets"]:
            t["legendFormat"] = "{{region}} {{technology}}"
    if "rule" in p["title"] and "Active" in p["title"]:
        for t in p["targets"]:
            t["legendFormat"] = "{{rule}}"
    elif "rule" in p["title"]:
        for t in p["targets"]:
            t["legendFormat"] = "{{rule}} {{state}}"
    if "out of service" in p["title"]:
        p["type"] = "stat"

CELL = 'level="cell",cell="$cell",window="$window"'
cell = dashboard("netkpi-cell", "netkpi — cell drill-down", ["cell"], grid([
    ("Call attempts, failures, drops", [f"netkpi_call_attempts{{{CELL}}}", f"netkpi_call_network_failures{{{CELL}}}", f"netkpi_call_drops{{{CELL}}}"], "short"),
    ("Connection, answer and dropped-call ratios", [f"netkpi_network_connection_ratio{{{CELL}}}", f"netkpi_call_answer_ratio{{{CELL}}}", f"netkpi_dropped_call_ratio{{{CELL}}}"], "percentunit"),
    ("Call setup time percentiles", [f"netkpi_call_setup_seconds{{{CELL}}}"], "s"),
    ("MOS and poor-quality calls", [f"netkpi_mos_mean{{{CELL}}}", f"netkpi_poor_quality_call_ratio{{{CELL}}}"], "short"),
    ("Traffic (erlangs)", [f"netkpi_traffic_erlangs{{{CELL}}}"], "short"),
    ("Sessions and volume", [f"netkpi_sessions{{{CELL}}}", f"netkpi_dl_bytes{{{CELL}}}", f"netkpi_ul_bytes{{{CELL}}}"], "short"),
    ("IP throughput (bit/s)", [f"netkpi_dl_throughput_bytes_per_second{{{CELL}}} * 8", f"netkpi_ul_throughput_bytes_per_second{{{CELL}}} * 8"], "bps"),
    ("Per-session DL throughput percentiles (bit/s)", [f"netkpi_session_dl_throughput_bytes_per_second{{{CELL}}} * 8"], "bps"),
    ("Speed compliance and packet loss", [f"netkpi_speed_compliance_ratio{{{CELL}}}", f"netkpi_packet_loss_ratio{{{CELL}}}"], "percentunit"),
    ("Latency percentiles (RTT)", [f"netkpi_rtt_seconds{{{CELL}}}"], "s"),
    ("Coverage", [f"netkpi_coverage_ratio{{{CELL}}}", f"netkpi_coverage_samples{{{CELL}}}"], "short"),
    ("Availability and outage time", [f"netkpi_availability_ratio{{{CELL}}}", f"netkpi_outage_seconds{{{CELL}}}"], "short"),
    ("Outages started, restored, MTTR", [f"netkpi_outages_started{{{CELL}}}", f"netkpi_outages_restored{{{CELL}}}", f"netkpi_mttr_seconds{{{CELL}}}"], "short"),
]), [var_datasource(), var_query("window", "Window", "label_values(netkpi_call_attempts, window)"),
     var_query("region", "Region", "label_values(netkpi_cell_info, region)"),
     var_query("cell", "Cell", 'label_values(netkpi_cell_info{region="$region"}, cell)')],
    "Every KPI of one cell over time. Needs the cell level exported ([prometheus] levels).")
for p in cell["panels"]:
    for t in p["targets"]:
        t["legendFormat"] = "{{__name__}} {{percentile}}"

capacity = dashboard("netkpi-capacity", "netkpi — capacity planning", ["capacity"], grid([
    ("Traffic by region (erlangs)", [f'netkpi_traffic_erlangs{{level="region",{W}}}'], "short"),
    ("Busiest window of the day by region (erlangs)", [f'max by (region) (max_over_time(netkpi_traffic_erlangs{{level="region",{W}}}[1d]))'], "short"),
    ("DL volume per window by region", [f'netkpi_dl_bytes{{level="region",{W}}}'], "bytes"),
    ("IP throughput by region (bit/s, sum over sum)", [f'sum by (region) (netkpi_active_dl_bytes{{level="region,technology",{W}}}) * 8 / sum by (region) (netkpi_active_seconds{{level="region,technology",{W}}})'], "bps"),
    ("Median session DL throughput by technology (bit/s)", [f'netkpi_session_dl_throughput_bytes_per_second{{level="region,technology",percentile="50",{W}}} * 8'], "bps"),
    ("Sessions per window by region", [f'netkpi_sessions{{level="region",{W}}}'], "short"),
]), [var_datasource(), var_query("window", "Window", "label_values(netkpi_call_attempts, window)")],
    "Traffic, volume and throughput trends, and the busiest periods, for capacity planners.")
for p in capacity["panels"]:
    if "technology" in p["title"]:
        for t in p["targets"]:
            t["legendFormat"] = "{{region}} {{technology}}"

health = dashboard("netkpi-health", "netkpi — processor health", ["health"], grid([
    ("Records consumed per second, by topic", ["sum by (topic) (rate(netkpi_records_consumed_total[1m]))"], "rps"),
    ("Dead letters per second, by reason", ["sum by (reason) (rate(netkpi_dead_letters_total[1m]))"], "rps"),
    ("Consumer lag (records)", ["sum by (topic) (netkpi_consumer_lag_records)"], "short"),
    ("Watermark delay behind the clock", ["netkpi_watermark_delay_seconds"], "s"),
    ("Window close → outputs committed, p50 / p99", ["histogram_quantile(0.5, sum by (le) (rate(netkpi_window_commit_seconds_bucket[5m])))", "histogram_quantile(0.99, sum by (le) (rate(netkpi_window_commit_seconds_bucket[5m])))"], "s"),
    ("Transactions per second", ["sum by (outcome) (rate(netkpi_transactions_total[1m]))"], "ops"),
    ("Open windows", ["netkpi_open_windows"], "short"),
    ("Remote-write samples per second, by outcome", ["sum by (outcome) (rate(netkpi_remote_write_samples_total[1m]))"], "rps"),
]), [var_datasource()], "netkpi's own health: throughput, dead letters, lag, watermark, commit latency.")
for p in health["panels"]:
    for t in p["targets"]:
        t["legendFormat"] = "{{topic}}{{reason}}{{outcome}}"

here = os.path.dirname(os.path.abspath(__file__))
for name, d in [("noc-overview", noc), ("cell-drilldown", cell), ("capacity-planning", capacity), ("netkpi-health", health)]:
    with open(os.path.join(here, "dashboards", f"{name}.json"), "w") as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write("\n")
