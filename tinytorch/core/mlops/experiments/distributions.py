"""The chi-square tail the students' tests are given, from SciPy.

Notebooks 03 and 04 hand ``chi2_sf`` to students (their chi-square drift test and SRM check call
it), so it keeps this name and place; everything else calls ``scipy.special`` directly.
"""

import math

import scipy.special


def chi2_sf(x, df):
    """P(X > x) for a chi-square variable X with ``df`` (> 0) degrees of freedom, as a float.

    Upper tail computed directly (``scipy.special.chdtrc``), so a tiny p-value keeps its digits.
    ValueError for df <= 0 or a NaN x or df.
    """
    if not df > 0:
        raise ValueError(f"chi2_sf: df (degrees of freedom) must be > 0, got {df}")
    if math.isnan(x):
        raise ValueError("chi2_sf: x is NaN; a chi-square statistic is a number >= 0")
    return float(scipy.special.chdtrc(df, x))
