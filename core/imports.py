"""One import framework for every bulk load (docs/architecture.md, "Imports").

An app describes what it loads in an ``Importer`` (its columns, the SQL that
finds bad rows, the one statement that merges them) and registers it from its
AppConfig.ready(); core never imports an app. Rows arrive two ways:

- a CSV file, uploaded as an ``ImportJob``: checked by a task (a preview of
  every row error), then, when an admin starts it, merged by another task;
- a list of records from the API (``import_records``), checked and merged in
  the request, all or nothing.

Either way the rows go, streamed in chunks, into a TEMPORARY table (the
*stage*: PostgreSQL ``COPY``, ``executemany`` on SQLite) holding each cell as
text and, for typed columns, as its parsed value (NULL when it does not
parse). Every rule is then one SQL query over the stage (required cells,
types, either-or columns, rows that name what does not exist, a key repeated in
the file, the importer's own rules), and the write is one ``INSERT … SELECT …
ON CONFLICT`` in one transaction: nothing is ever half-written.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import logging
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from .exceptions import RowErrors
from .models import ImportJob, ImportStatus

__all__ = [
    "Check",
    "Column",
    "Counts",
    "Importer",
    "RowError",
    "RowErrors",
    "Stage",
    "check_upload",
    "get_importer",
    "header_errors",
    "import_job_fail",
    "import_job_run",
    "import_job_validate",
    "import_records",
    "importers",
    "register",
    "sql_text",
]

logger = logging.getLogger(__name__)

# Errors kept on a job (in row order); the count covers all of them.
ERRORS_KEPT = 1000
# Rows of the file shown on the preview, under its header.
SAMPLE_ROWS = 5
SAMPLE_CELL_CHARS = 80
# An error message is cut here (it may quote a cell).
MESSAGE_CHARS = 300
# A deadlock between two merges is retried this many times (API records).
MERGE_ATTEMPTS = 3


# --- what an importer declares ----------------------------------------------------------


_INTEGER = re.compile(r"[0-9]{1,18}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

TYPE_MESSAGES = {
    "integer": "Enter a whole number, e.g. 42.",
    "decimal": "Enter a number such as 118 or -42.5: at most {digits} digits before the "
    "decimal point and {places} after it, without thousands separators.",
    "date": "Enter a date as YYYY-MM-DD, e.g. 2026-06-30.",
}


@dataclass(frozen=True)
class Column:
    """One column of a file (one field of an API record).

    ``type`` is text, integer, decimal or date: a typed cell is parsed while
    the rows stream into the stage, strictly (ASCII digits, no thousands
    separators, ISO dates), and a cell that does not parse is staged as NULL
    for the type rule to report. ``required`` columns must be in the header
    and filled in every row; the columns of an importer's ``one_of`` group are
    not required one by one."""

    name: str
    help: str
    type: str = "text"
    required: bool = True
    max_digits: int = 18
    decimal_places: int = 4
    type_message: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"Column name {self.name!r}: lower-case letters, digits, _ only.")
        if self.type not in ("text", *TYPE_MESSAGES):
            raise ValueError(f"Column {self.name}: unknown type {self.type!r}.")

    @property
    def typed(self) -> bool:
        return self.type != "text"

    @property
    def raw(self) -> str:
        """The stage's column holding the cell as text."""
        return f"c_{self.name}"

    @property
    def value(self) -> str:
        """The stage's column holding the parsed value (typed columns only)."""
        return f"v_{self.name}"

    @property
    def message(self) -> str:
        if self.type_message:
            return self.type_message
        return TYPE_MESSAGES[self.type].format(
            digits=self.max_digits - self.decimal_places, places=self.decimal_places
        )

    def sql_value(self, raw: str) -> str:
        """PostgreSQL's twin of ``parse``: the value of the text column
        ``raw`` (NULL when it is empty or does not parse), an immutable
        expression that never raises, so the stage computes it while COPY
        writes the row. Every cast is guarded by the same pattern as
        ``parse`` (PostgreSQL 15 has no safe cast), and a date's month and
        day are checked before ``make_date``, so 2026-02-30 is NULL."""
        if self.type == "integer":
            return f"CASE WHEN {raw} ~ '^[0-9]{{1,18}}$' THEN CAST({raw} AS bigint) END"
        if self.type == "decimal":
            digits = self.max_digits - self.decimal_places
            fits = (
                f"length(ltrim(split_part(ltrim({raw}, '+-'), '.', 1), '0')) <= {digits} "
                f"AND length(rtrim(split_part({raw}, '.', 2), '0')) <= {self.decimal_places}"
            )
            return (
                f"CASE WHEN {raw} ~ '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$' THEN "
                f"CASE WHEN {fits} THEN CAST({raw} AS numeric) END END"
            )
        if self.type == "date":
            year = f"CAST(substr({raw}, 1, 4) AS integer)"
            month = f"CAST(substr({raw}, 6, 2) AS integer)"
            day = f"CAST(substr({raw}, 9, 2) AS integer)"
            leap = f"(mod({year}, 4) = 0 AND mod({year}, 100) <> 0 OR mod({year}, 400) = 0)"
            last = (
                f"CASE WHEN {month} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
                f"WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
            )
            return (
                f"CASE WHEN {raw} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN "
                f"CASE WHEN {year} >= 1 AND {month} BETWEEN 1 AND 12 "
                f"AND {day} BETWEEN 1 AND {last} "
                f"THEN make_date({year}, {month}, {day}) END END"
            )
        return raw

    def parse(self, text: str) -> Any:
        """The cell's value, or None when it is empty or does not parse."""
        if not text:
            return None
        if self.type == "integer":
            return int(text) if _INTEGER.fullmatch(text) else None
        if self.type == "decimal":
            if not _DECIMAL.fullmatch(text):
                return None
            try:
                number = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern rules it out
                return None
            if number and number.adjusted() >= self.max_digits - self.decimal_places:
                return None
            step = Decimal(1).scaleb(-self.decimal_places)
            if number != number.quantize(step):
                return None
            return number
        if self.type == "date":
            if not _DATE.fullmatch(text):
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None
        return text


