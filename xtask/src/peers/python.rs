//! The Python side: a virtual environment made from a requirements file, and
//! the peer scripts run inside it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

use super::Measurement;
use imprint_bench::{BenchError, Result};

/// A virtual environment at `venv`, made by `python -m venv` and filled from
/// `requirements` (re-installed when that file changes).
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// Interpreter that creates the environment (e.g. `python3`).
    pub base_python: String,
    /// Folder of the environment (e.g. `.venv-peers`).
    pub venv: PathBuf,
    /// The requirements file.
    pub requirements: PathBuf,
    /// Folder of the peer scripts (`peers.py`, `reference_peers.py`,
    /// `reference_pipeline.py`).
    pub scripts: PathBuf,
}

/// A line a peer script writes (`xtask/peers/peer_protocol.py`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    /// The first line: library versions.
    Versions(BTreeMap<String, String>),
    /// The answer to a case: one measurement per peer.
    Measurements(Vec<Measurement>),
    /// The answer to a case that failed: the Python traceback.
    Error(String),
}

/// A peer script running for a whole `bench-peers` run: it is sent one case
/// at a time, right after ours ran it, and answers with its measurements.
#[derive(Debug)]
pub struct PeerServer {
    script: String,
    child: Child,
    to_script: Option<ChildStdin>,
    from_script: BufReader<ChildStdout>,
    /// The library versions it reported.
    pub versions: BTreeMap<String, String>,
}

/// Marker beside the environment: the requirements it was made from.
const INSTALLED: &str = "imprint-requirements.txt";

impl PythonEnv {
    /// The environment's interpreter, creating and filling the environment
    /// first if it is missing or was made from other requirements.
    pub fn ensure(&self) -> Result<PathBuf> {
        let python = self.venv.join("bin").join("python");
        let wanted = read(&self.requirements)?;
        let marker = self.venv.join(INSTALLED);
        if python.is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
            return Ok(python);
        }
        eprintln!(
            "creating {} from {} (pip output follows)",
            self.venv.display(),
            self.requirements.display()
        );
        run(
            Command::new(&self.base_python).arg("-m").arg("venv").arg(&self.venv),
            "create the virtual environment",
        )?;
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
                .arg(&self.requirements),
            "install the peers' requirements",
        )?;
        std::fs::write(&marker, wanted).map_err(|source| BenchError::Io {
            path: marker.clone(),
            action: "write",
            source,
        })?;
        Ok(python)
    }

    /// Starts the peer script `script` (`peers.py`, `reference_peers.py`)
    /// and reads the versions it reports.
    pub fn serve(&self, script: &str) -> Result<PeerServer> {
        let mut command = Command::new(self.ensure()?);
        command.arg(self.scripts.join(script));
        PeerServer::start(script, command)
    }

    /// Runs `reference_pipeline.py` with `args`.
    pub fn run_pipeline(&self, args: &[&std::ffi::OsStr]) -> Result<()> {
        let python = self.ensure()?;
        run(
            Command::new(python).arg(self.scripts.join("reference_pipeline.py")).args(args),
            "run the reference-equivalent Python pipeline",
        )
    }
}

impl PeerServer {
    /// Starts `command` (the peer script `script`) and reads its versions.
    fn start(script: &str, mut command: Command) -> Result<Self> {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().map_err(|e| {
            BenchError::Unsupported {
                context: format!("cannot start the Python peers ({script})"),
                reason: e.to_string(),
            }
        })?;
        let to_script = child.stdin.take();
        let from_script = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut server =
            Self { script: script.to_string(), child, to_script, from_script, versions: BTreeMap::new() };
        match server.reply()? {
            Reply::Versions(versions) => server.versions = versions,
            other => return Err(server.unexpected(&format!("{other:?} instead of its versions"))),
        }
        Ok(server)
    }

