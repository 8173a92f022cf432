"""imprint-rs: weight imprinting for frozen foundation models.

The IMPRINT framework (Westerhoff et al., "Robust Weight Imprinting: Insights
from Neural Collapse and Proxy-Based Aggregation", TMLR, arXiv 2503.14572) as
a scikit-learn classifier, computed by the Rust library imprint-rs.

* :class:`ImprintClassifier`: ``fit``, ``partial_fit`` (new classes and more
  shots, exact updates), ``predict``, ``predict_proba``,
  ``decision_function``, ``score``, open-set ``predict_open``, ``save``.
* :func:`load`: a head saved from Python, the ``imprint`` command line or Rust.
* :func:`kmeans`, :func:`neural_collapse`: the library's k-means and NC1/VCI.

Heads are saved in the library's format (safetensors tensors plus a JSON
header); integer labels are saved as integers and string labels as strings.
Other labels: integral floats and booleans are saved as integers, anything
else as ``str(label)`` (pickle keeps every label exactly).

Errors are Python exceptions: ``ValueError`` with the library's message for
bad shapes, NaN/Inf, unknown names and invalid heads; ``OSError`` for files.
"""

from ._core import FORMAT, GENERATOR_NAMES, PAPER_SEED, VERSION
from ._estimator import ImprintClassifier, load
from ._functions import KMeansResult, NeuralCollapse, kmeans, neural_collapse

__all__ = [
    "FORMAT",
    "GENERATOR_NAMES",
    "PAPER_SEED",
    "VERSION",
    "ImprintClassifier",
    "KMeansResult",
    "NeuralCollapse",
    "kmeans",
    "load",
    "neural_collapse",
]

__version__ = "0.1.0"
