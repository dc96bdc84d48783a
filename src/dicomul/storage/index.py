"""The archive index: every instance a storage SCP holds, by Patient, Study, Series and
Image, in SQLite (``index.sqlite`` in the storage directory, made on first use), for
C-FIND, C-GET and C-MOVE (PS3.4 C.6 keys) and Storage Commitment.

    index = ArchiveIndex("/srv/archive")
    index.add(path)                                  # after a C-STORE (or `dicomul index`)
    for match in index.find(identifier): ...         # C-FIND, PS3.4 C.2.2.2 matching
    for ref in index.instances(identifier): ...      # C-GET / C-MOVE: what to send

One denormalised row per instance (the attributes of its patient, study and series with
it); a query at a level groups the rows by that level's unique key, so the counts
(Number of Study Related Instances, ...) and Modalities in Study come from the same
rows. Matching is translated to SQL with the rules of :mod:`dicomul.storage.matching`
(tested against it). Keys the index does not hold (any other attribute, sequence keys
with their items) are matched and answered from the files: one header read per
candidate (per result row of a level), only for queries that have such keys.
Thread-safe: one connection behind a lock, WAL journal (and, for :meth:`add_now` on an
event loop, a second connection that never waits).

``ArchiveIndex(directory, database="postgresql://...")`` keeps the index in PostgreSQL
instead, so that several archive processes (behind a load balancer, over one shared
storage directory) share it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dicomul._record import record
from dicomul.storage._dataset_head import element_text, element_values
from dicomul.storage._sql import Database, GroupWriter, open_database
from dicomul.storage.matching import (
    as_text,
    is_key,
    key_kind,
    matches,
    normal_time,
    response_for,
    selects,
)
from dicomul.storage.part10 import Part10File, StorageError, read_part10
from dicomul.storage.writer import recent_files

__all__ = ["ArchiveIndex", "Field", "FIELDS", "LEVELS", "Indexed", "INDEX_NAME"]

log = logging.getLogger("dicomul")

INDEX_NAME = "index.sqlite"
#: The layout of the index file (PRAGMA user_version): another one is refused.
SCHEMA_VERSION = 1
#: How many just-written files the index may describe from memory (writer.recent_files).
RECENT_FILES = 64
LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")


@record
class Field:
    """One indexed attribute: its keyword (the column), tag, VR and level."""

    keyword: str
    tag: int
    vr: str
    level: str


FIELDS: dict[str, Field] = {
    f.keyword: f
    for f in (
        Field("PatientID", 0x00100020, "LO", "PATIENT"),
        Field("PatientName", 0x00100010, "PN", "PATIENT"),
        Field("PatientBirthDate", 0x00100030, "DA", "PATIENT"),
        Field("PatientSex", 0x00100040, "CS", "PATIENT"),
        Field("StudyInstanceUID", 0x0020000D, "UI", "STUDY"),
        Field("StudyDate", 0x00080020, "DA", "STUDY"),
        Field("StudyTime", 0x00080030, "TM", "STUDY"),
        Field("AccessionNumber", 0x00080050, "SH", "STUDY"),
        Field("StudyID", 0x00200010, "SH", "STUDY"),
        Field("StudyDescription", 0x00081030, "LO", "STUDY"),
        Field("ReferringPhysicianName", 0x00080090, "PN", "STUDY"),
        Field("SeriesInstanceUID", 0x0020000E, "UI", "SERIES"),
        Field("Modality", 0x00080060, "CS", "SERIES"),
        Field("SeriesNumber", 0x00200011, "IS", "SERIES"),
        Field("SeriesDescription", 0x0008103E, "LO", "SERIES"),
        Field("BodyPartExamined", 0x00180015, "CS", "SERIES"),
        Field("SOPInstanceUID", 0x00080018, "UI", "IMAGE"),
        Field("SOPClassUID", 0x00080016, "UI", "IMAGE"),
        Field("InstanceNumber", 0x00200013, "IS", "IMAGE"),
    )
}
_UNIQUE = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
#: Keys computed from the rows of a level: keyword -> (VR, SQL aggregate, lowest level).
_COMPUTED = {
    "NumberOfPatientRelatedStudies": ("IS", "COUNT(DISTINCT StudyInstanceUID)", "PATIENT"),
    "NumberOfPatientRelatedSeries": ("IS", "COUNT(DISTINCT SeriesInstanceUID)", "PATIENT"),
    "NumberOfPatientRelatedInstances": ("IS", "COUNT(*)", "PATIENT"),
    "NumberOfStudyRelatedSeries": ("IS", "COUNT(DISTINCT SeriesInstanceUID)", "STUDY"),
    "NumberOfStudyRelatedInstances": ("IS", "COUNT(*)", "STUDY"),
    "ModalitiesInStudy": ("CS", "", "STUDY"),  # (the database's aggregate)
    "NumberOfSeriesRelatedInstances": ("IS", "COUNT(*)", "SERIES"),
}
_TAGS = [f.tag for f in FIELDS.values()]
#: PN columns also kept case-folded (Unicode), matched there: "müller" finds "MÜLLER".
_FOLDED = [kw for kw, f in FIELDS.items() if f.vr == "PN"]
_COLUMNS = [*FIELDS, *(f"{kw}_fold" for kw in _FOLDED), "path", "transfer_syntax", "size"]


@record
class Indexed:
    """An instance the index knows: its file, SOP class and instance."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str


