//! A cluster of 6 embedded storage nodes on loopback whose nodes can be switched off or
//! made to lie, stopped when dropped.

use dsm_node::api::Node;
use dsm_node::store::{
    Appended, EmbeddedStore, Id, NodeStore, PutObject, PutSlot, Quotas, StoreError,
};
use dsm_wallet::nodes::{NodeSet, Replication};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A node that can be switched off (every operation then fails, HTTP 500) or made to lie
/// about slots (a flipped last byte in every slot and list entry it serves); it counts
/// object reads.
pub struct Switchable(
    EmbeddedStore,
    Arc<AtomicBool>,
    Arc<AtomicBool>,
    Arc<AtomicU64>,
);

impl Switchable {
    fn up(&self) -> Result<(), StoreError> {
        if self.1.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::Backend("switched off by the test".into()))
        }
    }
}

impl NodeStore for Switchable {
    fn get_object(&self, a: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.up()?;
        self.3.fetch_add(1, Ordering::SeqCst);
        self.0.get_object(a)
    }
    fn put_object(&self, a: &Id, b: &[u8]) -> Result<PutObject, StoreError> {
        self.up()?;
        self.0.put_object(a, b)
    }
    fn get_slot(&self, d: &Id, p: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.up()?;
        let mut v = self.0.get_slot(d, p)?;
        if self.2.load(Ordering::SeqCst) {
            if let Some(last) = v.as_mut().and_then(|b| b.last_mut()) {
                *last ^= 1;
            }
        }
        Ok(v)
    }
    fn put_slot(&self, d: &Id, p: &Id, b: &[u8]) -> Result<PutSlot, StoreError> {
        self.up()?;
        self.0.put_slot(d, p, b)
    }
    fn list_append(&self, t: &Id, k: &Id, b: &[u8]) -> Result<Appended, StoreError> {
        self.up()?;
        self.0.list_append(t, k, b)
    }
    fn list_read(
        &self,
        t: &Id,
        k: &Id,
        after: u64,
        limit: usize,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.up()?;
        if *t
            == dsm_core::seal::object_locator(&dsm_core::hash::Digest([0; 32]))
                .0
                 .0
        {
            self.3.fetch_add(1, Ordering::SeqCst);
        }
        let mut v = self.0.list_read(t, k, after, limit, max)?;
        if self.2.load(Ordering::SeqCst) {
            for (_, b) in &mut v {
                if let Some(last) = b.last_mut() {
                    *last ^= 1;
                }
            }
        }
        Ok(v)
    }
    fn b0x_append(&self, r: &Id, b: &[u8], p: &[u8], q: &Quotas) -> Result<u64, StoreError> {
        self.up()?;
        self.0.b0x_append(r, b, p, q)
    }
    fn owner_known(&self, o: &Id) -> Result<bool, StoreError> {
        self.up()?;
        self.0.owner_known(o)
    }
    fn b0x_list(
        &self,
        r: &Id,
        a: u64,
        l: usize,
        m: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.up()?;
        self.0.b0x_list(r, a, l, m)
    }
    fn b0x_ack(&self, r: &Id, u: u64) -> Result<u64, StoreError> {
        self.up()?;
        self.0.b0x_ack(r, u)
    }
    fn put_evidence(&self, d: &Id, b: &[u8]) -> Result<bool, StoreError> {
        self.up()?;
        self.0.put_evidence(d, b)
    }
    fn list_evidence(&self, a: u64, l: usize) -> Result<Vec<(u64, Id, Vec<u8>)>, StoreError> {
        self.up()?;
        self.0.list_evidence(a, l)
    }
    fn entropy_secret(&self, c: &Id, f: &[u8; 32]) -> Result<[u8; 32], StoreError> {
        self.up()?;
        self.0.entropy_secret(c, f)
    }
    fn entropy_reveal(&self, c: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        self.up()?;
        self.0.entropy_reveal(c)
    }
    fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        self.0.counts()
    }
    fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.0.stored_bytes()
    }
}

