"""``ImprintClassifier``: the scikit-learn estimator over an imprint-rs head."""

import errno
import numbers
import os
import stat
import threading

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _labels
from ._core import PAPER_SEED, _Classifier

#: Folds of the cross-fitting that calibrates rejection thresholds at fit.
REJECTION_FOLDS = 5


def _seed(random_state):
    """The library's seed for ``random_state`` (``None``: the paper's seed)."""
    if random_state is None:
        return PAPER_SEED
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed < 2**64:
            raise ValueError(f"random_state must be a non-negative 64-bit integer, got {seed}")
        return seed
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    raise ValueError(
        "random_state must be None, a non-negative int, a numpy RandomState or Generator; "
        f"got {random_state!r}"
    )


def _optional_count(value, name):
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if int(value) >= 2**63:
            raise ValueError(f"{name} must be below 2**63, got {value!r}")
        return int(value)
    raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def _name(value, name):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


_NO_Y = object()


class _Validation:
    """Stands in for the estimator in scikit-learn's ``validate_data``.

    ``validate_data`` checks ``X`` against the estimator's ``n_features_in_``
    and ``feature_names_in_`` and, at fit, records them there. Given this
    view instead, it checks against one model (the one the call predicts
    with) and records into the view (from which fit builds the next model),
    never reading attributes that another thread may be replacing.
    Messages name the estimator's class."""

    def __init__(self, estimator, model=None):
        self._estimator = estimator
        if model is not None:
            self.n_features_in_ = model.n_features_in
            if model.feature_names_in is not None:
                self.feature_names_in_ = model.feature_names_in

    @property
    def __class__(self):
        return type(self._estimator)

    def __sklearn_tags__(self):
        return self._estimator.__sklearn_tags__()


def _as_float32(view, X, reset, y=_NO_Y):
    """Validates ``X`` (and ``y``) the scikit-learn way and returns C-contiguous
    float32 data: no copy when ``X`` is already that, one conversion otherwise.
    NaN and infinity are left for the library to report (row and column)."""
    kwargs = dict(
        reset=reset,
        dtype=np.float32,
        order="C",
        ensure_all_finite=False,
        accept_sparse=False,
    )
    if y is _NO_Y:
        return validate_data(view, X, **kwargs)
    return validate_data(view, X, y, **kwargs)


def _read_only(array):
    array = np.array(array)
    array.flags.writeable = False
    return array


class _Model:
    """One fitted model: the head and every fitted attribute derived from it.

    Never changed once made. An estimator holds its model in one attribute
    (``_fitted``) that writers replace whole, and every method reads it once,
    so a call sees one model from start to end whatever other threads do."""

    __slots__ = (
        "core",
        "classes",
        "to_class",
        "head_classes",
        "identity",
        "n_proxies",
        "thresholds",
        "n_features_in",
        "feature_names_in",
    )

    def __init__(self, core, classes, n_features_in, feature_names_in=None):
        """``classes``: the sorted labels (``classes_``), one per class of the
        head ``core`` (a ``_Classifier``), in any order of the head's."""
        keys = _labels.class_keys(classes)
        position = {key: i for i, key in enumerate(keys)}
        head_keys = core.classes()
        # Class index in the head -> position in classes_.
        to_class = np.fromiter((position[k] for k in head_keys), dtype=np.int64, count=len(head_keys))
        self.core = core
        self.classes = _read_only(classes)
        self.to_class = _read_only(to_class)
        self.identity = bool(np.array_equal(to_class, np.arange(len(to_class))))
        self.head_classes = _read_only(self.classes[to_class])
        n_proxies = np.zeros(len(classes), dtype=np.int64)
        n_proxies[to_class] = core.proxy_counts()
        self.n_proxies = _read_only(n_proxies)
        thresholds = core.thresholds()
        if thresholds is None:
            self.thresholds = None
        else:
            ordered = np.zeros(len(classes), dtype=np.float32)
            ordered[to_class] = thresholds
            self.thresholds = _read_only(ordered)
        self.n_features_in = int(n_features_in)
        self.feature_names_in = None if feature_names_in is None else _read_only(feature_names_in)

    def with_core(self, core):
        """This model with the head replaced by ``core`` (same classes)."""
        return _Model(core, self.classes, self.n_features_in, self.feature_names_in)

    def in_class_order(self, values):
        """Columns of a head-ordered ``n x n_classes`` array in ``classes_`` order."""
        if self.identity:
            return values
        out = np.empty_like(values)
        out[:, self.to_class] = values
        return out


