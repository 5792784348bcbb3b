//! `dsm-model`: runs the stateright model checker over the real DSM code (see the library
//! docs) and prints the number of distinct states, the time, and each property's verdict.

#![forbid(unsafe_code)]

use dsm_model::{Bounds, DsmModel};
use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

// The checker clones and drops millions of small states a second; glibc malloc was a third
// of the profile. mimalloc (a C library, used by this tool only, never by the product)
// roughly halves that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "\
dsm-model: model-checks the real DSM session, acceptance, chain and wallet-store code.

USAGE:
    cargo run --release --manifest-path model/Cargo.toml -- [PRESET] [OPTIONS]

PRESETS:
    ci       the bounded configurations CI runs (default; about half a minute)
    large    every kind of fault at once (see README.md for its size and time)

OPTIONS (override the preset's bounds):
    --sessions N       sessions that may be opened in total
    --drops N          messages the network may drop
    --duplicates N     messages the network may duplicate
    --replays N        old messages the adversary may replay into other connections
    --crashes N        crash-restarts of honest devices
    --restores N       times the malicious device may restore an old copy of itself
    --forgeries N      counterfeit or re-spent offers the malicious device may make
    --offers N         online payments (through the b0x) that may be offered
    --sessions-per-device N  live sessions a device may hold at once (default 2)
    --honest-only      leave out the malicious device
    --threads N        checker threads (default: 2)
    --max-states N     stop after about N states (a smoke run; the verdict is partial)
    --minutes N        stop after N minutes (the verdict is partial if it stops early)
    -h, --help         this text

Exit status: 0 if no safety property was violated in any explored state and (for a
complete run) every reachability example was found; 1 on a violation (the path to it is
printed) or a missing example; 2 on bad arguments. A run stopped by --max-states or
--minutes says so: its verdicts cover the explored states only.
";

struct Progress {
    printed: Option<Duration>,
}

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, d: ReportData) {
        // Polled every second (so the run ends within a second of the work); printed
        // every ten.
        let due = self
            .printed
            .is_none_or(|t| d.duration >= t + Duration::from_secs(10));
        if !due && !d.done {
            return;
        }
        self.printed = Some(d.duration);
        eprintln!(
            "  {:>12} distinct states, {:>12} generated, depth {:>3}, {:>7.1} s{}",
            d.unique_states,
            d.total_states,
            d.max_depth,
            d.duration.as_secs_f64(),
            if d.done { " (done)" } else { "" }
        );
    }

    fn report_discoveries(&mut self, _: &M, _: BTreeMap<&'static str, ReportDiscovery<M>>)
    where
        M::Action: std::fmt::Debug + PartialEq,
        M::State: std::fmt::Debug + std::hash::Hash + PartialEq,
    {
    }

    fn delay(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// A command-line change to every configuration of the preset.
type Override = Box<dyn Fn(&mut Bounds)>;

struct Options {
    configs: Vec<Bounds>,
    threads: usize,
    limit: Limit,
}

/// Where a run may stop early.
#[derive(Clone, Copy)]
struct Limit {
    max_states: Option<usize>,
    time: Option<Duration>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut configs = Bounds::ci();
    let mut overrides: Vec<Override> = Vec::new();
    let mut threads = 2;
    let mut max_states = None;
    let mut time = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].clone();
        let mut value = |name: &str| -> Result<usize, String> {
            i += 1;
            args.get(i)
                .ok_or(format!("{name} needs a number"))?
                .parse::<usize>()
                .map_err(|_| format!("{name} needs a whole number, got {:?}", args[i]))
        };
        let small = |n: usize, name: &str| -> Result<u8, String> {
            u8::try_from(n)
                .ok()
                .filter(|&n| n <= 60)
                .ok_or(format!("{name} must be at most 60"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "ci" => configs = Bounds::ci(),
            "large" => configs = Bounds::large(),
            "--sessions" | "--drops" | "--duplicates" | "--replays" | "--crashes"
            | "--restores" | "--forgeries" | "--offers" => {
                let n = small(value(&a)?, &a)?;
                let field: fn(&mut Bounds) -> &mut u8 = match a.as_str() {
                    "--sessions" => |b| &mut b.sessions,
                    "--drops" => |b| &mut b.drops,
                    "--duplicates" => |b| &mut b.duplicates,
                    "--replays" => |b| &mut b.replays,
                    "--crashes" => |b| &mut b.crashes,
                    "--forgeries" => |b| &mut b.forgeries,
                    "--offers" => |b| &mut b.offers,
                    _ => |b| &mut b.restores,
                };
                overrides.push(Box::new(move |b| *field(b) = n));
            }
            "--sessions-per-device" => {
                let n = value(&a)?.clamp(1, 8);
                overrides.push(Box::new(move |b| b.sessions_per_device = n));
            }
            "--honest-only" => overrides.push(Box::new(|b| {
                b.malicious = false;
                b.restores = 0;
                b.forgeries = 0;
            })),
            "--threads" => threads = value(&a)?.max(1),
            "--max-states" => max_states = Some(value(&a)?.max(1)),
            "--minutes" => {
                let m = value(&a)?.clamp(1, 7 * 24 * 60) as u64;
                time = Some(Duration::from_secs(60 * m));
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
        i += 1;
    }
    for b in &mut configs {
        for o in &overrides {
            o(b);
        }
    }
    Ok(Some(Options {
        configs,
        threads,
        limit: Limit { max_states, time },
    }))
}

/// Checks one configuration; true if every property held.
fn check(bounds: Bounds, threads: usize, limit: Limit) -> bool {
    println!("bounds: {bounds:?}, threads: {threads}");
    let model = DsmModel::new(bounds);
    let props: Vec<(&'static str, Expectation)> = model
        .properties()
        .into_iter()
        .map(|p| (p.name, p.expectation))
        .collect();
    let started = Instant::now();
    let mut builder = model.checker().threads(threads);
    if let Some(n) = limit.max_states {
        builder = builder.target_state_count(n);
    }
    if let Some(t) = limit.time {
        builder = builder.timeout(t);
    }
    let mut progress = Progress { printed: None };
    let checker = builder.spawn_dfs().join_and_report(&mut progress);
    let elapsed = started.elapsed();
    let unique = checker.unique_state_count();
    let total = checker.state_count();
    let complete = limit.max_states.is_none_or(|n| total < n)
        && limit
            .time
            .is_none_or(|t| elapsed + Duration::from_secs(1) < t);
    println!(
        "explored {unique} distinct states ({total} generated, max depth {}) in {:.1} s: {:.0} distinct states/s{}",
        checker.max_depth(),
        elapsed.as_secs_f64(),
        unique as f64 / elapsed.as_secs_f64().max(1e-9),
        if complete {
            ", every reachable state"
        } else {
            " (partial: stopped at the limit)"
        }
    );
    let discoveries = checker.discoveries();
    let mut failed = false;
    for (name, expectation) in props {
        let found = discoveries.get(name);
        let verdict = match (&expectation, found) {
            (Expectation::Always | Expectation::Eventually, None) if complete => {
                "holds".to_string()
            }
            (Expectation::Always | Expectation::Eventually, None) => {
                "no violation in the explored states".to_string()
            }
            (Expectation::Always | Expectation::Eventually, Some(path)) => {
                failed = true;
                let mut trace = String::from("VIOLATED; the path to it:\n");
                for (state, action) in path.clone().into_vec() {
                    trace += &checker.model().describe(&state);
                    if let Some(a) = action {
                        trace += &format!("-> {a:?}\n");
                    }
                }
                trace
            }
            (Expectation::Sometimes, Some(path)) => {
                format!("reachable ({} steps)", path.clone().into_actions().len())
            }
            (Expectation::Sometimes, None) if complete => {
                failed = true;
                "NEVER REACHED".to_string()
            }
            (Expectation::Sometimes, None) => "not reached in this partial run".to_string(),
        };
        println!("  {name}: {verdict}");
    }
    !failed
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for bounds in options.configs {
        ok &= check(bounds, options.threads, options.limit);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
