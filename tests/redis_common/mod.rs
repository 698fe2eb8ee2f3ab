//! A redis-server of the test's own: started on a free 127.0.0.1 port with
//! no persistence, stopped by its PID when dropped. A test that cannot
//! start one fails, naming what is missing: it never passes without one.

#![allow(dead_code)] // each test binary uses its own part

pub mod model;

use floodgate::store::RedisStore;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where a caller's microsecond clock starts in tests of `_at` calls: a
/// recent Unix time, so the scripts' numbers are as large as in production.
pub const BASE_US: u64 = 1_760_000_000_000_000;

/// A store on [`RedisServer::shared`]'s server.
pub fn shared_store() -> RedisStore {
    RedisStore::open(&RedisServer::shared().url()).unwrap()
}

/// A key prefix no other test or case of this run uses.
pub fn fresh_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// Arguments beyond the defaults (a cluster node's).
    extra: Vec<String>,
}

/// The PID and directory of [`RedisServer::shared`]'s server, for the exit hook.
static SHARED_PID: AtomicI32 = AtomicI32::new(0);
static SHARED_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Stops the shared server when the test binary exits: a static is never
/// dropped, and its server must not outlive the run.
extern "C" fn stop_shared() {
    // Relaxed: the store was made by a test thread the harness joined
    // before exiting, and the join orders it before this load.
    let pid = SHARED_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) with the PID of this process's own child, which
        // nothing reaps before the process exits, so it names no other.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    if let Some(dir) = SHARED_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl RedisServer {
    /// One server for every test of a binary that needs no faults; each
    /// test keeps to keys of its own. Stopped when the binary exits.
    pub fn shared() -> &'static RedisServer {
        static SERVER: OnceLock<RedisServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            let server = RedisServer::start();
            SHARED_PID.store(server.pid(), Ordering::Relaxed);
            let _ = SHARED_DIR.set(server.dir.clone());
            // SAFETY: registers a plain function taking and returning
            // nothing, as atexit(3) requires.
            assert_eq!(unsafe { libc::atexit(stop_shared) }, 0);
            server
        })
    }

    /// A fresh server on a free port.
    pub fn start() -> Self {
        Self::start_with(|_| Vec::new())
    }

    /// A fresh server on a free port, with the arguments `extra` gives for
    /// its scratch directory.
    fn start_with(extra: impl FnOnce(&std::path::Path) -> Vec<String>) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("floodgate-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mut server = Self {
            child: None,
            port,
            extra: extra(&dir),
            dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}): install it (apt-get install redis-server, \
                     as scripts/test-all.sh does); these tests never pass without a server"
                )
            });
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers_ping() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Sends `signal` to the server's process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with the PID of our own child, which has not been
        // reaped (we hold its Child), so the PID names no other process.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// SIGKILL, reaped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new server on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A plain connection for the test's own commands; a server that
    /// stopped answering fails them within seconds instead of hanging.
    pub fn client(&self) -> redis::Connection {
        let limit = Duration::from_secs(10);
        let connection = redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(limit))
            .expect("a connection to the test's server");
        let timeouts = [
            connection.set_read_timeout(Some(limit)),
            connection.set_write_timeout(Some(limit)),
        ];
        assert!(timeouts.iter().all(Result::is_ok), "socket timeouts");
        connection
    }

    /// Holds every client's commands for `pause` (`CLIENT PAUSE`), from now.
    pub fn pause(&self, pause: Duration) {
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(pause.as_millis() as u64)
            .query(&mut self.client())
            .unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// How long a cluster may take to form, and a failover to be seen.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(60);

/// A Redis Cluster of the test's own on 127.0.0.1: `masters` masters with
/// `replicas` replicas each, a node timeout of 1 s, and
/// `cluster-require-full-coverage no` (the store's documented setting), so
/// a master that is down stops only its own slots. Each node is stopped by
/// its PID when dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

/// The PIDs and directories of [`RedisCluster::shared`]'s nodes.
static SHARED_NODES: OnceLock<Vec<(i32, PathBuf)>> = OnceLock::new();

extern "C" fn stop_shared_cluster() {
    for (pid, dir) in SHARED_NODES.get().into_iter().flatten() {
        // SAFETY: kill(2) with the PID of this process's own child, which
        // nothing reaps before the process exits, so it names no other.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl RedisCluster {
    /// One 3-master cluster without replicas for every test of a binary
    /// that makes no faults. Stopped when the binary exits.
    pub fn shared() -> &'static RedisCluster {
        static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
        CLUSTER.get_or_init(|| {
            let cluster = RedisCluster::start(3, 0);
            let nodes = cluster
                .nodes
                .iter()
                .map(|n| (n.pid(), n.dir.clone()))
                .collect();
            let _ = SHARED_NODES.set(nodes);
            // SAFETY: registers a plain function taking and returning
            // nothing, as atexit(3) requires.
            assert_eq!(unsafe { libc::atexit(stop_shared_cluster) }, 0);
            cluster
        })
    }

    /// A fresh cluster, formed and agreed on by every node.
    pub fn start(masters: usize, replicas: usize) -> Self {
        let nodes: Vec<_> = (0..masters * (1 + replicas))
            .map(|_| {
                RedisServer::start_with(|dir| {
                    let config = dir.join("nodes.conf").display().to_string();
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &config,
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-require-full-coverage",
                        "no",
                        // Its own free port: port + 10000 may be taken or past 65535.
                        "--cluster-port",
                        &free_port().to_string(),
                    ]
                    .map(str::to_owned)
                    .to_vec()
                })
            })
            .collect();
        let cluster = Self { nodes };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = create
            .spawn()
            .expect("redis-cli, installed with redis-server");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("redis-cli runs") {
                break status;
            }
            if started.elapsed() > CLUSTER_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-cli --cluster create took over {CLUSTER_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "redis-cli --cluster create: {status}");
        cluster.wait_for("every node to see the whole cluster", |cluster| {
            cluster.nodes.iter().all(|node| {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut node.client())
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{}", cluster.nodes.len()))
            }) && cluster.replicas_in_sync() == masters * replicas
        });
        cluster
    }

    /// Waits (boundedly) until `ready`; how long it took.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&Self) -> bool) -> Duration {
        let started = Instant::now();
        while !ready(self) {
            assert!(
                started.elapsed() < CLUSTER_TIMEOUT,
                "waited {CLUSTER_TIMEOUT:?} for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    }

    /// Replicas whose link to their master is up.
    fn replicas_in_sync(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut node.client())
                    .unwrap_or_default();
                info.contains("role:slave") && info.contains("master_link_status:up")
            })
            .count()
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The slot ranges and the index in `nodes` of each one's master, as
    /// node `asked` sees them.
    pub fn ranges(&self, asked: usize) -> Vec<(u16, u16, usize)> {
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.nodes[asked].client())
            .expect("CLUSTER SLOTS");
        let mut found: Vec<_> = ranges
            .iter()
            .filter_map(|range| match range {
                redis::Value::Array(fields) => match fields.as_slice() {
                    [redis::Value::Int(first), redis::Value::Int(last), redis::Value::Array(master), ..] => {
                        let port = match master.get(1) {
                            Some(redis::Value::Int(port)) => *port,
                            _ => return None,
                        };
                        let node = self.nodes.iter().position(|n| i64::from(n.port) == port)?;
                        Some((*first as u16, *last as u16, node))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        found.sort_unstable();
        found
    }

    /// The node serving `slot`, as node `asked` sees it.
    pub fn master_of(&self, slot: u16, asked: usize) -> Option<usize> {
        self.ranges(asked)
            .into_iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, node)| node)
    }

    /// The masters, by index in `nodes`, in slot order.
    pub fn masters(&self) -> Vec<usize> {
        let mut masters = Vec::new();
        for (_, _, node) in self.ranges(0) {
            if !masters.contains(&node) {
                masters.push(node);
            }
        }
        masters
    }

    /// The slot of `key`, as the cluster computes it.
    pub fn slot(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.nodes[0].client())
            .expect("CLUSTER KEYSLOT")
    }

    /// A hash tag (`{...}`) whose slot `master` serves.
    pub fn tag_on(&self, master: usize) -> String {
        let ranges = self.ranges(0);
        (0..)
            .map(|n| format!("{{m{n}}}"))
            .find(|tag| {
                let slot = self.slot(tag);
                ranges
                    .iter()
                    .any(|&(first, last, node)| node == master && (first..=last).contains(&slot))
            })
            .expect("some tag lands on every master")
    }

    /// The index in `nodes` of `master`'s replica.
    pub fn replica_of(&self, master: usize) -> usize {
        let port = format!("master_port:{}", self.nodes[master].port);
        self.nodes
            .iter()
            .position(|node| {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut node.client())
                    .unwrap_or_default();
                info.contains("role:slave") && info.contains(&port)
            })
            .expect("every master has a replica")
    }

    /// Whether node `index` is a master now.
    pub fn is_master(&self, index: usize) -> bool {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut self.nodes[index].client())
            .unwrap_or_default();
        info.contains("role:master")
    }
}