#: The fitted attributes a pickle carries beside the head (the rest derive from them).
_PICKLED_FITTED = (
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    # Derived; pickles of earlier versions carry them.
    "n_proxies_",
    "rejection_thresholds_",
    "_identity",
    "_to_class",
    "_head_classes",
)


def _fitted_attribute(field, public):
    """The read-only attribute ``public``: ``field`` of the fitted model
    (absent before fit, and where the model has none)."""

    def get(self):
        value = getattr(self.__dict__.get("_fitted"), field, None)
        if value is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {public!r}")
        return value

    return property(get, doc=f"``{public}`` of the fitted model (read-only).")


class ImprintClassifier(ClassifierMixin, BaseEstimator):
    """Weight imprinting as a scikit-learn classifier.

    Imprints one set of proxies per class from embeddings of a frozen model
    (no gradient training): NORMpre, a proxy generator (GEN), NORMpost, then
    at prediction NORMinf and an aggregation (AGG), as in the IMPRINT
    framework (Westerhoff et al., TMLR, arXiv 2503.14572). The defaults are
    the paper's recommendation, L2 / k-means (k = 20) / L2 / L2 / max. All
    computation runs in Rust (imprint-rs) with the GIL released.

    Parameters
    ----------
    generator : str, default="kmeans"
        GEN, as in the reference's config files: ``"all"``, ``"random"``,
        ``"mean"``, ``"kmeans"``, ``"kmedoids"``, ``"fps"``, ``"cov_max"``,
        ``"none"`` (random Xavier proxies, a control), or the least-squares
        oracles ``"ls"`` and ``"kls"`` (which need ``ridge``).
    k : int or None, default=20
        Proxies per class. A class with fewer than ``k`` samples keeps all of
        them. ``None`` or ``-1`` keeps every sample (``generator="all"``);
        ``mean`` and ``all`` ignore it.
    pre_norm : {"l2", "none"}, default="l2"
        NORMpre, applied to the training embeddings before GEN.
    post_norm : {"l2", "none", "quantile"}, default="l2"
        NORMpost, applied to the generated proxies.
    input_norm : {"l2", "none"}, default="l2"
        NORMinf, applied to the embeddings to classify.
    aggregation : {"max", "mnn"}, default="max"
        AGG: ``"max"`` scores a class by its most similar proxy; ``"mnn"``
        lets the ``m`` nearest proxies vote.
    m : int or None, default=None
        Neighbours of ``aggregation="mnn"`` (required there, refused with ``"max"``).
    distance : str, default="inner_product"
        ``"inner_product"``, ``"cosine"``, ``"euclidean"``, ``"manhattan"``,
        ``"chebyshev"`` or ``"mahalanobis"``. ``max`` with a distance is 1-nn
        under it; ``mnn`` with ``"inner_product"`` ranks by cosine.
    weighting : {"uniform", "weighted_by_distance"}, default="uniform"
        Votes of ``mnn`` (``"uniform"`` only with ``max``).
    random_state : None, int, RandomState or Generator, default=None
        Seed of every random draw (k-means++ initialization, random
        samples). ``None`` is the paper's first seed, 17121997, so results
        are reproducible by default; a ``RandomState`` or ``Generator`` draws
        a seed at each fit.
    reject_tpr : float in (0, 1] or None, default=None
        Enables open-set prediction (:meth:`predict_open`): at fit, each
        class gets a rejection threshold on the similarity of a row to its
        nearest proxy, calibrated from the training data by 5-fold
        cross-fitting so that ``reject_tpr`` of the class's own held-out
        samples are accepted.
    ridge : float or None, default=None
        The ridge parameter lambda of ``"ls"`` and ``"kls"`` (refused elsewhere).
    zero_vectors : {"keep", "reject"}, default="keep"
        An all-zero row under L2 normalization stays zero (``"keep"``, as
        ``torch.nn.functional.normalize`` in the reference implementation,
        the experiment runner and ``sklearn.preprocessing.normalize`` do)
        or is an error naming the row (``"reject"``, the Rust library's
        default: a zero embedding usually means a broken feature extractor).
    rng : {"portable", "reference"}, default="portable"
        Whose random draws: imprint-rs's own (one independent stream per
        class, so results do not depend on class order or threads), or the
        reference implementation's (torch's generator through the classes in
        order, scikit-learn's k-means++ draws; as ``cargo xtask reproduce
        --rng reference``). In ``"reference"`` mode every update refits all
        classes from their kept rows.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (as ``numpy.unique`` sorts them).
    n_features_in_ : int
        Embedding dimension seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a DataFrame ``X`` given to fit (when they are strings).
    n_proxies_ : ndarray of shape (n_classes,)
        Proxies per class, in ``classes_`` order.
    rejection_thresholds_ : ndarray of shape (n_classes,)
        Per-class thresholds of :meth:`predict_open` (when ``reject_tpr`` is set).

    Notes
    -----
    ``partial_fit`` follows the library's exact-update semantics: rows of a
    known class are added to it and the result equals imprinting the class
    once with all its rows; rows of a new label become a new class, imprinted
    after the existing ones (its position fixes its random stream and, with
    ``post_norm="quantile"``, its normalization). Classes imprinted by
    ``fit`` are in ``classes_`` order; ``classes_`` stays sorted.

    To save memory the head keeps, for exact updates, each class's rows
    (most generators), a running sum (``mean``) or nothing (``all``); see the
    library's ``Updates``.

    Threads may share an estimator. The fitted model (head and fitted
    attributes, all read-only) never changes once made: ``fit``,
    ``partial_fit`` and ``calibrate_temperature`` build a new one and
    publish it in one step, one writer at a time (others wait), and each
    prediction reads the published model once, so it comes from one model.

    Examples
    --------
    >>> import numpy as np
    >>> from imprint_rs import ImprintClassifier
    >>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]], dtype=np.float32)
    >>> clf = ImprintClassifier(generator="mean").fit(X, ["cat", "cat", "dog", "dog"])
    >>> clf.predict([[0.2, 0.9]]).tolist()
    ['dog']
    """

    def __init__(
        self,
        generator="kmeans",
        k=20,
        pre_norm="l2",
        post_norm="l2",
        input_norm="l2",
        aggregation="max",
        m=None,
        distance="inner_product",
        weighting="uniform",
        random_state=None,
        reject_tpr=None,
        ridge=None,
        zero_vectors="keep",
        rng="portable",
    ):
        self.generator = generator
        self.k = k
        self.pre_norm = pre_norm
        self.post_norm = post_norm
        self.input_norm = input_norm
        self.aggregation = aggregation
        self.m = m
        self.distance = distance
        self.weighting = weighting
        self.random_state = random_state
        self.reject_tpr = reject_tpr
        self.ridge = ridge
        self.zero_vectors = zero_vectors
        self.rng = rng

    # ------------------------------------------------------------------ fit

    def _new_core(self, dim):
        k = _optional_count(self.k, "k")
        if k == -1:
            k = None
        elif k is not None and k < 1:
            raise ValueError(f"k must be at least 1 (or None/-1 for every sample), got {k}")
        m = _optional_count(self.m, "m")
        if m is not None and m < 1:
            raise ValueError(f"m must be at least 1, got {m}")
        ridge = self.ridge
        if ridge is not None:
            if not isinstance(ridge, numbers.Real) or isinstance(ridge, bool):
                raise ValueError(f"ridge must be a float or None, got {ridge!r}")
            ridge = float(ridge)
        self._check_reject_tpr()
        return _Classifier(
            generator=_name(self.generator, "generator"),
            k=k,
            ridge=ridge,
            pre_norm=_name(self.pre_norm, "pre_norm"),
            post_norm=_name(self.post_norm, "post_norm"),
            input_norm=_name(self.input_norm, "input_norm"),
            aggregation=_name(self.aggregation, "aggregation"),
            m=m,
            distance=_name(self.distance, "distance"),
            weighting=_name(self.weighting, "weighting"),
            seed=_seed(self.random_state),
            zero_vectors=_name(self.zero_vectors, "zero_vectors"),
            rng=_name(self.rng, "rng"),
            dim=dim,
        )

    def _check_reject_tpr(self):
        tpr = self.reject_tpr
        if tpr is None:
            return None
        if (
            not isinstance(tpr, numbers.Real)
            or isinstance(tpr, bool)
            or not 0.0 < float(tpr) <= 1.0
        ):
            raise ValueError(f"reject_tpr must be a float in (0, 1] or None, got {tpr!r}")
        return float(tpr)

    def fit(self, X, y):
        """Imprints one class per distinct label of ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings. C-contiguous float32 is used as it is; other dtypes
            and layouts are converted once.
        y : array-like of shape (n_samples,)
            Labels: integers, strings, or anything ``numpy.unique`` sorts.

        Returns
        -------
        self : ImprintClassifier
        """
        with self._writing():
            self._fitted = self._fit(X, y)
        return self

    def _fit(self, X, y):
        """The model that ``fit`` publishes."""
        view = _Validation(self)
        X, labels = _as_float32(view, X, reset=True, y=y)
        _labels.check_integers(y, labels)
        return self._imprint(view, X, labels)

    def _imprint(self, view, X, y):
        """A new model of ``X`` and ``y``, validated into ``view``."""
        check_classification_targets(y)
        classes, codes = _labels.unique_labels(y)
        keys = _labels.class_keys(classes)
        empty = self._new_core(X.shape[1])
        core = empty.fit(X, codes, keys)
        tpr = self._check_reject_tpr()
        if tpr is not None:
            if np.bincount(codes).max() < 2:
                raise ValueError(
                    "reject_tpr: rejection thresholds are calibrated on held-out samples of a "
                    "class, but every class has one sample"
                )
            core = core.calibrate_rejection(X, codes, keys, tpr, REJECTION_FOLDS)
        return _Model(core, classes, view.n_features_in_, getattr(view, "feature_names_in_", None))

    def partial_fit(self, X, y, classes=None):
        """Adds rows: new labels become new classes, rows of known classes
        update them exactly (the result equals fitting the class once with
        all its rows). The first call fits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            Accepted for compatibility with scikit-learn's incremental
            learners; when given, every label of ``y`` must be in it. A class
            exists once it has rows: ``classes_`` lists imprinted classes only.

        Returns
        -------
        self : ImprintClassifier
        """
        with self._writing():
            model = self.__dict__.get("_fitted")
            view = _Validation(self, model)
            X, labels = _as_float32(view, X, reset=model is None, y=y)
            _labels.check_integers(y, labels)
            y = labels
            check_classification_targets(y)
            batch, batch_codes = _labels.unique_labels(y)
            if classes is not None:
                allowed, _ = _labels.unique_labels(np.asarray(classes))
                if not _labels.same_kind(allowed, batch):
                    missing = batch
                else:
                    missing = _labels.not_in(batch, allowed)
                if len(missing):
                    raise ValueError(f"partial_fit: labels {missing.tolist()} are not in `classes`")
            if model is None:
                self._fitted = self._imprint(view, X, y)
                return self
            if len(model.classes) and not _labels.same_kind(model.classes, batch):
                raise ValueError(
                    f"partial_fit: labels of kind {batch.dtype} cannot join classes_ of kind "
                    f"{model.classes.dtype}; use one kind of label"
                )
            merged, position = _labels.merge(model.classes, batch)
            keys = _labels.class_keys(merged)
            core = model.core.partial_fit(X, position[batch_codes], keys)
            self._fitted = _Model(core, merged, model.n_features_in, model.feature_names_in)
        return self

    def _writing(self):
        """The lock that writers (fit, partial_fit, calibrate_temperature)
        hold from reading the model to publishing the next one."""
        return self.__dict__.setdefault("_write_lock", threading.Lock())

    def _model(self):
        """The fitted model, read once by each call that predicts."""
        model = self.__dict__.get("_fitted")
        if model is None:
            check_is_fitted(self, "_fitted")
        return model

    def __sklearn_is_fitted__(self):
        return "_fitted" in self.__dict__

    classes_ = _fitted_attribute("classes", "classes_")
    n_features_in_ = _fitted_attribute("n_features_in", "n_features_in_")
    feature_names_in_ = _fitted_attribute("feature_names_in", "feature_names_in_")
    n_proxies_ = _fitted_attribute("n_proxies", "n_proxies_")
    rejection_thresholds_ = _fitted_attribute("thresholds", "rejection_thresholds_")
    _core = _fitted_attribute("core", "_core")

    # ------------------------------------------------------------- predict

    def _validated(self, X):
        """The fitted model and ``X`` checked against it."""
        model = self._model()
        return model, _as_float32(_Validation(self, model), X, reset=False)

    def decision_function(self, X):
        """Class scores, higher is better.

        For ``max``, the largest similarity of a class's proxies to the row
        (the inner product, the cosine similarity, or minus a distance); for
        ``mnn``, the class's share of the neighbours' votes.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for
            two classes: ``score(classes_[1]) - score(classes_[0])``, as
            scikit-learn expects of binary classifiers. float32.
        """
        model, X = self._validated(X)
        scores = model.in_class_order(model.core.scores(X))
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """The predicted label of every row (ties go to the class imprinted first)."""
        model, X = self._validated(X)
        return model.head_classes.take(model.core.predict(X))

    def predict_proba(self, X):
        """Class probabilities: a softmax of the scores (temperature 1 unless
        calibrated with :meth:`calibrate_temperature`); rows sum to 1. float32,
        columns in ``classes_`` order."""
        model, X = self._validated(X)
        return model.in_class_order(model.core.predict_proba(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict_open(self, X, unknown=None):
        """Predicts labels, or ``unknown`` for rows that belong to no class.

        A row is unknown when its similarity to the nearest proxy of its
        predicted class is below that class's threshold, calibrated at fit
        (``reject_tpr``) from the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        unknown : scalar, default=None
            The label of rejected rows. ``None``: ``-1`` when ``classes_``
            are numbers, ``"unknown"`` otherwise. It must not be a class.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        model, X = self._validated(X)
        if model.thresholds is None:
            raise ValueError(
                "predict_open needs rejection thresholds: set reject_tpr (e.g. 0.95) and fit again"
            )
        classes = model.classes
        if unknown is None:
            unknown = -1 if classes.dtype.kind in "iuf" else "unknown"
        if any(c == unknown for c in classes.tolist()):
            raise ValueError(f"unknown={unknown!r} is a class label; pass another value")
        idx = model.core.predict_open(X)
        dtype = np.result_type(classes.dtype, np.asarray(unknown).dtype)
        if classes.dtype == object:
            dtype = object
        out = np.empty(len(idx), dtype=dtype)
        known = idx >= 0
        out[known] = model.head_classes.take(idx[known])
        out[~known] = unknown
        return out

    def calibrate_temperature(self, X, y):
        """Fits the softmax temperature of :meth:`predict_proba` on labelled
        rows held out from training (minimum negative log-likelihood).

        Returns
        -------
        report : dict
            ``temperature``, ``nll_before``, ``nll_after``, ``ece_before``,
            ``ece_after`` (expected calibration error, 15 bins), ``n``.
        """
        with self._writing():
            model = self._model()
            X, labels = _as_float32(_Validation(self, model), X, reset=False, y=y)
            _labels.check_integers(y, labels)
            codes = _labels.codes_in(model.classes, labels)
            if codes is None:
                raise ValueError("calibrate_temperature: every label must be a class of the classifier")
            core, report = model.core.calibrate_temperature(X, codes, _labels.class_keys(model.classes))
            self._fitted = model.with_core(core)
        return report

    # ------------------------------------------------------ save, pickle

    def save(self, path, *, wait=60.0):
        """Writes the head as the ``imprint`` command line does, which it and
        the Rust library read: JSON text when ``path`` ends in ``.json``,
        safetensors (tensors plus a JSON header) otherwise, checked to load
        back before it is written. Written atomically: a temporary file next
        to the target, then renamed, so a reader sees the old file or the
        complete new one. Through a symbolic link, the link's target is
        replaced; an existing file keeps its permissions, a new one gets the
        umask's; a folder, FIFO or device is refused (``ValueError``). When
        another process (``imprint add``, another ``save``) is updating the
        same file, waits up to ``wait`` seconds for it, then raises
        ``TimeoutError``. The folder must exist. See :mod:`imprint_rs` for
        how labels are saved."""
        model = self._model()
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, f"{path}: folder {folder} does not exist")
        model.core.save(path, float(wait))

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_write_lock", None)
        model = state.pop("_fitted", None)
        if model is not None:
            state["_core_bytes"] = model.core.to_bytes()
            state["classes_"] = np.array(model.classes)
            state["n_features_in_"] = model.n_features_in
            if model.feature_names_in is not None:
                state["feature_names_in_"] = np.array(model.feature_names_in)
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_core_bytes", None)
        fitted = {name: state.pop(name, None) for name in _PICKLED_FITTED}
        super().__setstate__(state)
        if data is not None:
            self._fitted = _Model(
                _Classifier.from_bytes(data),
                fitted["classes_"],
                fitted["n_features_in_"],
                fitted["feature_names_in_"],
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


def load(path):
    """A fitted :class:`ImprintClassifier` from a head saved by
    :meth:`ImprintClassifier.save`, the ``imprint`` command line or the Rust
    library, in either encoding: safetensors (``Classifier::to_bytes``) or
    JSON text (``Classifier::to_json``, ``imprint fit --out head.json``),
    with or without a UTF-8 byte order mark. The encoding is decided by
    parsing the file, not by its name.

    ``classes_`` are the head's labels, sorted: ``int64`` for integer
    labels, ``str`` for text labels. Constructor parameters come from the
    head's recipe (``random_state=None`` for the paper's seed).

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        It is not a valid head (the library's message says why).
    """
    path = os.fspath(path)
    # Opened without blocking and checked before reading, so that a FIFO or
    # a device (``/dev/zero``) is refused instead of waited on or read forever.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path}: not a regular file; a head is a file")
        data = f.read()
    core = _Classifier.from_bytes(data)
    recipe = core.recipe()
    seed = recipe["seed"]
    estimator = ImprintClassifier(
        generator=recipe["generator"],
        k=recipe["k"],
        pre_norm=recipe["pre_norm"],
        post_norm=recipe["post_norm"],
        input_norm=recipe["input_norm"],
        aggregation=recipe["aggregation"],
        m=recipe["m"],
        distance=recipe["distance"],
        weighting=recipe["weighting"],
        random_state=None if seed == PAPER_SEED else seed,
        reject_tpr=core.target_tpr(),
        ridge=recipe["ridge"],
        zero_vectors=recipe["zero_vectors"],
        rng=recipe["rng"],
    )
    estimator._fitted = _Model(core, _labels.classes_from_keys(core.classes()), core.dim)
    return estimator
