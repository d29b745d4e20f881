//! One test per KPI formula of docs/kpis.md.

use super::*;
use crate::model::{CallOutcome, CallRecord, DataSession, Technology};

const CTX: GroupContext = GroupContext {
    window_ms: 300_000,
    inventory_cells: 2,
};

fn call(outcome: CallOutcome, dropped: bool) -> CallRecord {
    CallRecord {
        call_id: "c".into(),
        event_time: 0,
        cell_id: "A".into(),
        outcome,
        setup_ms: None,
        duration_ms: None,
        dropped,
        mos: None,
        signal_dbm: None,
        sinr_db: None,
    }
}

fn session(active_ms: i64, dl_bytes: i64) -> DataSession {
    DataSession {
        session_id: "s".into(),
        event_time: 0,
        cell_id: "A".into(),
        plan: None,
        active_ms,
        dl_bytes,
        ul_bytes: dl_bytes / 2,
        rtt_ms: None,
        packets_sent: 0,
        packets_lost: 0,
        signal_dbm: None,
        sinr_db: None,
    }
}

fn value(acc: &Acc, k: Kpi) -> Option<f64> {
    k.value(acc, CTX).as_f64()
}

#[test]
fn empty_window_counts_are_zero_and_ratios_null() {
    let acc = Acc::default();
    for k in Kpi::ALL {
        let v = k.value(&acc, CTX);
        match k {
            Kpi::TrafficErlangs | Kpi::OutageSeconds => assert_eq!(v, KpiValue::Real(Some(0.0))),
            Kpi::AvailabilityRatio => assert_eq!(v, KpiValue::Real(Some(1.0))),
            _ => assert!(
                matches!(v, KpiValue::Count(0) | KpiValue::Real(None)),
                "{k:?} = {v:?}"
            ),
        }
    }
    let no_cells = GroupContext {
        inventory_cells: 0,
        ..CTX
    };
    assert_eq!(
        Kpi::AvailabilityRatio.value(&acc, no_cells),
        KpiValue::Real(None)
    );
}

#[test]
fn call_kpis() {
    let p = AggParams::default();
    let mut acc = Acc::default();
    let mut answered = call(CallOutcome::Answered, false);
    answered.duration_ms = Some(150_000);
    answered.mos = Some(2.5);
    answered.setup_ms = Some(800);
    acc.add_call(&answered, Technology::Lte, &p);
    let mut dropped = call(CallOutcome::Answered, true);
    dropped.duration_ms = Some(150_000);
    dropped.mos = Some(4.5);
    dropped.setup_ms = Some(1200);
    acc.add_call(&dropped, Technology::Lte, &p);
    let mut busy = call(CallOutcome::Busy, false);
    busy.duration_ms = Some(99_000); // ignored: not answered
    busy.setup_ms = Some(2000);
    acc.add_call(&busy, Technology::Lte, &p);
    acc.add_call(
        &call(CallOutcome::NetworkFailure, false),
        Technology::Lte,
        &p,
    );
    // `dropped` on a call that was not answered is not a drop.
    acc.add_call(&call(CallOutcome::NoAnswer, true), Technology::Lte, &p);

    assert_eq!(Kpi::CallAttempts.value(&acc, CTX), KpiValue::Count(5));
    assert_eq!(
        Kpi::CallNetworkFailures.value(&acc, CTX),
        KpiValue::Count(1)
    );
    assert_eq!(Kpi::CallAnswered.value(&acc, CTX), KpiValue::Count(2));
    assert_eq!(Kpi::CallDrops.value(&acc, CTX), KpiValue::Count(1));
    assert_eq!(value(&acc, Kpi::NetworkConnectionRatio), Some(0.8));
    assert_eq!(value(&acc, Kpi::CallAnswerRatio), Some(0.4));
    assert_eq!(value(&acc, Kpi::DroppedCallRatio), Some(0.5));
    assert_eq!(value(&acc, Kpi::CallSetupMsP50), Some(1200.0));
    assert_eq!(value(&acc, Kpi::CallSetupMsP95), Some(2000.0));
    assert_eq!(value(&acc, Kpi::MosMean), Some(3.5));
    assert_eq!(value(&acc, Kpi::PoorQualityCallRatio), Some(0.5));
    assert_eq!(value(&acc, Kpi::TrafficErlangs), Some(1.0));
    assert_eq!(Kpi::DroppedCallRatio.samples(&acc, CTX), 2);
    assert_eq!(Kpi::CallSetupMsP99.samples(&acc, CTX), 3);
    assert_eq!(Kpi::CallAttempts.samples(&acc, CTX), 5);
}