def condition(field: Field, value: Any, db: Database) -> tuple[str, list[Any]] | None:
    """The SQL condition (and its parameters) of one C-FIND key on an indexed column,
    or None for universal matching (PS3.4 C.2.2.2)."""
    col, vr = field.keyword, field.vr
    kind = key_kind(vr, value)
    text = as_text(value)
    if kind == "universal":
        return None
    if kind == "list":
        uids = [u for u in text.split("\\") if u]
        return f"{col} IN ({','.join('?' * len(uids))})", uids
    if kind == "range":
        low, _, high = text.partition("-")
        if vr != "DA":
            low, high = normal_time(low), normal_time(high)
        parts, params = [f"{col} != ''"], []
        if low:
            parts.append(f"{col} >= ?")
            params.append(low)
        if high:  # a coarser upper bound includes all of it ("1200" holds "120059"):
            # values are digits, "." and ":", all below "~", so this is value[:n] <= high
            # and still a range the column's index can scan
            parts.append(f"{col} <= ?")
            params.append(high + "~")
        return " AND ".join(parts), params
    if kind == "wildcard":
        folded = vr == "PN"  # on the folded column, whatever the case (Unicode too)
        sql, pattern = db.wildcard(f"{col}_fold" if folded else col,
                                   text.casefold() if folded else text)  # fmt: skip
        return sql, [pattern]
    if vr == "PN":
        return f"{col}_fold = ?", [text.casefold()]
    if vr == "TM":
        return f"{col} = ?", [normal_time(text)]
    return f"{col} = ?", [text.rstrip(" ")]


_TAG_SET = frozenset(_TAGS)


def _beyond(identifier: Any) -> Any:
    """The identifier's keys the index does not hold (not a column, not computed, not
    a control, not private, not a group length) as a Dataset, or None when it has none."""
    from pydicom.dataset import Dataset

    keys = [
        e for e in identifier
        if is_key(e.tag) and e.keyword not in FIELDS and e.keyword not in _COMPUTED
    ]  # fmt: skip
    if not keys:
        return None
    out = Dataset()
    for e in keys:
        out.add(e)
    return out


def _header(path: str, tags: list[int]) -> Any:
    """Those elements of a file (and its Specific Character Set), or None (logged)
    when it cannot be read."""
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[*tags, 0x00080005])
    except Exception as exc:  # noqa: BLE001 - gone or unreadable: not served
        log.warning("%s cannot be read to match a query: %s", path, exc)
        return None


def _answer(beyond: Any, paths: Iterable[str], filtering: bool) -> Any:
    """The keys beyond the index answered from the first of ``paths`` (the files of one
    result row) that can be read and matches them; None when none matches (and
    ``filtering``). With only return keys and no readable file, they come back empty."""
    from pydicom.dataset import Dataset

    tags = [int(e.tag) for e in beyond]
    for path in paths:
        header = _header(path, tags)
        if header is not None and (not filtering or matches(beyond, header)):
            return response_for(beyond, header)
    return None if filtering else Dataset()