pub struct Cluster {
    /// Base URLs (`http://…`, or `https://…` for a TLS cluster).
    pub urls: Vec<String>,
    /// Registry lines: the base URLs, with the nodes' key pin for a TLS cluster.
    pub lines: Vec<String>,
    pub switches: Vec<Arc<AtomicBool>>,
    pub liars: Vec<Arc<AtomicBool>>,
    /// Object reads and lineage-object list reads (PROTOCOL.md §5.6) served, all nodes
    /// together.
    pub object_reads: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Six nodes (the default replication's N).
    pub fn new() -> Cluster {
        Cluster::with(6)
    }

    /// `n` nodes.
    pub fn with(n: usize) -> Cluster {
        Cluster::with_limits(n, dsm_node::ration::RationLimits::unlimited())
    }

    /// `n` nodes rationing each client by `limits`.
    pub fn with_limits(n: usize, limits: dsm_node::ration::RationLimits) -> Cluster {
        Cluster::build(n, limits, false)
    }

    /// `n` nodes serving HTTPS with one self-signed certificate made here; their registry
    /// lines pin its key.
    pub fn with_tls(n: usize) -> Cluster {
        Cluster::build(n, dsm_node::ration::RationLimits::unlimited(), true)
    }

    fn build(n: usize, limits: dsm_node::ration::RationLimits, tls: bool) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let tls = tls.then(|| {
            let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
            let (cert, key) = (dir.path().join("node.crt"), dir.path().join("node.key"));
            std::fs::write(&cert, ck.cert.pem()).unwrap();
            std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
            let pin = dsm_wallet::tls::SpkiPin::of_certificate(ck.cert.der()).unwrap();
            (dsm_node::tls::server_config(&cert, &key).unwrap(), pin)
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut urls = Vec::new();
        let mut lines = Vec::new();
        let mut switches = Vec::new();
        let mut liars = Vec::new();
        let object_reads = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let store = EmbeddedStore::open(&dir.path().join(format!("n{i}.redb"))).unwrap();
            let on = Arc::new(AtomicBool::new(true));
            let lie = Arc::new(AtomicBool::new(false));
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let addr = listener.local_addr().unwrap();
            let node = Node::with_limits(
                Switchable(store, on.clone(), lie.clone(), object_reads.clone()),
                Quotas::default(),
                limits.clone(),
                dsm_node::ration::StoreBudget::default(),
            );
            match &tls {
                None => {
                    urls.push(format!("http://{addr}"));
                    lines.push(format!("http://{addr}"));
                    drop(rt.spawn(dsm_node::serve(
                        listener,
                        node,
                        dsm_node::Timeouts::default(),
                    )));
                }
                Some((config, pin)) => {
                    urls.push(format!("https://{addr}"));
                    lines.push(format!("https://{addr}#spki-sha256={}", pin.to_hex()));
                    drop(rt.spawn(dsm_node::serve_tls(
                        listener,
                        node,
                        dsm_node::Timeouts::default(),
                        config.clone(),
                    )));
                }
            }
            switches.push(on);
            liars.push(lie);
        }
        Cluster {
            urls,
            lines,
            switches,
            liars,
            object_reads,
            _rt: rt,
            _dir: dir,
        }
    }

    /// Every byte the nodes' stores hold on disk: each node's redb file as it is now, free
    /// pages included (what an operator, or whoever copies a node's disk, can read).
    #[allow(dead_code)]
    pub fn store_files(&self) -> Vec<Vec<u8>> {
        (0..self.urls.len())
            .map(|i| std::fs::read(self._dir.path().join(format!("n{i}.redb"))).unwrap())
            .collect()
    }

    /// Requests the nodes answered so far (their `/metrics`, all nodes together), by
    /// `"METHOD route"`; `/metrics` itself is not counted.
    #[allow(dead_code)]
    pub fn requests_by_route(&self) -> std::collections::BTreeMap<String, u64> {
        let c = self;
        let agent = dsm_wallet::tls::node_agent(&c.lines, Duration::from_secs(10));
        c.urls
            .iter()
            .map(|u| {
                let text = agent
                    .get(&format!("{u}/metrics"))
                    .call()
                    .expect("metrics")
                    .into_body()
                    .read_to_string()
                    .expect("text");
                text.lines()
                    .filter(|l| {
                        l.starts_with("dsm_node_http_requests_total{") && !l.contains("/metrics")
                    })
                    .filter_map(|l| {
                        let (labels, n) = l.rsplit_once(' ')?;
                        let field = |k: &str| {
                            labels
                                .split(&format!("{k}=\""))
                                .nth(1)
                                .and_then(|r| r.split('"').next())
                                .unwrap_or("")
                                .to_string()
                        };
                        Some((
                            format!("{} {}", field("method"), field("route")),
                            n.parse::<f64>().ok()? as u64,
                        ))
                    })
                    .collect::<Vec<_>>()
            })
            .fold(std::collections::BTreeMap::new(), |mut m, v| {
                for (k, n) in v {
                    *m.entry(k).or_insert(0) += n;
                }
                m
            })
    }

    pub fn nodes(&self) -> NodeSet {
        NodeSet::new(
            self.lines.clone(),
            Replication::default(),
            Duration::from_secs(5),
        )
    }

    /// Switches off all but `n` nodes.
    pub fn only_up(&self, n: usize) {
        for (i, s) in self.switches.iter().enumerate() {
            s.store(i < n, Ordering::SeqCst);
        }
    }
}
