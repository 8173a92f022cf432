//! The Python side: a virtual environment made from a requirements file, and
//! the peer scripts run inside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

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

/// What `peers.py` reports.
#[derive(Debug, Deserialize)]
pub struct PeerResults {
    /// Library versions.
    pub versions: BTreeMap<String, String>,
    /// One per (case, peer).
    pub measurements: Vec<Measurement>,
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

    /// Runs the peer script `script` (`peers.py`, `reference_peers.py`) on
    /// `plan`, writing and then reading `out`.
    pub fn run_peers(&self, script: &str, plan: &Path, out: &Path) -> Result<PeerResults> {
        let python = self.ensure()?;
        run(
            Command::new(python).arg(self.scripts.join(script)).arg(plan).arg(out),
            &format!("run the Python peers ({script})"),
        )?;
        let text = read(out)?;
        serde_json::from_str(&text).map_err(|e| BenchError::Unsupported {
            context: out.display().to_string(),
            reason: format!("{script} wrote unreadable results: {e}"),
        })
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