@dataclass(frozen=True)
class Check:
    """A rule over the stage: ``condition`` (SQL over the alias ``r`` of the
    importer's resolved rows) is true for a bad row, which gets ``message`` (an
    SQL expression, e.g. a literal or ``'No account has id ' || r.c_account``)
    against ``field``. Parameters come from ``Importer.params()``."""

    field: str | None
    condition: str
    message: str


@dataclass(frozen=True)
class Counts:
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class RowError:
    row: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


class Importer(ABC):
    """What one kind of import loads. Subclasses set the attributes and
    implement ``merge``; the framework does the reading, staging, the generic
    rules, progress and transactions.

    The stage's columns are ``row_no``, ``problem`` and ``problem_field`` (a
    record that could not be read as a whole, e.g. a wrong number of cells),
    then ``c_<name>`` (text, '' when empty) for every column and ``v_<name>``
    for every typed column."""

    kind: str = ""
    title: str = ""  # "Observations": the pages say "Import observations"
    description: str = ""  # a sentence for the upload page
    columns: tuple[Column, ...] = ()
    # Groups of columns of which each row fills exactly one.
    one_of: tuple[tuple[str, ...], ...] = ()
    # The unique key among the resolved columns; a key repeated in one batch
    # is an error against key_field ("same … as row n"), named by key_label.
    key: tuple[str, ...] = ()
    key_field: str | None = None
    key_label: str = "key"
    # The source recorded for rows that come from a file.
    file_source: str = "csv"
    # A few lines of a valid file, for the upload page.
    sample: str = ""

    def allowed(self, user: Any) -> bool:
        """Who may upload and start imports of this kind: CS operations admins."""
        return bool(user.is_authenticated and user.is_cs_admin)

    def resolved_sql(self, table: str) -> str:
        """A SELECT over the stage ``table`` (alias ``s``) with ``s.*`` and the
        columns found by joins (ids of the rows named), used by the checks, the
        key and the merge as the CTE ``resolved``."""
        return f"SELECT s.* FROM {table} s"

    def checks(self) -> list[Check]:
        return []

    def params(self) -> dict[str, Any]:
        """Parameters of the checks (e.g. today)."""
        return {}

    def lock(self, stage: Stage) -> None:
        """Inside the merge's transaction, before the rules run again: lock the
        rows the stage names and the merge will refer to (e.g. ``FOR KEY
        SHARE``), so that none of them can go between the check and the
        commit. An importer whose table has no foreign key constraints must do
        this (the check that runs next then sees what is really there). By
        default nothing: a table with foreign keys is guarded by them."""
        return None

    @abstractmethod
    def merge(self, stage: Stage, *, source: str) -> Counts:
        """Write the stage's rows: one INSERT … SELECT … ON CONFLICT from
        ``resolved``, inside the framework's transaction."""

    def after_merge(self, stage: Stage) -> None:
        """Inside the merge's transaction, after it: e.g. queue follow-up work
        with transaction.on_commit. By default nothing follows."""
        return None

    # --- derived ---

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def sample_header(self) -> str:
        return self.sample.splitlines()[0] if self.sample else ",".join(self.column_names)


