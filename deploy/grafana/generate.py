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


def at(p, x, y, w, h):
    p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
    return p


def coloured(p, steps):
    """Colours a stat panel's tiles by the shipped thresholds (a field override: the schema's
    thresholds mode is an enum that JSON cannot spell for the type check)."""
    p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                    "orientation": "auto", "justifyMode": "auto"}
    p["fieldConfig"]["overrides"] = [{
        "matcher": {"id": "byFrameRefID", "options": "A"},
        "properties": [{"id": "thresholds", "value": {"mode": "absolute", "steps": steps}},
                       {"id": "color", "value": {"mode": "thresholds"}}]}]
    return p


def instant_table(p, hidden, renames, value_unit=None):
    for t in p["targets"]:
        t["instant"] = True
        t["format"] = "table"
    p["transformations"] = [{"id": "organize", "options": {
        "excludeByName": {k: True for k in ["Time", "__name__", "job", "instance"] + hidden},
        "renameByName": renames}}]
    if value_unit:
        p["fieldConfig"]["overrides"] = [{"matcher": {"id": "byName", "options": "Value"},
                                          "properties": [{"id": "unit", "value": value_unit}]}]
    return p


RT = f'level="region,technology",{W}'
CW = f'level="cell",{W}'
noc_panels = [
    # The wall: one tile per region and technology, coloured by the shipped rules' thresholds.
    at(coloured(panel(1, "Status: network connection ratio (网络接通率), region × technology",
                      [f'netkpi_network_connection_ratio{{{RT}}}'], "percentunit", 0, 0, kind="stat",
                      legend="{{region}} {{technology}}"),
                [{"color": "red", "value": None}, {"color": "orange", "value": 0.95},
                 {"color": "green", "value": 0.96}]), 0, 0, 12, 8),
    at(coloured(panel(2, "Status: dropped-call ratio (掉话率), region × technology",
                      [f'netkpi_dropped_call_ratio{{{RT}}}'], "percentunit", 0, 0, kind="stat",
                      legend="{{region}} {{technology}}"),
                [{"color": "green", "value": None}, {"color": "orange", "value": 0.015},
                 {"color": "red", "value": 0.02}]), 12, 0, 12, 8),
    at(panel(3, "Alarms firing", ["count(netkpi_alarm) or vector(0)"], "short", 0, 0, kind="stat", legend="alarms"), 0, 8, 6, 4),
    at(panel(4, "Sleeping cells", ['count(netkpi_alarm{kind="sleeping_cell"}) or vector(0)'], "short", 0, 0, kind="stat",
             legend="sleeping cells"), 6, 8, 6, 4),
    at(panel(5, "Alarms explained by an open outage", ['count(netkpi_alarm{outages!=""}) or vector(0)'], "short", 0, 0,
             kind="stat", legend="with outage"), 12, 8, 6, 4),
    at(panel(6, "Cells out of service (availability below 50 %)", [f'count(netkpi_availability_ratio{{{CW}}} < 0.5) or vector(0)'],
             "short", 0, 0, kind="stat", legend="cells"), 18, 8, 6, 4),
    # Which cells and regions are in alarm, since when, and which outage explains it.
    at(instant_table(panel(7, "Active alarms (kind sleeping_cell: a sleeping cell; outages: the outage ids that explain it)",
                           ["netkpi_alarm_raised_timestamp_seconds * 1000"], "short", 0, 0, kind="table", legend=""),
                     [], {"Value": "raised at"}, "dateTimeAsIso"), 0, 12, 24, 10),
    at(instant_table(panel(8, "Worst cells now: network connection ratio", [f"bottomk(10, netkpi_network_connection_ratio{{{CW}}})"],
                           "percentunit", 0, 0, kind="table", legend=""), ["level", "window", "area"], {"Value": "ratio"}, "percentunit"),
       0, 22, 8, 9),
    at(instant_table(panel(9, "Worst cells now: dropped-call ratio", [f"topk(10, netkpi_dropped_call_ratio{{{CW}}})"],
                           "percentunit", 0, 0, kind="table", legend=""), ["level", "window", "area"], {"Value": "ratio"}, "percentunit"),
       8, 22, 8, 9),
    at(instant_table(panel(10, "Worst cells now: availability", [f"bottomk(10, netkpi_availability_ratio{{{CW}}})"],
                           "percentunit", 0, 0, kind="table", legend=""), ["level", "window", "area"], {"Value": "ratio"}, "percentunit"),
       16, 22, 8, 9),
    at(panel(11, "Network connection ratio (网络接通率) by region", [f'netkpi_network_connection_ratio{{level="region",{W}}}'],
             "percentunit", 0, 0), 0, 31, 12, 8),
    at(panel(12, "Dropped-call ratio (掉话率) by region", [f'netkpi_dropped_call_ratio{{level="region",{W}}}'], "percentunit", 0, 0),
       12, 31, 12, 8),
    at(panel(13, "Availability by region", [f'netkpi_availability_ratio{{level="region",{W}}}'], "percentunit", 0, 0), 0, 39, 12, 8),
    at(panel(14, "Breach events in the last hour, by rule and state",
             ['sum by (rule, state) (increase(netkpi_breach_events_total[1h]))'], "short", 0, 0, legend="{{rule}} {{state}}"),
       12, 39, 12, 8),
    at(panel(15, "Speed compliance by region", [f'netkpi_speed_compliance_ratio{{level="region",{W}}}'], "percentunit", 0, 0),
       0, 47, 12, 8),
    at(panel(16, "Coverage by region", [f'netkpi_coverage_ratio{{level="region",{W}}}'], "percentunit", 0, 0), 12, 47, 12, 8),
]
noc = dashboard("netkpi-noc", "netkpi — NOC overview", ["noc"], noc_panels,
                [var_datasource(), var_query("window", "Window", "label_values(netkpi_call_attempts, window)")],
                "What a NOC wall shows: region × technology status coloured by the shipped thresholds, the alarms "
                "firing now (sleeping cells and outage-explained alarms among them), the worst cells of the latest "
                "window, and the regions' trends.")

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

