//! CPU time spent by the processes of the stack during a benchmark phase,
//! read from `/proc` (Linux): PostgreSQL (every `postgres` process, the
//! pool's backends included), RabbitMQ (`beam.smp`), the services, and
//! this process (the event writes or requests, and the receiver).
//!
//! Read by hand rather than with the `procfs` crate: two fields of one
//! file, for a benchmark tool, do not warrant its dependency tree.

use std::collections::BTreeMap;

use argus_store::Store;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`USER_HZ`, 100 on
/// every Linux architecture the project builds for).
const TICKS_PER_SECOND: f64 = 100.0;

/// The processes whose CPU time is counted, by their `comm` name
/// (the kernel keeps 15 bytes of it).
const COUNTED: [(&str, &str); 4] = [
    ("postgres", "postgres"),
    ("rabbitmq", "beam.smp"),
    ("delivery_worker", "delivery-worker"),
    ("api_service", "api-service"),
];

/// CPU ticks (user + system) per counted group, at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample(BTreeMap<&'static str, u64>);

impl CpuSample {
    pub(crate) fn now() -> Self {
        let mut ticks = BTreeMap::new();
        for (group, _) in COUNTED {
            ticks.insert(group, 0);
        }
        ticks.insert("bench_ingest_and_receiver", process_ticks("self").unwrap_or(0));
        let Ok(entries) = std::fs::read_dir("/proc") else { return Self(ticks) };
        for entry in entries.flatten() {
            let pid = entry.file_name();
            let Some(pid) = pid.to_str().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) else { continue };
            let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else { continue };
            if let Some((group, _)) = COUNTED.iter().find(|(_, name)| *name == comm.trim_end()) {
                *ticks.entry(group).or_default() += process_ticks(pid).unwrap_or(0);
            }
        }
        Self(ticks)
    }

    /// CPU milliseconds per event of each group since `earlier`.
    pub(crate) fn ms_per_event_since(&self, earlier: &Self, events: usize) -> serde_json::Value {
        let per_event = |ticks: u64| crate::round(ticks as f64 / TICKS_PER_SECOND * 1000.0 / events.max(1) as f64);
        let mut groups = serde_json::Map::new();
        for (group, now) in &self.0 {
            let before = earlier.0.get(group).copied().unwrap_or(0);
            groups.insert((*group).to_owned(), per_event(now.saturating_sub(before)).into());
        }
        serde_json::Value::Object(groups)
    }
}

/// PostgreSQL's CPU time and context switches per process at one moment,
/// each process named by whom it serves ([`Store::server_processes`]: the
/// service whose pool opened the session, the outbox relay's LISTEN
/// session, `walwriter`, …): the profile that splits the server's work per
/// event between the writers, the worker and the server's own processes.
/// A process that exits between two samples (an autovacuum worker, a closed
/// connection) is not counted; the `postgres` group above is the total.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostgresSample(BTreeMap<u32, (String, u64, u64)>);

impl PostgresSample {
    pub(crate) async fn now(store: &Store) -> Self {
        let Ok(processes) = store.server_processes().await else { return Self::default() };
        let mut sample = BTreeMap::new();
        for process in processes {
            let Ok(pid) = u32::try_from(process.pid) else { continue };
            let ticks = process_ticks(&pid.to_string());
            let switches = context_switches(pid);
            if let (Some(ticks), Some(switches)) = (ticks, switches) {
                sample.insert(pid, (process.serves, ticks, switches));
            }
        }
        Self(sample)
    }

    /// Per event since `earlier`, by whom the processes serve: CPU
    /// milliseconds and context switches (a process sleeping and waking,
    /// which on a virtual machine costs about as much as a short statement).
    pub(crate) fn per_event_since(&self, earlier: &Self, events: usize) -> serde_json::Value {
        let mut groups: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (pid, (serves, ticks, switches)) in &self.0 {
            let (ticks_before, switches_before) = match earlier.0.get(pid) {
                Some((_, t, s)) => (*t, *s),
                None => (0, 0),
            };
            let group = groups.entry(serves.as_str()).or_default();
            group.0 += ticks.saturating_sub(ticks_before);
            group.1 += switches.saturating_sub(switches_before);
        }
        let events = events.max(1) as f64;
        let mut out = serde_json::Map::new();
        for (serves, (ticks, switches)) in groups.into_iter().filter(|(_, (t, s))| *t > 0 || *s > 0) {
            out.insert(
                serves.to_owned(),
                serde_json::json!({
                    "cpu_ms": thousandths(ticks as f64 / TICKS_PER_SECOND * 1000.0 / events),
                    "context_switches": thousandths(switches as f64 / events),
                }),
            );
        }
        serde_json::Value::Object(out)
    }
}

/// A share of a millisecond per event needs more than one decimal.
fn thousandths(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Voluntary plus involuntary context switches of `/proc/<pid>/status`.
fn context_switches(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut total = 0;
    for line in status.lines().filter(|l| l.contains("ctxt_switches:")) {
        total += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// User plus system ticks of `/proc/<pid>/stat` (fields 14 and 15, counted
/// after the parenthesised command name, which may hold spaces).
fn process_ticks(pid: &str) -> Option<u64> {
    ticks_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn ticks_of(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 1 0 99 0 0";
        assert_eq!(ticks_of(stat), Some(320));
        assert_eq!(ticks_of("4242 (cut"), None);
        assert_eq!(ticks_of("4242 (x) S 1 2"), None);
        assert_eq!(ticks_of(""), None);
    }

    #[tokio::test]
    async fn postgres_processes_are_named_after_whom_they_serve() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        let store =
            Store::connect(&argus_store::StoreConfig { database_url: url.to_owned(), max_connections: 1 }).unwrap();
        let before = PostgresSample::now(&store).await;
        let program = std::env::current_exe().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let names: Vec<&str> = before.0.values().map(|(serves, _, _)| serves.as_str()).collect();
        assert!(names.contains(&program.as_str()), "{names:?}");
        assert!(names.contains(&"checkpointer"), "{names:?}");
        // The session's own work shows under this program's name.
        for _ in 0..200 {
            store.ping().await.unwrap();
        }
        let report = PostgresSample::now(&store).await.per_event_since(&before, 1);
        assert!(report[program.as_str()]["context_switches"].as_f64().unwrap() > 0.0, "{report}");
    }

    #[test]
    fn this_process_has_cpu_time_and_groups_are_all_reported() {
        let busy = std::time::Instant::now();
        while busy.elapsed() < std::time::Duration::from_millis(50) {
            std::hint::black_box(busy.elapsed());
        }
        let sample = CpuSample::now();
        assert!(sample.0["bench_ingest_and_receiver"] > 0);
        let report = sample.ms_per_event_since(&CpuSample::default(), 1);
        for group in ["postgres", "rabbitmq", "delivery_worker", "api_service", "bench_ingest_and_receiver"] {
            assert!(report[group].is_number(), "{report}");
        }
    }
}