def _fast_values(path: str | os.PathLike[str]) -> dict[int, Any] | None:
    """The indexed elements' texts of a Part 10 file (its transfer syntax under key 0,
    its size under key 1), walked from the first bytes of its data set
    (:meth:`Part10File.dataset_head`); None when pydicom must read it (see row_of). A
    file this process has just stored is described from the bytes it wrote (not read
    back: writer.recent_files)."""
    p10 = recent_files.take(path)
    if p10 is None:
        try:
            p10 = read_part10(path)
        except StorageError:
            return None
    return _values_of(p10)


def _values_of(p10: Part10File) -> dict[int, Any] | None:
    """_fast_values of a Part10File at hand (nothing read)."""
    head, complete = p10.dataset_head()
    raw = element_values(head, *p10.encoding, _TAG_SET, complete)
    if raw is None or 0x00080018 not in raw or not all(v.isascii() for v in raw.values()):
        return None  # (no SOP Instance UID: a file pydicom may read another way)
    texts: dict[int, Any] = {tag: element_text(v) for tag, v in raw.items()}
    texts[0] = p10.meta.transfer_syntax
    texts[1] = p10.dataset_offset + p10.dataset_length
    return texts


class ArchiveIndex:
    """The index of a storage directory (see the module docstring). ``path``: the
    directory (the index file is made in it) or the SQLite file itself."""

    def __init__(self, path: str | os.PathLike[str], database: str | None = None) -> None:
        p = Path(path)
        self.directory = p if p.suffix != ".sqlite" else p.parent
        self.file = p / INDEX_NAME if p.suffix != ".sqlite" else p
        if database is None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_database(database or str(self.file))
        try:
            with self._db.exclusive():
                self._make_schema()
        except BaseException:
            self._db.close()
            raise
        # Files the receiver has just written are indexed from the bytes it had.
        recent_files.keep(RECENT_FILES)
        #: add()'s group commit: concurrent adds share a transaction.
        self._upsert = self._db.upsert("instances", _COLUMNS, "SOPInstanceUID")
        self._writer = GroupWriter(self._db, self._upsert)

    def _make_schema(self) -> None:
        """Check the layout of an existing index; make the tables of a new one."""
        version = self._db.schema_version()
        if version is not None and version != SCHEMA_VERSION:
            raise ValueError(f"{self._db.where} is an index of another layout (version "
                             f"{version}): remove it and run `dicomul index`")  # fmt: skip
        cols = ", ".join(f"{c} {self._db.text} NOT NULL DEFAULT ''"
                         for c in _COLUMNS[:-3] if c != "SOPInstanceUID")  # fmt: skip
        self._db.query(
            f"CREATE TABLE IF NOT EXISTS instances (SOPInstanceUID {self._db.text} PRIMARY KEY,"
            f" {cols}, path TEXT NOT NULL, transfer_syntax TEXT NOT NULL DEFAULT '', size BIGINT)"
        )
        for col in ("PatientID", "PatientName_fold", "StudyInstanceUID", "StudyDate",
                    "AccessionNumber", "SeriesInstanceUID"):  # fmt: skip
            self._db.query(f"CREATE INDEX IF NOT EXISTS i_{col} ON instances ({col})")
        if version is None:
            self._db.set_schema_version(SCHEMA_VERSION)

    @property
    def where(self) -> str:
        """The database: the SQLite file's path or the PostgreSQL connection string."""
        return self._db.where

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM instances")[0][0])

    # ---- ingest -------------------------------------------------------------------------

    def row_of(self, path: str | os.PathLike[str], ds: Any = None) -> list[Any]:
        """The row of a Part 10 file (its header read unless ``ds`` is given): the first
        64 KiB walked for the indexed elements when they are plain ASCII before any
        element of undefined length, else pydicom reads it."""
        texts = _fast_values(path) if ds is None else None
        if texts is None:
            if ds is None:
                import pydicom

                ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
            texts = {}
            for field in FIELDS.values():
                elem = ds.get(field.tag)
                texts[field.tag] = as_text(elem.value if elem is not None else None).strip()
            meta = getattr(ds, "file_meta", None)
            texts[0] = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta else ""
            texts[1] = os.path.getsize(path)
        return self._row(path, texts)

    @staticmethod
    def _row(path: str | os.PathLike[str], texts: dict[int, Any]) -> list[Any]:
        """The row of ``path`` from its elements' texts (see _fast_values)."""
        values: list[Any] = []
        for field in FIELDS.values():
            text = texts.get(field.tag, "")
            values.append(normal_time(text) if field.vr == "TM" else text)
        if not values[_COLUMNS.index("SOPInstanceUID")]:
            raise ValueError(f"{path}: no SOP Instance UID")
        values += [values[_COLUMNS.index(kw)].casefold() for kw in _FOLDED]
        # (abspath, not resolve(): no system calls; the receiver's names are real paths)
        values += [os.path.abspath(path), texts[0], texts[1]]
        return values

    def add(self, path: str | os.PathLike[str], ds: Any = None) -> str:
        """Index one file (replacing what the index had for its instance); its SOP
        Instance UID. Raises ValueError / pydicom errors for a file that is not DICOM."""
        row = self.row_of(path, ds)
        self._writer.write(row)
        return str(row[_COLUMNS.index("SOPInstanceUID")])

    def add_now(self, path: str | os.PathLike[str]) -> bool:
        """Index a file this process has just stored if that needs neither a read of the
        file nor a wait for another writer: the row made from the bytes written
        (storage.writer.recent_files), SQLite's write lock free (PostgreSQL: never). For
        an event loop. True when indexed; False when nothing was done (and what the
        file's bytes were is kept for :meth:`add`, which may block, to do it)."""
        if not self._db.writes_now:
            return False
        p10 = recent_files.peek(path)
        texts = _values_of(p10) if p10 is not None else None
        if texts is None or not self._db.write_now(self._upsert, [self._row(path, texts)]):
            return False
        recent_files.take(path)  # (done with it)
        return True

    def add_rows(self, rows: list[list[Any]]) -> list[str]:
        """Index rows made by :meth:`row_of`, in one transaction."""
        if rows:
            self._db.write(self._upsert, rows)
        uid = _COLUMNS.index("SOPInstanceUID")
        return [r[uid] for r in rows]

    def add_tree(self, directory: str | os.PathLike[str], batch: int = 500) -> tuple[int, int]:
        """Index every DICOM file under ``directory``: ``(indexed, skipped)``."""
        done = skipped = 0
        rows: list[list[Any]] = []
        for root, _dirs, files in os.walk(directory):
            for name in sorted(files):
                if name.startswith(INDEX_NAME) or name.startswith("."):
                    continue
                try:
                    rows.append(self.row_of(os.path.join(root, name)))
                except Exception:  # noqa: BLE001 - not DICOM, unreadable: skipped
                    skipped += 1
                if len(rows) >= batch:
                    done += len(self.add_rows(rows))
                    rows = []
        if rows:
            done += len(self.add_rows(rows))
        return done, skipped

    def remove(self, sop_instance_uids: Iterable[str]) -> None:
        """Forget instances."""
        uids = [(u,) for u in sop_instance_uids]
        if uids:
            self._db.write("DELETE FROM instances WHERE SOPInstanceUID = ?", uids)

    def prune(self) -> int:
        """Forget instances whose files have gone; how many."""
        rows = self._db.query("SELECT SOPInstanceUID, path FROM instances")
        gone = [uid for uid, path in rows if not os.path.isfile(path)]
        self.remove(gone)
        return len(gone)

    # ---- queries ------------------------------------------------------------------------

    def _where(self, identifier: Any) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for elem in identifier:
            if elem.keyword == "ModalitiesInStudy" and elem.value:  # studies with any of them
                wanted = [m for m in as_text(elem.value).split("\\") if m]
                parts.append(
                    "StudyInstanceUID IN (SELECT StudyInstanceUID FROM instances"
                    f" WHERE Modality IN ({','.join('?' * len(wanted))}))"
                )
                params += wanted
                continue
            field = FIELDS.get(elem.keyword)
            if field is None:
                continue  # not indexed (or computed): universal, returned empty
            cond = condition(field, elem.value, self._db)
            if cond is not None:
                parts.append(cond[0])
                params += cond[1]
        return (" WHERE " + " AND ".join(parts)) if parts else "", params

    def find(self, identifier: Any, limit: int | None = None) -> Iterator[Any]:
        """The matches of a C-FIND identifier (its Query/Retrieve Level decides the
        level), each a Dataset with the identifier's keys filled in and the level."""
        from pydicom.dataset import Dataset

        level = str(identifier.get("QueryRetrieveLevel", "STUDY") or "STUDY").upper()
        if level not in _UNIQUE:
            raise ValueError(f"not a Query/Retrieve Level: {level!r}")
        rank = LEVELS.index(level)
        out: list[tuple[str, str, str]] = []  # (keyword, VR, SQL)
        for elem in identifier:
            kw = elem.keyword
            field = FIELDS.get(kw)
            if field is not None and LEVELS.index(field.level) <= rank:
                out.append((kw, field.vr, f"MIN({kw})" if level != "IMAGE" else kw))
            elif kw in _COMPUTED and LEVELS.index(_COMPUTED[kw][2]) >= rank and level != "IMAGE":
                out.append((kw, _COMPUTED[kw][0], _COMPUTED[kw][1] or self._db.modalities))
        beyond = _beyond(identifier)  # matched and answered from the rows' files
        filtering = beyond is not None and selects(beyond)
        where, params = self._where(identifier)
        group = f" GROUP BY {_UNIQUE[level]}" if level != "IMAGE" else ""
        # (each row also gives its unique key, last: what its files are found by)
        select = ", ".join([*(sql for _k, _v, sql in out), _UNIQUE[level]])
        sql = f"SELECT {select} FROM instances{where}{group} ORDER BY {_UNIQUE[level]}"
        if limit is not None and not filtering:
            sql += f" LIMIT {int(limit)}"
        rows = self._db.query(sql, params)
        files: dict[str, list[str]] = {}
        if beyond is not None:  # (a row matches when any of its instances' files does)
            for key, path in self._db.query(
                f"SELECT {_UNIQUE[level]}, path FROM instances{where} ORDER BY path", params
            ):
                files.setdefault(key, []).append(path)
        charset = identifier.get("SpecificCharacterSet")
        given = 0
        for row in rows:
            if limit is not None and given >= limit:
                return
            *row, key = row  # type: ignore[assignment]
            answer = None
            if beyond is not None:
                answer = _answer(beyond, files.get(key, ()), filtering)
                if answer is None:
                    continue
            ds = Dataset()
            if charset is not None:
                ds.SpecificCharacterSet = charset.value
            for (kw, vr, _sql), value in zip(out, row, strict=True):
                text = "" if value is None else str(value)
                ds.add_new(
                    FIELDS[kw].tag if kw in FIELDS else kw,
                    vr,
                    text.replace(",", "\\") if kw == "ModalitiesInStudy" else text,
                )
            for elem in identifier:  # keys the index does not hold: from the file, or empty
                if elem.tag in ds or elem.tag.group == 0x0002:
                    continue
                if answer is not None and elem.tag in answer:
                    ds.add(answer[elem.tag])
                else:
                    ds.add_new(elem.tag, elem.VR, None)
            ds.QueryRetrieveLevel = level
            given += 1
            yield ds

    def instances(self, identifier: Any) -> list[Indexed]:
        """The instances a C-GET / C-MOVE identifier names (every key as a filter)."""
        where, params = self._where(identifier)
        sql = f"SELECT path, SOPClassUID, SOPInstanceUID FROM instances{where} ORDER BY path"
        rows = self._db.query(sql, params)
        beyond = _beyond(identifier)
        if beyond is not None and selects(beyond):
            rows = [r for r in rows if _answer(beyond, [r[0]], True) is not None]
        return [Indexed(*row) for row in rows]

    def locate(self, sop_instance_uid: str) -> Path | None:
        """The file of an instance, or None (Storage Commitment's look-up)."""
        rows = self._db.query("SELECT path FROM instances WHERE SOPInstanceUID = ?",
                              (sop_instance_uid,))  # fmt: skip
        return Path(rows[0][0]) if rows else None