_registry: dict[str, Importer] = {}


def register(importer: Importer) -> None:
    """Make ``importer`` available under its kind (call from AppConfig.ready)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", importer.kind):
        raise ValueError(f"Import kind {importer.kind!r}: lower-case letters, digits, - only.")
    names = importer.column_names
    for group in importer.one_of:
        for name in group:
            if name not in names or importer.column(name).required:
                raise ValueError(f"{importer.kind}: {name} in one_of must be an optional column.")
    _registry[importer.kind] = importer


def get_importer(kind: str) -> Importer:
    """The importer registered for ``kind``; LookupError if there is none."""
    try:
        return _registry[kind]
    except KeyError:
        raise LookupError(f"No importer is registered for {kind!r}.") from None


def importers() -> list[Importer]:
    return sorted(_registry.values(), key=lambda importer: importer.title)


# --- the stage: a temporary table --------------------------------------------------------


def sql_text(text: str) -> str:
    """A SQL string literal (for messages built into the checks). A % is
    doubled: the queries run with parameters."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


_STAGE_TYPES = {
    # type: (PostgreSQL, SQLite)
    "integer": ("bigint", "integer"),
    "decimal": ("numeric", "text"),
    "date": ("date", "text"),
    "text": ("text", "text"),
}


class Stage:
    """The temporary table of one batch. It lives on this process's database
    connection only (another worker cannot see it) and survives commits, so a
    task fills it in committed chunks while the page shows the progress."""

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        self.table = f"import_stage_{uuid.uuid4().hex[:16]}"
        self.postgres = connection.vendor == "postgresql"
        self.column_names = ["row_no", "problem", "problem_field"]
        self.column_names += [column.raw for column in importer.columns]
        # On PostgreSQL the values are generated columns, computed from the
        # text while COPY writes the row; SQLite is sent them parsed.
        if not self.postgres:
            self.column_names += [column.value for column in importer.columns if column.typed]
        self.rows = 0

    def create(self) -> None:
        definitions = ["row_no bigint NOT NULL", "problem text", "problem_field text"]
        definitions += [f"{column.raw} text NOT NULL" for column in self.importer.columns]
        for column in self.importer.columns:
            if not column.typed:
                continue
            if self.postgres:
                definitions.append(
                    f"{column.value} {_STAGE_TYPES[column.type][0]} "
                    f"GENERATED ALWAYS AS ({column.sql_value(column.raw)}) STORED"
                )
            else:
                definitions.append(f"{column.value} {_STAGE_TYPES[column.type][1]}")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {self.table} ({', '.join(definitions)})")

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def record(
        self,
        row_no: int,
        cells: dict[str, str],
        problem: str | None = None,
        problem_field: str | None = None,
    ) -> tuple | str:
        """One stage row from a record's cells (column name → text)."""
        raws = [cells.get(column.name, "") for column in self.importer.columns]
        return self.row(row_no, raws, problem, problem_field)

    def row(
        self,
        row_no: int,
        raws: list[str],
        problem: str | None = None,
        problem_field: str | None = None,
    ) -> tuple | str:
        """One stage row from its cells in the importer's column order: on
        PostgreSQL a line of COPY's text format (the values are computed by
        the stage), on SQLite a tuple with the values parsed."""
        if self.postgres:
            text = "\t".join(raws)
            if "\\" in text or "\n" in text or "\r" in text or text.count("\t") != len(raws) - 1:
                text = "\t".join(raw.translate(_COPY_ESCAPES) for raw in raws)
            return f"{row_no}\t{_copy_text(problem)}\t{_copy_text(problem_field)}\t{text}\n"
        values = [
            column.parse(raw)
            for column, raw in zip(self.importer.columns, raws, strict=True)
            if column.typed
        ]
        return (row_no, problem, problem_field, *raws, *values)

    def load(self, rows: Sequence[tuple | str]) -> None:
        """Append a chunk of rows made by ``record`` or ``row``."""
        if not rows:
            return
        names = ", ".join(self.column_names)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {self.table} ({names}) FROM STDIN") as copy:
                    copy.write("".join(rows))  # type: ignore[arg-type]
            else:
                placeholders = ", ".join(["%s"] * len(self.column_names))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({names}) VALUES ({placeholders})",
                    [tuple(_sqlite_value(value) for value in row) for row in rows],
                )
        self.rows += len(rows)

    def analyze(self) -> None:
        """Statistics for the planner: autovacuum never looks at temp tables."""
        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.table}")

    def with_resolved(self, sql: str) -> str:
        """``sql`` with the importer's resolved rows as the CTE ``resolved``
        (``sql`` may add CTEs of its own after a comma: ``, merged AS (…) …``)."""
        return f"WITH resolved AS ({self.importer.resolved_sql(self.table)}) {sql}"

    def values(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """The first column of ``sql`` (run with ``resolved``), e.g. the
        distinct ids a merge touched."""
        with connection.cursor() as cursor:
            cursor.execute(self.with_resolved(sql), params or {})
            return [row[0] for row in cursor.fetchall()]

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        select: str,
        *,
        key: Sequence[str],
        update: Sequence[str],
        params: dict[str, Any],
    ) -> Counts:
        """The merge most importers need: ``INSERT INTO table (columns)
        select ON CONFLICT (key) DO UPDATE SET`` each of ``update`` (``select``
        reads ``resolved`` and names the key columns as the table does), with
        how many rows were created and how many updated. On PostgreSQL the
        statement counts them itself (xmax is 0 on a row version it inserted);
        on SQLite the keys already stored are counted first (the transaction
        holds the database's write lock, so nothing changes in between)."""
        names = ", ".join(columns)
        sets = ", ".join(f"{column} = excluded.{column}" for column in update)
        insert = (
            f"INSERT INTO {table} ({names}) {select} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
        )
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute(
                    self.with_resolved(
                        f", merged AS ({insert} RETURNING (xmax = 0) AS inserted) "
                        "SELECT count(*) FILTER (WHERE inserted), "
                        "count(*) FILTER (WHERE NOT inserted) FROM merged"
                    ),
                    params,
                )
                created, updated = cursor.fetchone()
                return Counts(created, updated)
            same = " AND ".join(f"n.{column} = r.{column}" for column in key)
            cursor.execute(
                self.with_resolved(f"SELECT count(*) FROM resolved r JOIN {table} n ON {same}"),
                {},
            )
            (existing,) = cursor.fetchone()
            cursor.execute(self.with_resolved(insert), params)
            return Counts(self.rows - existing, existing)

    def errors(self, limit: int | None = ERRORS_KEPT) -> tuple[list[RowError], int]:
        """Every rule as one query: the first ``limit`` errors in row order
        (then column order) and how many there are."""
        importer = self.importer
        position = {name: index for index, name in enumerate(importer.column_names)}

        def select(field: str | None, condition: str, message: str) -> str:
            order = position.get(field, -1) if field else -1
            label = sql_text(field) if field else "CAST(NULL AS text)"
            return (
                f"SELECT r.row_no AS row_no, {order} AS ord, {label} AS field, "
                f"{message} AS message FROM resolved r WHERE r.problem IS NULL AND ({condition})"
            )

        parts = [
            "SELECT r.row_no AS row_no, -1 AS ord, r.problem_field AS field, "
            "r.problem AS message FROM resolved r WHERE r.problem IS NOT NULL"
        ]
        for column in importer.columns:
            if column.required:
                parts.append(
                    select(column.name, f"r.{column.raw} = ''", sql_text("A value is required."))
                )
            if column.typed:
                parts.append(
                    select(
                        column.name,
                        f"r.{column.raw} <> '' AND r.{column.value} IS NULL",
                        sql_text(column.message),
                    )
                )
        for group in importer.one_of:
            names = " or ".join(group)
            empty = " AND ".join(f"r.{importer.column(name).raw} = ''" for name in group)
            filled = " + ".join(
                f"CASE WHEN r.{importer.column(name).raw} <> '' THEN 1 ELSE 0 END" for name in group
            )
            parts.append(select(group[0], empty, sql_text(f"Give {names}.")))
            parts.append(select(group[-1], f"{filled} > 1", sql_text(f"Give {names}, not both.")))
        for check in importer.checks():
            parts.append(select(check.field, check.condition, check.message))
        ctes = ""
        if importer.key:
            key = ", ".join(f"r.{name}" for name in importer.key)
            known = " AND ".join(f"r.{name} IS NOT NULL" for name in importer.key)
            ctes = (
                ", keyed AS (SELECT r.row_no, min(r.row_no) OVER (PARTITION BY "
                f"{key}) AS first_row FROM resolved r WHERE r.problem IS NULL AND {known})"
            )
            order = position.get(importer.key_field, -1) if importer.key_field else -1
            label = sql_text(importer.key_field) if importer.key_field else "CAST(NULL AS text)"
            same = sql_text(f"Same {importer.key_label} as row ")
            parts.append(
                f"SELECT k.row_no, {order}, {label}, {same} || k.first_row || '.' "
                "FROM keyed k WHERE k.row_no <> k.first_row"
            )
        union = "\nUNION ALL\n".join(parts)
        sql = self.with_resolved(
            f"{ctes}, found AS ({union}) "
            # A message may quote a cell: keep a huge cell from filling the job.
            f"SELECT row_no, field, substr(message, 1, {MESSAGE_CHARS}), count(*) OVER () "
            "FROM found "
            "ORDER BY row_no, ord, message"
        )
        params = dict(importer.params())
        if limit is not None:
            sql += " LIMIT %(error_limit)s"
            params["error_limit"] = limit
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        total = rows[0][3] if rows else 0
        return [RowError(row, field, message) for row, field, message, _ in rows], total


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(text: str | None) -> str:
    """A value of COPY's text format: NULL as \\N, the rest escaped."""
    return "\\N" if text is None else text.translate(_COPY_ESCAPES)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def chunk_rows() -> int:
    return max(1, int(getattr(settings, "IMPORT_CHUNK_ROWS", 10_000)))


