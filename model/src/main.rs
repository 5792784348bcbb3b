//! `dsm-model`: runs the stateright model checker over the real DSM code (see the library
//! docs) and prints the number of distinct states, the time, and each property's verdict.

#![forbid(unsafe_code)]

use dsm_model::{Bounds, DsmModel};
use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const HELP: &str = "\
dsm-model: model-checks the real DSM session, acceptance, chain and wallet-store code.

USAGE:
    cargo run --release --manifest-path model/Cargo.toml -- [PRESET] [OPTIONS]

PRESETS:
    ci       the bounded configuration CI runs (default)
    large    the large configuration (about an hour on 2 cores)

OPTIONS (override the preset's bounds):
    --sessions N       sessions that may be opened in total
    --drops N          messages the network may drop
    --duplicates N     messages the network may duplicate
    --replays N        old messages the adversary may replay into other connections
    --crashes N        crash-restarts of honest devices
    --restores N       times the malicious device may restore an old copy of itself
    --honest-only      leave out the malicious device
    --threads N        checker threads (default: 2)
    --max-states N     stop after about N states (a smoke run; the verdict is partial)
    -h, --help         this text

Exit status: 0 if every safety property held in every explored state and every
reachability example was found, 1 on a violation (the path to it is printed), 2 on bad
arguments.
";

struct Progress {
    last: Option<(usize, usize, usize, Duration)>,
}

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, d: ReportData) {
        eprintln!(
            "  {:>12} distinct states, {:>12} generated, depth {:>3}, {:>7.1} s{}",
            d.unique_states,
            d.total_states,
            d.max_depth,
            d.duration.as_secs_f64(),
            if d.done { " (done)" } else { "" }
        );
        self.last = Some((d.unique_states, d.total_states, d.max_depth, d.duration));
    }

    fn report_discoveries(&mut self, _: &M, _: BTreeMap<&'static str, ReportDiscovery<M>>)
    where
        M::Action: std::fmt::Debug + PartialEq,
        M::State: std::fmt::Debug + std::hash::Hash + PartialEq,
    {
    }

    fn delay(&self) -> Duration {
        Duration::from_secs(10)
    }
}

fn parse(args: &[String]) -> Result<Option<(Bounds, usize, Option<usize>)>, String> {
    let mut bounds = Bounds::ci();
    let mut threads = 2;
    let mut max_states = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
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
        match a {
            "-h" | "--help" => return Ok(None),
            "ci" => bounds = Bounds::ci(),
            "large" => bounds = Bounds::large(),
            "--sessions" => bounds.sessions = small(value(a)?, a)?,
            "--drops" => bounds.drops = small(value(a)?, a)?,
            "--duplicates" => bounds.duplicates = small(value(a)?, a)?,
            "--replays" => bounds.replays = small(value(a)?, a)?,
            "--crashes" => bounds.crashes = small(value(a)?, a)?,
            "--restores" => bounds.restores = small(value(a)?, a)?,
            "--honest-only" => {
                bounds.malicious = false;
                bounds.restores = 0;
            }
            "--threads" => threads = value(a)?.max(1),
            "--max-states" => max_states = Some(value(a)?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
        i += 1;
    }
    Ok(Some((bounds, threads, max_states)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bounds, threads, max_states) = match parse(&args) {
        Ok(Some(p)) => p,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("bounds: {bounds:?}, threads: {threads}");
    let model = DsmModel::new(bounds);
    let props: Vec<(&'static str, Expectation)> = model
        .properties()
        .into_iter()
        .map(|p| (p.name, p.expectation))
        .collect();
    let started = Instant::now();
    let mut builder = model.checker().threads(threads);
    if let Some(n) = max_states {
        builder = builder.target_state_count(n);
    }
    let mut progress = Progress { last: None };
    let checker = builder.spawn_dfs().join_and_report(&mut progress);
    let elapsed = started.elapsed();
    let unique = checker.unique_state_count();
    let total = checker.state_count();
    let complete = checker.is_done() && max_states.is_none_or(|n| total < n);
    println!(
        "explored {unique} distinct states ({total} generated, max depth {}) in {:.1} s: {:.0} distinct states/s{}",
        checker.max_depth(),
        elapsed.as_secs_f64(),
        unique as f64 / elapsed.as_secs_f64().max(1e-9),
        if complete { "" } else { " (partial: stopped at --max-states)" }
    );
    let discoveries = checker.discoveries();
    let mut failed = false;
    for (name, expectation) in props {
        let found = discoveries.get(name);
        let verdict = match (&expectation, found) {
            (Expectation::Always | Expectation::Eventually, None) => "holds".to_string(),
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
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