#[test]
fn session_kpis() {
    let mut p = AggParams::default();
    p.plans.insert("GOLD".into(), 10_000_000.0);
    let mut acc = Acc::default();
    // 2 s, 5 MB: 20 Mbit/s, compliant with GOLD.
    let mut a = session(2000, 5_000_000);
    a.plan = Some("GOLD".into());
    a.rtt_ms = Some(20.0);
    a.packets_sent = 100;
    a.packets_lost = 1;
    acc.add_session(&a, Technology::Nr, &p);
    // 500 ms: below min_active_ms, counts in IP throughput but not per-session KPIs.
    let mut b = session(500, 1_000_000);
    b.plan = Some("GOLD".into());
    b.rtt_ms = Some(40.0);
    b.packets_sent = 100;
    b.packets_lost = 3;
    acc.add_session(&b, Technology::Nr, &p);
    // No active time: bytes count in volumes only.
    acc.add_session(&session(0, 7), Technology::Nr, &p);
    // Unknown plan: not in speed compliance. 4 s, 1 MB = 2 Mbit/s.
    let mut d = session(4000, 1_000_000);
    d.plan = Some("MYSTERY".into());
    acc.add_session(&d, Technology::Nr, &p);

    assert_eq!(Kpi::Sessions.value(&acc, CTX), KpiValue::Count(4));
    assert_eq!(Kpi::DlBytes.value(&acc, CTX), KpiValue::Count(7_000_007));
    assert_eq!(
        value(&acc, Kpi::DlThroughputBps),
        Some(8.0 * 7_000_000.0 / 6.5)
    );
    assert_eq!(
        value(&acc, Kpi::UlThroughputBps),
        Some(8.0 * 3_500_000.0 / 6.5)
    );
    assert_eq!(Kpi::DlThroughputBps.samples(&acc, CTX), 3);
    assert_eq!(
        value(&acc, Kpi::SessionDlThroughputBpsP05),
        Some(2_000_000.0)
    );
    assert_eq!(
        value(&acc, Kpi::SessionDlThroughputBpsP95),
        Some(20_000_000.0)
    );
    assert_eq!(value(&acc, Kpi::SpeedComplianceRatio), Some(1.0));
    assert_eq!(Kpi::SpeedComplianceRatio.samples(&acc, CTX), 1);
    assert_eq!(value(&acc, Kpi::RttMsP50), Some(20.0));
    assert_eq!(value(&acc, Kpi::RttMsP99), Some(40.0));
    assert_eq!(value(&acc, Kpi::PacketLossRatio), Some(0.02));
    assert_eq!(Kpi::PacketLossRatio.samples(&acc, CTX), 200);
}

#[test]
fn coverage_uses_the_technology_thresholds() {
    let p = AggParams::default();
    let mut acc = Acc::default();
    let mut c = call(CallOutcome::Busy, false);
    for (tech, signal, sinr, covered) in [
        (Technology::Lte, -110, Some(-3.0), true),
        (Technology::Lte, -111, None, false),
        (Technology::Nr, -100, Some(-3.5), false),
        (Technology::Nr, -100, None, true),
        (Technology::Umts, -100, Some(-20.0), true),
        (Technology::Gsm, -95, None, false),
        (Technology::Unknown, -109, Some(0.0), true),
    ] {
        let before = acc.coverage_covered;
        c.signal_dbm = Some(signal);
        c.sinr_db = sinr;
        acc.add_call(&c, tech, &p);
        assert_eq!(
            acc.coverage_covered - before,
            u64::from(covered),
            "{tech:?} {signal} {sinr:?}"
        );
    }
    // A record without signal is not a coverage sample.
    c.signal_dbm = None;
    acc.add_call(&c, Technology::Lte, &p);
    assert_eq!(Kpi::CoverageSamples.value(&acc, CTX), KpiValue::Count(7));
    assert_eq!(value(&acc, Kpi::CoverageRatio), Some(4.0 / 7.0));
}

#[test]
fn outage_kpis() {
    let mut acc = Acc::default();
    acc.add_outage_started();
    acc.add_outage_restored(90_000);
    acc.add_outage_restored(30_500);
    acc.outage_ms = 150_000;
    assert_eq!(value(&acc, Kpi::OutageSeconds), Some(150.0));
    assert_eq!(value(&acc, Kpi::AvailabilityRatio), Some(0.75));
    assert_eq!(Kpi::OutagesStarted.value(&acc, CTX), KpiValue::Count(1));
    assert_eq!(Kpi::OutagesRestored.value(&acc, CTX), KpiValue::Count(2));
    assert_eq!(value(&acc, Kpi::MttrSeconds), Some(60.25));
    assert_eq!(Kpi::OutageSeconds.samples(&acc, CTX), 3);
    assert_eq!(Kpi::MttrSeconds.samples(&acc, CTX), 2);
    assert_eq!(Kpi::AvailabilityRatio.samples(&acc, CTX), 2);
}

#[test]
fn names_round_trip() {
    for k in Kpi::ALL {
        assert_eq!(Kpi::from_name(k.name()), Some(k));
    }
    assert_eq!(Kpi::ALL.len(), KPI_COUNT);
    assert!(Kpi::ALL.iter().enumerate().all(|(i, k)| *k as usize == i));
}

#[test]
fn counts_and_percentiles_are_named_once() {
    let counts: Vec<&str> = Kpi::ALL
        .iter()
        .filter(|k| k.is_count())
        .map(|k| k.name())
        .collect();
    assert_eq!(
        counts,
        [
            "call_attempts",
            "call_network_failures",
            "call_answered",
            "call_drops",
            "sessions",
            "dl_bytes",
            "ul_bytes",
            "coverage_samples",
            "outages_started",
            "outages_restored"
        ]
    );
    for k in Kpi::ALL {
        let (_, percentile, _) = crate::telemetry::series::prometheus_name(k);
        assert_eq!(k.is_percentile(), !percentile.is_empty(), "{}", k.name());
    }
}