# --- reading a CSV file -------------------------------------------------------------------


class CsvFile:
    """A CSV file's rows for the stage, read as a stream (never a list of the
    whole file): the header first (``header_errors``), then ``rows()`` yields
    stage rows. A file that stops being readable part-way (not UTF-8, a broken
    quote) ends there with an error in ``read_errors``.

    Rows are numbered as a spreadsheet shows them: the header is row 1, so a
    file's first record is row 2. Blank lines are skipped but counted."""

    def __init__(self, content: bytes | memoryview, importer: Importer, stage: Stage) -> None:
        self.importer = importer
        self.stage = stage
        self.header: list[str] = []
        self.header_errors: list[RowError] = []
        self.read_errors: list[RowError] = []
        # The header and the first rows: [{"row": n, "cells": [text, …]}, …].
        self.sample: list[dict[str, Any]] = []
        self._lines = _utf8_lines(content)
        self._row_no = 1
        self._reader: Iterator[list[str]] | None = None
        self._read_header()

    def _read_header(self) -> None:
        try:
            first = next(self._lines, "")
        except UnicodeDecodeError:
            self.header_errors.append(RowError(1, None, NOT_UTF8))
            return
        if not first.strip():
            self.header_errors.append(
                RowError(1, None, "The first line is empty: it must name the columns.")
            )
            return
        delimiter = _delimiter(first)
        self._reader = csv.reader(itertools.chain([first], self._lines), delimiter=delimiter)
        header = self._next()
        if header is None:
            self.header_errors, self.read_errors = self.read_errors, []
            return
        self.header = [cell.strip().lower() for cell in header]
        self.sample.append({"row": 1, "cells": [_clip(cell) for cell in header]})
        self.header_errors = header_errors(self.importer, self.header)

    def _next(self) -> list[str] | None:
        assert self._reader is not None
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            self.read_errors.append(RowError(self._row_no, None, NOT_UTF8))
        except csv.Error as error:
            self.read_errors.append(
                RowError(self._row_no, None, f"This row cannot be read as CSV ({error}).")
            )
        return None

    def rows(self) -> Iterator[tuple]:
        if self.header_errors or self._reader is None:
            return
        width = len(self.header)
        # Where each of the importer's columns is in a row (the header is
        # checked: no unknown or repeated names); -1 when it is not in the file.
        positions = [
            self.header.index(name) if name in self.header else -1
            for name in self.importer.column_names
        ]
        row = self.stage.row
        while True:
            self._row_no += 1
            cells = self._next()
            if cells is None:
                return
            cells = [cell.replace("\x00", "\ufffd").strip() for cell in cells]
            if not any(cells):
                continue
            if len(self.sample) <= SAMPLE_ROWS:
                self.sample.append({"row": self._row_no, "cells": [_clip(cell) for cell in cells]})
            count = len(cells)
            problem = None
            if count != width:
                problem = f"This row has {count} cells; the header has {width}."
            raws = [cells[i] if 0 <= i < count else "" for i in positions]
            yield row(self._row_no, raws, problem)


