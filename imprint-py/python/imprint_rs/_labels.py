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
        raise ValueError(f"label {value!r} does not fit in a 64-bit integer")
    return v


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
