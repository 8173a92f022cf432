"""Class labels between scikit-learn conventions and the library's heads.

scikit-learn classifiers accept any labels that ``numpy.unique`` can sort and
expose them, sorted, as ``classes_``. A saved imprint-rs head names its
classes with integers or strings (``ClassLabel::Int`` / ``ClassLabel::Text``).
Each class of ``classes_`` therefore has a *key*, the label the head carries:

* integer and boolean labels, and floats with integral values (``1.0``), are
  keys ``int(label)``;
* ``str`` labels are keys ``label``;
* any other label (e.g. ``bytes`` or an enum member) is the key ``str(label)``,
  which must be unique among the classes.

Pickling keeps ``classes_`` exactly; ``save``/``load`` give the keys back
(integers as ``int64``, text as ``str``).
"""

import numbers

import numpy as np

_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max


def unique_labels(y):
    """Sorted classes of ``y`` and the code (index into them) of every row."""
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError as e:
        raise ValueError(
            f"labels must be of one sortable kind (all numbers or all strings): {e}"
        ) from e
    return classes, codes.reshape(-1).astype(np.int64, copy=False)


def _int_key(value):
    v = int(value)
    if not (_INT64_MIN <= v <= _INT64_MAX):
        shown = v if isinstance(value, numbers.Integral) else value
        raise ValueError(
            f"label {shown} does not fit in a 64-bit signed integer (from -2**63 to 2**63 - 1), "
            "which is how a head stores integer labels"
        )
    return v


def check_integers(y, converted):
    """Refuses Python integers in ``y`` beyond 64 bits, naming the first.

    NumPy turns a list holding such an integer into a float (or object)
    array, in which two distinct labels can become one number, and
    scikit-learn's target checks then refuse it with a message that does not
    name it: ``y``, as the caller gave it, is checked whenever ``converted``
    (``y`` after validation) is of such a kind."""
    if converted.dtype.kind not in "fO" or (isinstance(y, np.ndarray) and y.dtype.kind != "O"):
        return
    try:
        values = list(y)
    except TypeError:
        return
    for value in values:
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            _int_key(value)


def class_keys(classes):
    """The head's label (``int`` or ``str``) of every class in ``classes``."""
    kind = classes.dtype.kind
    if kind in "iub":
        return [_int_key(c) for c in classes]
    if kind == "f":
        if not np.all(np.isfinite(classes)) or not np.all(classes == np.round(classes)):
            raise ValueError(
                "float labels must have integral values (a classifier needs discrete classes)"
            )
        return [_int_key(c) for c in classes]
    if kind in "US":
        return [c.decode() if isinstance(c, bytes) else str(c) for c in classes]
    values = list(classes)
    if all(isinstance(c, str) for c in values):
        return values
    if all(isinstance(c, numbers.Integral) for c in values):
        return [_int_key(c) for c in values]
    if all(isinstance(c, numbers.Real) and float(c).is_integer() for c in values):
        return [_int_key(c) for c in values]
    keys = [str(c) for c in values]
    if len(set(keys)) != len(keys):
        raise ValueError(
            "labels that are neither numbers nor strings are named by str(label) in the head, "
            "and these names are not unique"
        )
    return keys


def same_kind(a, b):
    """Whether label arrays ``a`` and ``b`` can be classes of one classifier."""

    def kind(x):
        k = x.dtype.kind
        if k in "iubf":
            return "number"
        if k in "US":
            return "text"
        return "text" if all(isinstance(v, str) for v in x) else "object"

    return kind(a) == kind(b) or "object" in (kind(a), kind(b))


def classes_from_keys(keys):
    """``classes_`` of a loaded head: its keys sorted, ``int64`` or ``str``."""
    if all(isinstance(k, int) for k in keys):
        return np.unique(np.asarray(keys, dtype=np.int64))
    return np.unique(np.asarray(keys, dtype=str))


_NUMBER = "iubf"


def _exactly(values, dtype):
    """``values`` (numbers) as ``dtype``; a label that the conversion would
    change is an error naming it."""
    converted = values.astype(dtype)
    for before, after in zip(values.tolist(), converted.tolist()):
        if before != after:
            _int_key(before)
            raise ValueError(
                f"label {before!r} cannot be held exactly together with labels of type {dtype}"
            )
    return converted


def _common(a, b):
    """Number labels ``a`` and ``b`` in one dtype that holds both exactly
    (``int64`` for ``int64`` with ``uint64``, where NumPy would pick
    ``float64`` and round); other labels as they are."""
    if a.dtype.kind not in _NUMBER or b.dtype.kind not in _NUMBER:
        return a, b
    dtype = np.result_type(a.dtype, b.dtype)
    if dtype.kind == "f" and a.dtype.kind != "f" and b.dtype.kind != "f":
        dtype = np.dtype(np.int64)
    return _exactly(a, dtype), _exactly(b, dtype)


def merge(classes, batch):
    """``classes_`` after adding the sorted labels ``batch``: the sorted
    union, every label held exactly; and the position of each label of
    ``batch`` in it."""
    classes, batch = _common(classes, batch)
    merged, _ = unique_labels(np.concatenate([classes, batch]))
    return merged, np.searchsorted(merged, batch).astype(np.int64, copy=False)


def not_in(labels, known):
    """The labels of ``labels`` (sorted, unique) that are not in ``known``,
    compared exactly."""
    a, b = _common(labels, known)
    return labels[~np.isin(a, b)]


def codes_in(classes, y):
    """The position in ``classes`` of each label of ``y``, compared exactly;
    ``None`` when a label of ``y`` is not a class."""
    batch, codes = unique_labels(y)
    if not same_kind(classes, batch):
        return None
    try:
        batch_c, classes_c = _common(batch, classes)
    except ValueError:
        return None
    if not np.all(np.isin(batch_c, classes_c)):
        return None
    return np.searchsorted(classes_c, batch_c).astype(np.int64, copy=False)[codes]