def _utf8_lines(content: bytes | memoryview) -> Iterator[str]:
    """The file's lines as text, decoded one by one, so that a byte that is
    not UTF-8 is reported at its own row. (A newline byte is never part of a
    multi-byte UTF-8 character, so splitting before decoding is safe.)"""
    for number, line in enumerate(io.BytesIO(content)):
        if number == 0:
            line = line.removeprefix(codecs.BOM_UTF8)
        yield line.decode("utf-8")


NOT_UTF8 = (
    "The file is not UTF-8 text from this row on; save it as “CSV UTF-8” and upload it again."
)


def _delimiter(first_line: str) -> str:
    """Comma, unless the header line is clearly separated by semicolons (a
    spreadsheet's CSV in many European locales) or tabs."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > counts[","] else ","


def _clip(cell: str) -> str:
    cell = cell.replace("\x00", "\ufffd")
    return cell if len(cell) <= SAMPLE_CELL_CHARS else cell[: SAMPLE_CELL_CHARS - 1] + "…"


def header_errors(importer: Importer, header: list[str]) -> list[RowError]:
    """What is wrong with a file's header (row 1): unnamed, repeated, unknown
    and missing columns."""
    errors = []
    known = importer.column_names
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            errors.append(
                RowError(1, None, f"Column {position} has no name; name it or delete it.")
            )
        elif name in seen:
            errors.append(RowError(1, name, f"The column “{name}” appears more than once."))
        elif name not in known:
            errors.append(
                RowError(
                    1,
                    _clip(name),
                    f"Unknown column “{_clip(name)}”. The columns are: {', '.join(known)}.",
                )
            )
        seen.add(name)
    for column in importer.columns:
        if column.required and column.name not in seen:
            errors.append(RowError(1, column.name, f"The column “{column.name}” is missing."))
    for group in importer.one_of:
        if not seen.intersection(group):
            names = " or ".join(f"“{name}”" for name in group)
            errors.append(RowError(1, group[0], f"The file needs a {names} column."))
    return errors


# --- API records ------------------------------------------------------------------------


def _record_rows(importer: Importer, stage: Stage, records: Sequence[Any]) -> Iterator[tuple]:
    """Stage rows from a list of JSON objects; row numbers are 0-based indexes."""
    names = set(importer.column_names)
    expected = ", ".join(importer.column_names)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            yield stage.record(index, {}, f"Each row must be an object with the fields {expected}.")
            continue
        unknown = sorted(str(key) for key in record if key not in names)
        cells = {name: _json_text(record[name]) for name in names if name in record}
        if unknown:
            yield stage.record(
                index, cells, f"Unknown field. The fields are: {expected}.", _clip(unknown[0])
            )
            continue
        yield stage.record(index, cells)


def _json_text(value: Any) -> str:
    """A JSON value as the text of a cell: numbers exactly as written (a float
    through its shortest repr, never an exponent), null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        try:
            return format(Decimal(repr(value)), "f")
        except InvalidOperation:
            return repr(value)
    if isinstance(value, str):
        # JSON may carry a lone UTF-16 surrogate, which is no character at
        # all: it becomes U+FFFD like a NUL, and the row fails its checks.
        text = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return text.replace("\x00", "\ufffd").strip()
    return json.dumps(value)[:SAMPLE_CELL_CHARS]


