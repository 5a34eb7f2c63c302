"""CSV files a spreadsheet opens safely: every CSV the course writes goes through ``writer``.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (OWASP's "CSV injection"). Student ids, file names
from an LMS download and names from a roster are chosen by students, so such a cell is written with
a leading single quote, as OWASP recommends. Numbers stay numbers: an ``int`` or ``float`` is
written as it is, and so is text that is a plain number (``-2.5``) or Moodle's lone ``-`` for "no
value", which no spreadsheet runs.
"""

from __future__ import annotations

import csv
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralize(value):
    """``value`` as a spreadsheet shows it without running it."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if value == "-" or PLAIN_NUMBER.match(value):
        return value
    return "'" + value


class _SafeWriter:
    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row):
        return self._writer.writerow([neutralize(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class _SafeDictWriter(csv.DictWriter):
    def writerow(self, rowdict):
        return super().writerow({key: neutralize(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)


def writer(f, **options):
    """``csv.writer`` whose cells are neutralized."""
    return _SafeWriter(csv.writer(f, **options))


def dict_writer(f, fieldnames, **options):
    """``csv.DictWriter`` whose cells (and header) are neutralized."""
    return _SafeDictWriter(f, fieldnames=fieldnames, **options)
