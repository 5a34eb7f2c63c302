"""Argument checks shared by the statistics in ``experiments`` and ``drift``.

Each check returns the argument converted (a float, an int, a float array) or raises ValueError
(TypeError for a value of the wrong kind) with a message that names the argument, shows the value
and states the rule. NaN is never a valid number here: statistics on it are refused, not guessed.
"""

import math
import numbers

import numpy as np


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def real(name, value):
    """``value`` as a float; TypeError unless it is a real number (bool is refused too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_shown(value)} ({type(value).__name__})")
    return float(value)


def finite(name, value):
    """A finite float: NaN and +-inf are refused."""
    number = real(name, value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    return number


def positive(name, value):
    """A finite float > 0."""
    number = finite(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {number}")
    return number


def probability(name, value, closed=False):
    """A probability: in (0, 1), or in [0, 1] when ``closed``."""
    number = real(name, value)
    inside = 0.0 <= number <= 1.0 if closed else 0.0 < number < 1.0
    if not inside:
        rule = "in [0, 1]" if closed else "strictly between 0 and 1"
        raise ValueError(f"{name} must be {rule}, got {number}")
    return number


def count(name, value, minimum=0):
    """A whole number >= ``minimum``; a float is accepted only when it is whole (2.0, not 2.7)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a whole number, got {_shown(value)} ({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        whole = int(value)
    elif math.isfinite(value) and float(value).is_integer():
        whole = int(value)
    else:
        raise ValueError(f"{name} must be a whole number, got {value}: counts are never fractional")
    if whole < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {whole}")
    return whole


def float_array(name, values):
    """``values`` as a 1-D float64 array; TypeError for text or objects that are not numbers."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype} ({_shown(values)})")
    if array.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array.astype(np.float64).ravel()


def sample(name, values, minimum_size=1, allow_inf=False):
    """A 1-D float sample of at least ``minimum_size`` values, without NaN (and without +-inf
    unless ``allow_inf``)."""
    array = float_array(name, values)
    if array.size < minimum_size:
        raise ValueError(f"{name} needs at least {minimum_size} value(s), got {array.size}")
    bad = np.isnan(array) if allow_inf else ~np.isfinite(array)
    if bad.any():
        kind = "NaN" if allow_inf else "NaN or infinite values"
        raise ValueError(f"{name} holds {int(bad.sum())} {kind} (first at index {int(np.argmax(bad))}); "
                         "drop missing values before testing")
    return array


def counts(name, values):
    """A 1-D array of finite counts >= 0 (whole or fractional weights), as float64."""
    array = float_array(name, values)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite counts, got {_shown(values)}")
    if (array < 0).any():
        raise ValueError(f"{name} must hold counts >= 0, got {array[array < 0][0]} in {_shown(values)}")
    return array