def _retryable(error: DatabaseError) -> bool:
    """A deadlock or serialization failure: the transaction can simply run again."""
    return getattr(error.__cause__, "sqlstate", None) in ("40P01", "40001")


def import_records(
    kind: str, records: Sequence[Any], *, source: str, max_rows: int | None = None
) -> Counts:
    """Check ``records`` (a list of JSON objects, the importer's columns as
    fields) and merge them: all or nothing, in one transaction. Raises
    RowErrors (rows numbered by their 0-based index in the list) with every
    error when any row is bad, or one error when there are more than
    ``max_rows``."""
    importer = get_importer(kind)
    if not isinstance(records, list | tuple):
        raise RowErrors([RowError(None, None, "Send a JSON list of rows.").as_dict()])
    if max_rows is not None and len(records) > max_rows:
        message = (
            f"Send at most {max_rows:,} rows in one request; this one has {len(records):,}. "
            "Split it, or upload a CSV file."
        )
        raise RowErrors([RowError(None, None, message).as_dict()])
    if not records:
        return Counts(0, 0)
    attempts = 1 if connection.in_atomic_block else MERGE_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                stage = Stage(importer)
                stage.create()
                for chunk in _chunks(_record_rows(importer, stage, records), chunk_rows()):
                    stage.load(chunk)
                stage.analyze()
                importer.lock(stage)
                errors, total = stage.errors(limit=None)
                if total:
                    raise RowErrors([error.as_dict() for error in errors], total)
                counts = importer.merge(stage, source=source)
                importer.after_merge(stage)
                stage.drop()
                return counts
        except OperationalError as error:
            if attempt == attempts or not _retryable(error):
                raise
            logger.info("Import of %s records: retrying after %s", kind, error)
    raise AssertionError("unreachable")  # pragma: no cover