# The regulator's view over Prometheus' history (recording rules netkpi-compliance): each region's
# busy-hour value per day, daily availability, with the targets of the shipped target sets as
# lines. `netkpi report` is the filed figure; this dashboard is the running view of it.
def target_line(value, name):
    return (f"vector({value})", name)


compliance_specs = [
    ("Busy-hour network connection ratio (网络接通率) by region, per day",
     [f'last_over_time(region:netkpi_busy_hour_network_connection:ratio{{{W}}}[1d])'],
     [target_line(0.95, "target 95 % (TRAI CSSR)"), target_line(0.90, "target 90 % (MIIT 3G)")]),
    ("Busy-hour dropped-call ratio (掉话率) by region, per day",
     [f'last_over_time(region:netkpi_busy_hour_dropped_call:ratio{{{W}}}[1d])'],
     [target_line(0.02, "target 2 % (TRAI DCR)"), target_line(0.05, "target 5 % (MIIT 3G)")]),
    ("Availability by region, mean of the last day",
     [f'region:netkpi_availability:avg1d{{{W}}}'],
     [target_line(0.98, "target 98 % (TRAI cell downtime ≤ 2 %)")]),
    ("Busy-hour traffic by region (erlangs)", [f'region:netkpi_traffic_erlangs:max1d{{{W}}}'], []),
]
compliance_panels = []
for i, (title, exprs, targets) in enumerate(compliance_specs):
    unit = "short" if "erlangs" in title else "percentunit"
    p = panel(i + 1, title, exprs + [t for t, _ in targets], unit, x=(i % 2) * 12, y=(i // 2) * 9, h=9)
    for t, (_, name) in zip(p["targets"][len(exprs):], targets):
        t["legendFormat"] = name
    # One point per day: the value at the day's busy hour (or the day's mean).
    p["interval"] = "1d"
    compliance_panels.append(p)
compliance = dashboard("netkpi-compliance", "netkpi — compliance", ["compliance"], compliance_panels,
                       [var_datasource(), var_query("window", "Window", "label_values(region:netkpi_traffic_erlangs:sum, window)")],
                       "Regulatory targets per region per day: busy-hour connection and dropped-call ratios and "
                       "availability against the TRAI and MIIT figures. The filed report is `netkpi report`.")
compliance["time"] = {"from": "now-30d", "to": "now"}

here = os.path.dirname(os.path.abspath(__file__))
for name, d in [("noc-overview", noc), ("cell-drilldown", cell), ("capacity-planning", capacity), ("netkpi-health", health),
                ("compliance", compliance)]:
    with open(os.path.join(here, "dashboards", f"{name}.json"), "w") as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write("\n")
