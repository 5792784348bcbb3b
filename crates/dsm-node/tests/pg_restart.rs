//! The PostgreSQL backend recovers by itself when the database restarts under load: a
//! private PostgreSQL cluster (Debian's binaries, as `.ci/run` installs them) is started on
//! a free loopback port, written to from several threads, restarted, and the same store —
//! never reopened — serves reads of what was written before and takes new writes after.
//! Skipped where PostgreSQL is not installed, unless `DSM_REQUIRE_POSTGRES` is set.

use dsm_node::pg::PostgresStore;
use dsm_node::store::{NodeStore, PutObject, Quotas};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A throwaway PostgreSQL cluster, stopped and removed on drop.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .max()?;
        let dir = tempfile::Builder::new()
            .prefix("dsm-pg-restart")
            .tempdir()
            .ok()?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_postgres {
            // initdb refuses to run as root.
            assert!(Command::new("chown")
                .args(["postgres:", dir.path().to_str()?])
                .status()
                .ok()?
                .success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let c = Cluster {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = c.data();
        assert!(c
            .run(
                "initdb",
                &["-D", &data, "-A", "trust", "-U", "dsm", "-E", "UTF8"]
            )
            .success());
        assert!(c.pg_ctl("start").success(), "{}", c.log());
        Some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::ExitStatus {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run a PostgreSQL tool")
    }

    fn pg_ctl(&self, what: &str) -> std::process::ExitStatus {
        let (data, log) = (
            self.data(),
            self.dir.path().join("server.log").display().to_string(),
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-m", "fast"];
        if what != "stop" {
            args.extend(["-o", &opts]);
        }
        args.push(what);
        self.run("pg_ctl", &args)
    }

    fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=dsm dbname=postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl("stop");
    }
}

fn required() -> bool {
    std::env::var_os("DSM_REQUIRE_POSTGRES").is_some()
}

/// Retries `f` until it succeeds or `within` passes; returns its value and how many tries
/// failed.
fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> (T, u32) {
    let start = Instant::now();
    let mut failed = 0;
    loop {
        if let Some(v) = f() {
            return (v, failed);
        }
        failed += 1;
        assert!(start.elapsed() < within, "the store did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_postgres_store_reconnects_after_the_database_restarts_under_load() {
    let Some(cluster) = Cluster::start() else {
        assert!(
            !required(),
            "DSM_REQUIRE_POSTGRES is set but no PostgreSQL binaries were found under /usr/lib/postgresql"
        );
        eprintln!(
            "PostgreSQL restart test skipped: PostgreSQL is not installed (`.ci/run` installs it)"
        );
        return;
    };
    let store = Arc::new(PostgresStore::connect(&cluster.url(), 4).unwrap());
    store.reset().unwrap();
    // Load: four writers putting objects all along, counting what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writers: Vec<_> = (0..4u8)
        .map(|t| {
            let (store, stop, ok, failed) = (
                Arc::clone(&store),
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut i = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let mut addr = [t; 32];
                    addr[..4].copy_from_slice(&i.to_be_bytes());
                    match store.put_object(&addr, &i.to_be_bytes()) {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            acked.push(addr);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    i += 1;
                }
                acked
            })
        })
        .collect();
    let (_, _) = eventually(Duration::from_secs(30), || {
        (ok.load(Ordering::SeqCst) > 100).then_some(())
    });
    assert!(cluster.pg_ctl("restart").success(), "{}", cluster.log());
    let before_restart = ok.load(Ordering::SeqCst);
    // The same store, never reopened, takes writes again.
    let (_, _) = eventually(Duration::from_secs(30), || {
        (ok.load(Ordering::SeqCst) > before_restart + 100).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    let acked: Vec<[u8; 32]> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        failed.load(Ordering::SeqCst) > 0,
        "the restart landed while the writers were writing (some requests met it)"
    );
    // Everything acknowledged, before and after the restart, is there.
    for a in &acked {
        let i = u32::from_be_bytes(a[..4].try_into().unwrap());
        assert_eq!(
            store.get_object(a).unwrap().as_deref(),
            Some(&i.to_be_bytes()[..]),
            "an acknowledged write survived"
        );
    }
    // A b0x post retried after the restart (its first answer lost) is one item.
    let q = Quotas::default();
    let seq = store.b0x_append(&[9; 32], b"item", b"", &q).unwrap();
    assert!(cluster.pg_ctl("restart").success(), "{}", cluster.log());
    let (again, _) = eventually(Duration::from_secs(30), || {
        store.b0x_append(&[9; 32], b"item", b"", &q).ok()
    });
    assert_eq!(again, seq);
    assert_eq!(store.b0x_list(&[9; 32], 0, 10, 1 << 20).unwrap().len(), 1);
    assert_eq!(
        store.put_object(&[0xee; 32], b"after").unwrap(),
        PutObject::Created
    );
}