# --- jobs: upload, check, start, run ------------------------------------------------------


def _now() -> datetime:
    return timezone.now()


def _progress(job_id: int, processed: int) -> None:
    # Outside a transaction (in a worker) each update commits at once, so the
    # page sees it while the rest of the file is still being read.
    ImportJob.objects.filter(pk=job_id).update(processed_rows=processed, updated_at=_now())


def _stage_file(job: ImportJob, importer: Importer, stage: Stage) -> tuple[CsvFile, int]:
    """Read the job's file into the stage in chunks, reporting progress."""
    csv_file = CsvFile(job.content, importer, stage)
    done = 0
    for chunk in _chunks(csv_file.rows(), chunk_rows()):
        stage.load(chunk)
        done += len(chunk)
        _progress(job.pk, done)
    stage.analyze()
    return csv_file, done


def _file_errors(csv_file: CsvFile, rows: int, stage: Stage) -> tuple[list[RowError], int]:
    """Every error of a staged file: its header, its reading, then the rules."""
    if csv_file.header_errors:
        return csv_file.header_errors, len(csv_file.header_errors)
    errors, total = stage.errors()
    if csv_file.read_errors:
        errors = sorted(errors + csv_file.read_errors, key=lambda e: e.row or 0)[:ERRORS_KEPT]
        total += len(csv_file.read_errors)
    elif rows == 0:
        errors, total = [RowError(2, None, "The file has no rows under its header.")], 1
    return errors, total


