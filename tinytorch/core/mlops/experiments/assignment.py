"""Deterministic, sticky assignment of units (users, requests, devices) to variants.

The scheme is GrowthBook's, so that a unit gets the same variant here as in a GrowthBook SDK:

* ``fnv1a_32`` is the 32-bit FNV-1a hash of the UTF-8 bytes of a string (for ASCII ids this is
  exactly what GrowthBook's SDKs compute; they hash characters, not bytes, so non-ASCII ids may
  differ from GrowthBook's while staying deterministic here).
* ``bucket`` is GrowthBook's version-2 hash: ``fnv32a(str(fnv32a(seed + id))) % 10000 / 10000``,
  a number in [0, 1) in steps of 1/10000. Hashing twice removes the bias the version-1 hash had
  for ids that share a prefix.
* ``bucket_ranges`` lays the variants out side by side on [0, 1): variant i starts where the
  weights of the variants before it end, and its range is ``coverage * weight`` long. Raising
  coverage only extends ranges (units already in the experiment keep their variant); moving
  weight between two neighbouring variants moves exactly that share of units across their common
  border and nobody else.

Python's built-in ``hash()`` is never used: it is salted per process (PYTHONHASHSEED), so an
assignment made with it would change at every restart.
"""

from __future__ import annotations

import math

from .hashing import fnv1a_32

HASH_RESOLUTION = 10_000
SPLIT_TOLERANCE = 0.01
"""How far weights may sum from 1: GrowthBook's rule (its SDKs take sums in [0.99, 1.01] as
given), so that a split GrowthBook runs lays out the same ranges here."""


def bucket(seed, unit_id):
    """Map (experiment seed, unit id) to a number in [0, 1), GrowthBook's version-2 hash.

    ``fnv1a_32(str(fnv1a_32(seed + unit_id))) % 10000 / 10000``. Each experiment has its own
    seed so that two experiments (or an experiment and a rollout) do not split the same users
    the same way.
    """
    return fnv1a_32(str(fnv1a_32(str(seed) + str(unit_id)))) % HASH_RESOLUTION / HASH_RESOLUTION


def validate_split(variants):
    """Check a traffic split ``{name: weight}`` (or a list of (name, weight) pairs).

    Returns the split as a list of (name, float weight) pairs in the given order. Raises
    ValueError, saying what is wrong and how to fix it, when a name repeats, a weight is negative
    or not a finite number, or the weights do not sum to 1 within SPLIT_TOLERANCE.
    """
    pairs = list(variants.items()) if isinstance(variants, dict) else list(variants)
    if not pairs:
        raise ValueError("the traffic split is empty: add at least one variant with a weight")
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"variant names must be unique; repeated: {repeated}")
    split = []
    for name, weight in pairs:
        weight = float(weight)
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"variant {name!r} has weight {weight}; weights must be finite and >= 0")
        split.append((name, weight))
    total = math.fsum(weight for _, weight in split)
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise ValueError(
            f"traffic split weights sum to {total:.6f}, not 1: "
            + ", ".join(f"{n}={w:g}" for n, w in split)
            + "; adjust the weights so that they add up to 1"
        )
    return split


def bucket_ranges(weights, coverage=1.0):
    """Return one [start, end) range on [0, 1) per variant weight.

    Variant i starts at the sum of the weights before it and its range is ``coverage * weight``
    long, so that raising coverage only adds units (nobody changes variant) and moving weight
    between neighbouring variants only moves units across their shared border. ValueError unless
    the weights are finite, >= 0 and sum to 1 within SPLIT_TOLERANCE and coverage is in [0, 1].

    The rule is GrowthBook's tolerance without its fall-back. GrowthBook lays out weights that
    sum to within 0.99-1.01 as given (its test vector "weights sum almost equals 1": [0.4, 0.5999]
    gives [0, 0.4) and [0.4, 0.9999), the units in the last 0.0001 get no variant), so a split
    rounded by hand runs here as it does in a GrowthBook SDK. Further off, GrowthBook silently
    splits traffic equally; here that is a ValueError, because running a different split than
    the one configured, without a word, corrupts the experiment (an SDK must never crash in
    production; a library call can say what is wrong). Coverage outside [0, 1] is refused for the
    same reason, where GrowthBook clamps it.
    """
    weights = [float(w) for w in weights]
    if not all(0.0 <= w < math.inf for w in weights) or abs(math.fsum(weights) - 1.0) > SPLIT_TOLERANCE:
        raise ValueError(f"weights are {weights}; they must be finite, >= 0 and sum to 1 within "
                         f"{SPLIT_TOLERANCE} (each is a share of traffic)")
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage is {coverage}; it is the share of units in the experiment, in [0, 1]")
    ranges, start = [], 0.0
    for weight in weights:
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def assign_variant(seed, unit_id, variants, coverage=1.0):
    """Return the name of the variant ``unit_id`` gets in experiment ``seed``, or None.

    ``variants`` maps variant name to traffic weight (weights sum to 1), e.g.
    ``{"control": 0.8, "treatment": 0.2}``, or is a list of (name, weight) pairs; the variants are
    laid out in the order given, each owning [start, start + coverage * weight). The answer depends only on (seed, unit id, split), so
    the same user sees the same model on every request, on every server and after restarts.
    Units outside ``coverage`` (the share of traffic in the experiment) get None. A split that
    does not validate (weights not summing to 1, negative weights) raises ValueError.
    """
    split = validate_split(variants)
    ranges = bucket_ranges([weight for _, weight in split], coverage)
    n = bucket(seed, unit_id)
    for (name, _), (start, end) in zip(split, ranges):
        if start <= n < end:
            return name
    return None
