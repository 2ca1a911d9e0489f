//! One technique's plan from its sweep steps: the steps used, the costs fitted and scaled
//! ([`super::costs`]), the notes and extrapolation ([`super::limits`]), put together.

use super::model::{PlanError, Step, Target, TechniquePlan};
use super::{costs, limits};
use crate::technique::Technique;

/// Plans one technique from its sweep steps.
pub fn plan_technique(steps: &[Step], target: &Target) -> Result<TechniquePlan, PlanError> {
    let technique = steps
        .first()
        .map(|s| s.technique)
        .ok_or(PlanError::NoSteps)?;
    let knee_clients = steps.iter().filter(|s| s.slo_met).map(|s| s.clients).max();
    let met: Vec<&Step> = steps.iter().filter(|s| s.slo_met).collect();
    let used: Vec<&Step> = if met.len() >= 2 {
        met
    } else {
        steps.iter().collect()
    };
    let poll = technique == Technique::Poll;
    let fits = costs::fit(technique, &used)?;
    let mut notes = Vec::new();
    let size = costs::size(&fits, target, knee_clients, poll, &mut notes);
    let knee_is_lower_bound = knee_clients.is_some() && steps.iter().all(|s| s.slo_met);
    limits::note_fits(&fits, &used, knee_is_lower_bound, &mut notes);
    let extrapolated = limits::extrapolated(&used, &fits, target, &size, poll, &mut notes);
    let measured_clients = used.iter().fold((u64::MAX, 0), |(a, b), s| {
        (a.min(s.clients), b.max(s.clients))
    });
    let carried_down = size.msgs_per_s * target.payload_bytes as f64;
    let framing_x = if poll {
        size.requests_per_s
    } else {
        size.msgs_per_s
    };
    Ok(TechniquePlan {
        technique,
        knee_clients,
        memory_per_connection_bytes: fits.memory.slope,
        cpu_core_s_per_unit: fits.cpu.slope,
        cpu_unit: if poll { "request" } else { "message" },
        requests_per_s: size.requests_per_s,
        bandwidth_down_bytes_per_s: carried_down + framing_x * fits.bytes_down.slope.max(0.0),
        bandwidth_up_bytes_per_s: framing_x * fits.bytes_up.slope.max(0.0),
        cores: size.cpu_variable + size.base_cpu * size.machines,
        memory_bytes: size.mem_variable + size.base_mem * size.machines,
        machines: size.by_knee.map(|_| size.machines as u64),
        machines_limited_by: size.limited_by,
        knee_is_lower_bound,
        extrapolated,
        notes,
        memory_fit: fits.memory,
        cpu_fit: fits.cpu,
        requests_fit: fits.requests,
        bytes_down_fit: fits.bytes_down,
        bytes_up_fit: fits.bytes_up,
        steps_used: used.len(),
        measured_clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic SSE steps with known costs: 10 KiB per connection + 30 MB base, 20 µs of CPU
    /// per message, 60 bytes of framing per message, 1 message/s per client.
    fn steps() -> Vec<Step> {
        [1000u64, 2000, 4000, 8000]
            .iter()
            .map(|&c| Step {
                technique: Technique::Sse,
                clients: c,
                duration_s: 10.0,
                rate: 1.0,
                payload_bytes: 256,
                delivered: c * 10,
                requests: c,
                bytes_up: c * 150,
                bytes_down: c * 10 * (256 + 60),
                server_cpu_s: 0.05 * 10.0 + 20e-6 * (c * 10) as f64,
                server_rss_bytes: 30_000_000 + 10_240 * c,
                slo_met: c <= 4000,
            })
            .collect()
    }

    #[test]
    fn recovers_known_costs_and_scales() {
        let target = Target {
            clients: 1_000_000,
            rate: 1.0,
            payload_bytes: 512,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&steps(), &target).unwrap();
        assert_eq!(p.knee_clients, Some(4000));
        assert_eq!(p.steps_used, 3);
        assert!((p.memory_per_connection_bytes - 10_240.0).abs() < 1e-6);
        assert!((p.cpu_core_s_per_unit - 20e-6).abs() < 1e-12);
        // 1M msgs/s × (60 B framing + 512 B payload)
        assert!((p.bandwidth_down_bytes_per_s - 1e6 * 572.0).abs() < 1.0);
        // 1M clients / 4000 per machine
        assert_eq!(p.machines, Some(250));
        assert_eq!(p.machines_limited_by, "knee");
        assert!(!p.knee_is_lower_bound);
        // 4000 clients per machine lies inside the measured 1000..4000: only the payload
        // (512 B, measured at 256 B) is outside, which touches the bandwidth alone.
        assert_eq!(p.extrapolated, vec!["bandwidth"]);
        assert!((p.cores - (20.0 + 0.05 * 250.0)).abs() < 1e-6);
        assert!((p.memory_bytes - (10_240.0 * 1e6 + 30e6 * 250.0)).abs() < 1.0);
    }

    #[test]
    fn memory_can_limit_and_small_machines_extrapolate() {
        // 1M × 10 KiB = 10.24 GB of connections. On 100 MB machines that is 147 machines,
        // fewer than the knee's 250: the knee still decides.
        let target = Target {
            clients: 1_000_000,
            rate: 1.0,
            payload_bytes: 256,
            machine_cores: 64.0,
            machine_memory_bytes: 100e6,
        };
        let p = plan_technique(&steps(), &target).unwrap();
        // (100 MB - 30 MB base) / 10 KiB = 6835 clients per machine → 147 machines < 250.
        assert_eq!(p.machines_limited_by, "knee");
        let target = Target {
            machine_memory_bytes: 50e6,
            ..target
        };
        let p = plan_technique(&steps(), &target).unwrap();
        // 10.24 GB / (50 MB - 30 MB base) = 512 machines of 1953 clients each (inside the
        // measured 1000..4000, so nothing is extrapolated).
        assert_eq!(p.machines, Some(512));
        assert_eq!(p.machines_limited_by, "memory");
        assert!(p.extrapolated.is_empty(), "{:?}", p.extrapolated);
    }

    #[test]
    fn no_knee_means_no_machine_count() {
        let mut s = steps();
        for st in &mut s {
            st.slo_met = false;
        }
        let target = Target {
            clients: 1_000_000,
            rate: 2.0,
            payload_bytes: 256,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&s, &target).unwrap();
        assert_eq!(p.knee_clients, None);
        assert_eq!(p.machines, None);
        assert_eq!(p.machines_limited_by, "unknown");
        assert!(p.extrapolated.contains(&"machines"));
        assert!(
            p.extrapolated.contains(&"requests"),
            "rate 2 was not measured"
        );
        assert!(!p.notes.is_empty());
    }

    #[test]
    fn short_poll_pays_framing_per_request() {
        // 1 poll/s per client, a message every other poll: 200 B of headers per poll down,
        // 100 B up, 5 µs of CPU per request.
        let s: Vec<Step> = [1000u64, 2000, 4000]
            .iter()
            .map(|&c| Step {
                technique: Technique::Poll,
                clients: c,
                duration_s: 10.0,
                rate: 0.5,
                payload_bytes: 256,
                delivered: c * 5,
                requests: c * 10,
                bytes_up: c * 10 * 100,
                bytes_down: c * 10 * 200 + c * 5 * 256,
                server_cpu_s: 5e-6 * (c * 10) as f64,
                server_rss_bytes: 10_000_000 + 8_000 * c,
                slo_met: true,
            })
            .collect();
        let target = Target {
            clients: 100_000,
            rate: 0.5,
            payload_bytes: 256,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&s, &target).unwrap();
        assert_eq!(p.cpu_unit, "request");
        assert!((p.requests_per_s - 100_000.0).abs() < 1e-6);
        assert!((p.bandwidth_up_bytes_per_s - 100_000.0 * 100.0).abs() < 1e-3);
        assert!(
            (p.bandwidth_down_bytes_per_s - (100_000.0 * 200.0 + 50_000.0 * 256.0)).abs() < 1e-3
        );
        assert!((p.cpu_core_s_per_unit - 5e-6).abs() < 1e-12);
        assert!(p.knee_is_lower_bound);
        assert_eq!(p.machines, Some(25));
    }
}