def import_job_validate(job_id: int) -> None:
    """The check (the task behind the preview): stage the file, run every rule,
    record the errors. Writes nothing but the job. Idempotent: a job checked
    already is left alone; one whose check was cut off is checked again."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.UPLOADED, ImportStatus.VALIDATING]
    ).update(status=ImportStatus.VALIDATING, processed_rows=0, updated_at=_now())
    if not claimed:
        return
    job = ImportJob.objects.get(pk=job_id)
    importer = get_importer(job.kind)
    stage = Stage(importer)
    stage.create()
    try:
        csv_file, rows = _stage_file(job, importer, stage)
        errors, total = _file_errors(csv_file, rows, stage)
    finally:
        stage.drop()
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.VALIDATING).update(
        status=ImportStatus.INVALID if total else ImportStatus.READY,
        total_rows=rows,
        processed_rows=rows,
        sample=csv_file.sample,
        errors=[error.as_dict() for error in errors],
        error_count=total,
        validated_at=_now(),
        updated_at=_now(),
    )


def import_job_run(job_id: int) -> None:
    """The import (the task behind "Import N rows"): stage the file again (the
    stage lives on one connection, and the check may have run on another
    machine), re-run every rule, then merge in one transaction that also marks
    the job done. Idempotent: a job no longer importing is left alone, and the
    job's row is locked during the merge, so a second run waits and stops."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportStatus.IMPORTING).first()
    if job is None:
        return
    importer = get_importer(job.kind)
    _progress(job_id, 0)
    stage = Stage(importer)
    stage.create()
    try:
        csv_file, rows = _stage_file(job, importer, stage)
        with transaction.atomic():
            locked = (
                ImportJob.objects.select_for_update()
                .filter(pk=job_id, status=ImportStatus.IMPORTING)
                .exists()
            )
            if not locked:
                return
            # The accounts or measures named may have changed since the check:
            # lock them, then check again.
            importer.lock(stage)
            errors, total = _file_errors(csv_file, rows, stage)
            if total:
                ImportJob.objects.filter(pk=job_id).update(
                    status=ImportStatus.INVALID,
                    total_rows=rows,
                    errors=[error.as_dict() for error in errors],
                    error_count=total,
                    validated_at=_now(),
                    updated_at=_now(),
                )
                return
            counts = importer.merge(stage, source=importer.file_source)
            importer.after_merge(stage)
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportStatus.DONE,
                total_rows=rows,
                processed_rows=rows,
                created_count=counts.created,
                updated_count=counts.updated,
                # The rows are in their tables now; the copy is not needed.
                content=b"",
                finished_at=_now(),
                updated_at=_now(),
            )
    finally:
        stage.drop()


def import_job_fail(job_id: int, message: str) -> None:
    """Record that a check or an import stopped (nothing was merged: the merge
    is one transaction)."""
    ImportJob.objects.filter(
        pk=job_id,
        status__in=[ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.IMPORTING],
    ).update(status=ImportStatus.FAILED, failure=message, finished_at=_now(), updated_at=_now())


def check_upload(first_bytes: bytes) -> str | None:
    """Why the start of an uploaded file cannot be a CSV file, or None. The
    rest of the file is checked row by row by the preview."""
    if first_bytes.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "This is a spreadsheet, not a CSV file: save it as “CSV UTF-8” and upload that."
    if b"\x00" in first_bytes:
        return "This is not a text file. Upload a CSV file saved as UTF-8."
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(first_bytes, final=False)
    except UnicodeDecodeError:
        return "The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again."
    return None
