//! A redis-server of the test's own: started on a free 127.0.0.1 port with
//! no persistence, stopped by its PID when dropped. A test that cannot
//! start one fails, naming what is missing: it never passes without one.

#![allow(dead_code)] // each test binary uses its own part

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
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("floodgate-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mut server = Self {
            child: None,
            port,
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

    /// A plain connection for the test's own commands.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("a connection to the test's server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