    /// Runs one case of the plan (a JSON object) and returns the peers'
    /// measurements of it.
    pub fn run(&mut self, case: &Value) -> Result<Vec<Measurement>> {
        let line = format!("{case}\n");
        let sent =
            self.to_script.as_mut().map(|pipe| pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.unexpected("its input closed"));
        }
        match self.reply()? {
            Reply::Measurements(m) => Ok(m),
            Reply::Error(traceback) => Err(BenchError::Unsupported {
                context: format!("the Python peers ({})", self.script),
                reason: traceback,
            }),
            other => Err(self.unexpected(&format!("{other:?} instead of measurements"))),
        }
    }

    /// Ends the script (closes its input) and checks that it exited cleanly.
    pub fn finish(mut self) -> Result<()> {
        drop(self.to_script.take());
        let status = self.child.wait().map_err(|e| BenchError::Unsupported {
            context: format!("the Python peers ({})", self.script),
            reason: e.to_string(),
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(BenchError::Unsupported {
                context: format!("the Python peers ({})", self.script),
                reason: format!("exited with {status}"),
            })
        }
    }

    /// The next line from the script; its end (the script died) is an error
    /// that says how it exited.
    fn reply(&mut self) -> Result<Reply> {
        let mut line = String::new();
        let read = self.from_script.read_line(&mut line);
        if !matches!(read, Ok(n) if n > 0) {
            let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            return Err(self.unexpected(&format!("no answer (exited: {status}; its output is above)")));
        }
        serde_json::from_str(&line).map_err(|e| self.unexpected(&format!("an unreadable line ({e}): {line}")))
    }

    fn unexpected(&self, what: &str) -> BenchError {
        BenchError::Unsupported {
            context: format!("the Python peers ({})", self.script),
            reason: what.to_string(),
        }
    }
}

impl Drop for PeerServer {
    /// A run that stops early (an error of ours) does not leave the script behind.
    fn drop(&mut self) {
        if self.to_script.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.to_owned(),
        action: "read",
        source,
    })
}

/// Runs `cmd` with inherited output (progress shows); a non-zero exit is an error.
fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| BenchError::Unsupported {
        context: format!("cannot {what}"),
        reason: format!("{shown}: {e}"),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Unsupported {
            context: format!("cannot {what}"),
            reason: format!("{shown} exited with {status}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A stand-in for a peer script in `sh`: its versions, then per case a
    /// measurement, an error, or nothing (it exits 3).
    fn fake(script: &str) -> Result<PeerServer> {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        PeerServer::start("fake.py", command)
    }

    const ANSWERS: &str = r#"echo '{"versions": {"lib": "1.0"}}'
        while read -r case; do
          case "$case" in
            *fail*) echo '{"error": "Traceback: it failed"}' ;;
            *die*) exit 3 ;;
            *) echo '{"measurements": [{"case": "c", "implementation": "peer", "seconds": [0.5, 0.25]}]}' ;;
          esac
        done"#;

    #[test]
    fn cases_go_one_at_a_time_and_errors_name_the_script() {
        let mut server = fake(ANSWERS).unwrap();
        assert_eq!(server.versions.get("lib").map(String::as_str), Some("1.0"));
        for _ in 0..2 {
            let m = server.run(&json!({"case": "c"})).unwrap();
            assert_eq!(
                (m.len(), m[0].implementation.as_str(), m[0].seconds.clone()),
                (1, "peer", vec![0.5, 0.25])
            );
        }
        let err = server.run(&json!({"case": "fail"})).unwrap_err().to_string();
        assert!(err.contains("fake.py") && err.contains("it failed"), "{err}");
        // Still serving after a failed case; closing its input ends it cleanly.
        assert_eq!(server.run(&json!({"case": "c"})).unwrap().len(), 1);
        server.finish().unwrap();

        let mut server = fake(ANSWERS).unwrap();
        let err = server.run(&json!({"case": "die"})).unwrap_err().to_string();
        assert!(err.contains("no answer") && err.contains("3"), "{err}");
    }

    #[test]
    fn a_script_without_versions_or_with_garbage_is_an_error() {
        let err = fake("exit 2").unwrap_err().to_string();
        assert!(err.contains("no answer") && err.contains("2"), "{err}");
        let err = fake("echo hello").unwrap_err().to_string();
        assert!(err.contains("unreadable") && err.contains("hello"), "{err}");
        let err = fake(r#"echo '{"measurements": []}'"#).unwrap_err().to_string();
        assert!(err.contains("instead of its versions"), "{err}");
        let server = fake(r#"echo '{"versions": {}}'; read -r line; exit 5"#).unwrap();
        assert!(server.finish().unwrap_err().to_string().contains("5"));
    }
}
