//! tests/clients/sanctum_stub.py, a stand-in for a Laravel app's Sanctum introspection route,
//! run on a free port for the tests that need one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::http_get;

/// tests/clients/sanctum_stub.py on a free port, killed when dropped.
pub struct SanctumStub {
    child: Child,
    port: u16,
}

impl SanctumStub {
    pub fn start() -> SanctumStub {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/sanctum_stub.py");
        let mut child = Command::new("python3")
            .args([script, "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs tests/clients/sanctum_stub.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("sanctum_stub printed {line:?}"));
        SanctumStub { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/user", self.port)
    }

    /// Introspection requests the stub has answered so far.
    #[allow(dead_code)] // not every test binary counts requests
    pub fn count(&self) -> u64 {
        let (status, body) = http_get(self.port, "/count");
        assert_eq!(status, 200);
        body.trim().parse().unwrap()
    }
}

impl Drop for SanctumStub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
