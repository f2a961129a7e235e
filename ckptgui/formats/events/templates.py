"""Decoding a chunk of records into points: templates for look-alike records, by hand for the rest.

Per-record Python work is what makes TensorBoard slow. Here records of the same length are matched against
*templates*: a template is one record decoded by hand, with the bytes that vary between records of its kind
marked (wall time, the low bits of the step varint, the scalar values). Every other record that equals the
template outside those bytes is decoded by slicing columns out of a 2-D byte array, and its CRC is the
template's CRC updated for the bytes that differ (CRC is linear), so a steady stream of scalars costs a few
numpy operations per thousand records. Records that fit no template are decoded one by one (and checked with
google-crc32c). A record whose payload CRC does not match, or whose payload is not a valid Event, is skipped
and counted.

Templates are shared between runs (:class:`_Shared`): the runs of a folder write the same kinds of records, and a
run adopts another's template only where it classifies the template's tags the same way.

As in TensorBoard, the first metadata seen for a tag classifies that tag's later values that carry none.
Other summary kinds (histograms, images, audio, text, other plugins' tensors) are counted and skipped.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import google_crc32c
import numpy as np

from ckptgui.formats.events.decode import FMT_SIZE, GARBLED, Event, Value, parse_event
from ckptgui.formats.events.framing import CRC_SPAN, HEADER, byte_windows, crc_tables
from ckptgui.formats.events.series import ORDER_SHIFT, Points
from ckptgui.formats.wire import mask, masked_crc32c

TEMPLATE_MAX = CRC_SPAN  # payloads longer than this are decoded one by one
_MAX_MISSES = 8  # templates that match nothing else before a length group is decoded one by one
_MAX_TEMPLATES = 4096  # per run; beyond it new kinds of records are decoded one by one
_MAX_SHARED = 256  # templates offered to every run's decoder (see _Shared); the store starts afresh when full
_MULT = np.random.default_rng(20240611).integers(0, 2**64 - 1, size=TEMPLATE_MAX // 8 + 1, dtype=np.uint64) | np.uint64(
    1
)


@dataclass
class Tally:
    """What a reader passed over, across its runs (plain counters: readable from any thread)."""

    skipped: int = 0  # damaged records: CRC mismatch, garbled Event, damaged header
    other: int = 0  # summary values that are not scalars
    file_versions: dict[str, str] = field(default_factory=dict)  # event file -> its file_version


@dataclass(eq=False)
class _Template:
    words: np.ndarray  # the payload as uint64 words, varying bits zeroed
    hash: np.uint64
    crc: int  # CRC32C of the payload it was made from
    var_pos: np.ndarray  # offsets of the bytes that may vary
    crc_tables: np.ndarray  # per such byte: CRC change for each value it may take, from the template's value
    wall_off: int
    step_off: int
    step_len: int
    points: list[tuple[str, int, str, int]]  # tag, value offset, value format, position of the value in the record
    n_other: int  # non-scalar values in the record
    layout_key: bytes  # the bits that are fixed, as the key of its layout
    plugins: tuple[tuple[str, str | None], ...]  # each tensor value's tag -> its plugin, as this template reads it
    carried: tuple[tuple[str, str], ...]  # each tensor value's tag -> the plugin its metadata in the record names


class _Layout:
    """Templates of one payload length sharing which bits may vary; found by a hash of the fixed bits."""

    def __init__(self, bits: np.ndarray) -> None:
        self.mask = bits.view("<u8").copy()
        self.columns = np.flatnonzero(self.mask).tolist()  # words holding fixed bits
        self.templates: list[_Template] = []

    def hash(self, words: np.ndarray) -> np.ndarray:
        h = np.zeros(len(words), dtype=np.uint64)
        for j in self.columns:
            h += (words[:, j] & self.mask[j]) * _MULT[j]
        return h

    def equal(self, words: np.ndarray, tpl: _Template) -> np.ndarray:
        """Which rows equal the template in every fixed bit."""
        diff = np.zeros(len(words), dtype=np.uint64)
        for j in self.columns:
            diff |= (words[:, j] & self.mask[j]) ^ tpl.words[j]
        return diff == 0


class _Shared:
    """Templates learned by any run's decoder, offered to the others (thread-safe, bounded).

    The runs of a folder write the same kinds of records; each decoder learning them anew was a third of the time
    to read the two ends of a small event file. A template is adopted only by a decoder that classifies each of
    its tensor values' tags as the learning decoder did (TensorBoard's rule: a tag's first metadata in its run).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._templates: dict[int, list[_Template]] = {}  # payload length -> templates
        self._count = 0

    def offer(self, n: int, tpl: _Template) -> None:
        with self._lock:
            if self._count >= _MAX_SHARED:
                self._templates.clear()
                self._count = 0
            self._templates.setdefault(n, []).append(tpl)
            self._count += 1

    def of_length(self, n: int) -> list[_Template]:
        with self._lock:
            return list(self._templates.get(n, ()))


_SHARED = _Shared()


def _next_true(flags: np.ndarray, start: int) -> int:
    step = 256
    while start < len(flags):
        hit = np.flatnonzero(flags[start : start + step])
        if len(hit):
            return start + int(hit[0])
        start += step
        step = min(step * 4, 1 << 16)
    return -1


class RunDecoder:
    """Decodes the records of one run's files; keeps the run's templates and the plugin of each tag."""

    def __init__(self, tally: Tally) -> None:
        self._tally = tally
        self._plugins: dict[str, str] = {}  # tag -> plugin of the first metadata seen
        self._layouts: dict[int, dict[bytes, _Layout]] = {}  # payload length -> mask -> layout
        self._n_templates = 0
        self._adopted: set[_Template] = set()  # shared templates this decoder holds (its own and adopted ones)
        self.learned = 0  # templates this decoder made itself

    def decode(self, path: str, buf: bytearray, offs: np.ndarray, lens: np.ndarray) -> Points:
        """The points of the framed records at ``offs`` (payload lengths ``lens``) of ``buf``, read from ``path``."""
        points = Points()
        dn = np.frombuffer(buf, dtype=np.uint8)
        pays = offs + HEADER
        stored = byte_windows(dn, 4)[pays + lens].view("<u4").ravel()
        order = np.argsort(lens.astype(np.uint16) if lens.max() < 1 << 16 else lens, kind="stable")
        sorted_lens = lens[order]
        bounds = [0, *(np.flatnonzero(np.diff(sorted_lens)) + 1).tolist(), len(order)]
        for lo, hi in itertools.pairwise(bounds):
            recs = order[lo:hi]
            n = int(sorted_lens[lo])
            if 0 < n <= TEMPLATE_MAX:
                self._match_group(path, dn, buf, n, recs, pays[recs], stored[recs], points)
            else:
                for i in recs.tolist():
                    self._decode_one(path, buf, int(pays[i]), n, int(stored[i]), i, points, learn=False)
        return points

    def _match_group(
        self,
        path: str,
        dn: np.ndarray,
        buf: bytearray,
        n: int,
        recs: np.ndarray,
        pays: np.ndarray,
        stored: np.ndarray,
        points: Points,
    ) -> None:
        """Decode records of payload length ``n``: known templates first, then learn templates from the rest."""
        rows = byte_windows(dn, (n + 7) // 8 * 8)[pays]
        words = rows.view("<u8")
        free = np.ones(len(recs), dtype=bool)
        layouts = self._layouts.setdefault(n, {})
        hashed: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def match(layout: _Layout, templates: list[_Template]) -> int:
            matched = 0
            for tpl in templates:
                if len(layout.templates) == 1:  # one kind of record: compare every free row with it
                    cand = np.flatnonzero(free)
                else:  # many: only rows with the same hash of their fixed bits
                    if id(layout) not in hashed:
                        h = layout.hash(words)
                        by_hash = np.argsort(h, kind="stable")
                        hashed[id(layout)] = (by_hash, h[by_hash])
                    by_hash, sorted_h = hashed[id(layout)]
                    lo = int(np.searchsorted(sorted_h, tpl.hash, side="left"))
                    hi = int(np.searchsorted(sorted_h, tpl.hash, side="right"))
                    cand = by_hash[lo:hi]
                    cand = cand[free[cand]]
                if not len(cand):
                    continue
                good = cand[layout.equal(words if len(cand) == len(free) else words[cand], tpl)]
                if len(good):
                    free[good] = False
                    matched += len(good)
                    self._emit(tpl, rows if len(good) == len(free) else rows[good], recs[good], stored[good], points)
            return matched

        for layout in list(layouts.values()):
            match(layout, layout.templates)
        if free.any():
            for layout, adopted in self._adopt(n):
                match(layout, adopted)
        misses = cursor = 0
        while (i := _next_true(free, cursor)) >= 0:
            cursor = i + 1
            free[i] = False
            learn = misses < _MAX_MISSES and self._n_templates < _MAX_TEMPLATES
            made = self._decode_one(path, buf, int(pays[i]), n, int(stored[i]), int(recs[i]), points, learn)
            if made is not None:
                tpl, layout = made
                if match(layout, [tpl]) == 0:
                    misses += 1

    def _adopt(self, n: int) -> list[tuple[_Layout, list[_Template]]]:
        """Shared templates of payload length ``n``, not adopted yet, that read records as this run does: each of
        their tensor values' tags is of the same plugin here, or of none yet and the record's own metadata names
        that plugin (decoding the record by hand would then make it the tag's plugin here: it is made so)."""
        layouts = self._layouts.setdefault(n, {})
        out: dict[bytes, list[_Template]] = {}
        for tpl in _SHARED.of_length(n):
            if tpl in self._adopted or self._n_templates >= _MAX_TEMPLATES:
                continue
            carried = dict(tpl.carried)
            if all(self._plugins.get(tag, carried.get(tag)) == plugin for tag, plugin in tpl.plugins):
                for tag, plugin in tpl.plugins:
                    if plugin is not None:
                        self._plugins.setdefault(tag, plugin)
                self._adopted.add(tpl)
                out.setdefault(tpl.layout_key, []).append(tpl)
                self._n_templates += 1
        adopted = []
        for key, templates in out.items():
            layout = layouts.get(key)
            if layout is None:
                layout = layouts[key] = _Layout(np.frombuffer(key, dtype=np.uint8))
            layout.templates.extend(templates)
            adopted.append((layout, templates))
        return adopted

    def _emit(self, tpl: _Template, rows: np.ndarray, recs: np.ndarray, stored: np.ndarray, points: Points) -> None:
        """Decode ``rows`` (records ``recs``) that match ``tpl``: check their CRC, then slice out the numbers."""
        crc = np.full(len(rows), tpl.crc, dtype=np.uint32)
        for table, pos in zip(tpl.crc_tables, tpl.var_pos.tolist(), strict=True):
            crc ^= np.take(table, rows[:, pos])
        ok = mask(crc) == stored
        if not ok.all():
            self._tally.skipped += int(len(ok) - ok.sum())
            rows, recs = rows[ok], recs[ok]
        m = len(rows)
        if not m:
            return
        if tpl.wall_off >= 0:
            walls = rows[:, tpl.wall_off : tpl.wall_off + 8].view("<f8").ravel()
        else:
            walls = np.zeros(m)
        steps = np.zeros(m, dtype=np.uint64)
        for j in range(tpl.step_len):
            steps |= (rows[:, tpl.step_off + j] & np.uint8(0x7F)).astype(np.uint64) << np.uint64(7 * j)
        steps = steps.view(np.int64)
        keys = recs.astype(np.int64) << ORDER_SHIFT
        for tag, off, fmt, position in tpl.points:
            values = rows[:, off : off + FMT_SIZE[fmt]].view(fmt).ravel().astype(np.float64)
            points.add_block(tag, keys | position, steps, walls, values)
        self._tally.other += tpl.n_other * m

    def _decode_one(
        self, path: str, buf: bytearray, p: int, n: int, stored: int, rec: int, points: Points, learn: bool
    ) -> tuple[_Template, _Layout] | None:
        """Decode one record by hand; with ``learn``, make it a template when its kind can be one."""
        payload = bytes(buf[p : p + n])
        if masked_crc32c(payload) != stored:
            self._tally.skipped += 1
            return None
        try:
            ev = parse_event(payload)
        except GARBLED:
            self._tally.skipped += 1
            return None
        key = rec << ORDER_SHIFT
        if ev.file_version is not None:
            self._tally.file_versions[path] = ev.file_version
        if ev.session_start:
            points.markers.append((key, ev.step))
        can_template = learn and not ev.repeated and ev.file_version is None and not ev.session_start
        template_points = []
        plugins = []
        carried = []
        n_other = 0
        for position, value in enumerate(ev.values):
            position = min(position, (1 << ORDER_SHIFT) - 1)
            scalar = self._is_scalar(value)
            if value.tensor:
                plugins.append((value.tag, self._plugins.get(value.tag)))
                if value.plugin is not None:
                    carried.append((value.tag, value.plugin))
            if scalar:
                assert value.scalar is not None and value.scalar.value is not None
                points.add_one(value.tag, key | position, ev.step, ev.wall_time, value.scalar.value)
                if value.scalar.offset < 0:
                    can_template = False
                template_points.append((value.tag, value.scalar.offset, value.scalar.fmt, position))
            else:
                self._tally.other += 1
                n_other += 1
                if value.tensor and value.plugin is None and value.tag not in self._plugins:
                    can_template = False  # its kind is decided by metadata that may come later
        if not can_template or not template_points:
            return None
        return self._make_template(payload, ev, template_points, n_other, tuple(plugins), tuple(carried))

    def _is_scalar(self, value: Value) -> bool:
        if value.simple:
            return True
        if not value.tensor:
            return False
        plugin = self._plugins.get(value.tag)
        if plugin is None and value.plugin is not None:
            plugin = self._plugins[value.tag] = value.plugin
        return plugin == "scalars" and value.scalar is not None and value.scalar.value is not None

    def _make_template(
        self,
        payload: bytes,
        ev: Event,
        template_points: list[tuple[str, int, str, int]],
        n_other: int,
        plugins: tuple[tuple[str, str | None], ...],
        carried: tuple[tuple[str, str], ...],
    ) -> tuple[_Template, _Layout]:
        n = len(payload)
        width = (n + 7) // 8 * 8
        bits = np.zeros(width, dtype=np.uint8)
        bits[:n] = 0xFF
        if ev.wall_off >= 0:
            bits[ev.wall_off : ev.wall_off + 8] = 0
        if ev.step_len:
            bits[ev.step_off : ev.step_off + ev.step_len] = 0x80  # the continuation bits fix the varint's length
        for _tag, off, fmt, _position in template_points:
            bits[off : off + FMT_SIZE[fmt]] = 0
        layouts = self._layouts.setdefault(n, {})
        layout = layouts.get(bits.tobytes())
        if layout is None:
            layout = layouts[bits.tobytes()] = _Layout(bits)
        padded = np.zeros(width, dtype=np.uint8)
        padded[:n] = np.frombuffer(payload, dtype=np.uint8)
        words = padded.view("<u8") & layout.mask
        var_pos = np.flatnonzero(bits[:n] != 0xFF)
        tpl = _Template(
            words=words,
            hash=layout.hash(words[None, :])[0],
            crc=google_crc32c.value(payload),
            var_pos=var_pos,
            crc_tables=crc_tables()[(n - 1 - var_pos)[:, None], np.arange(256)[None, :] ^ padded[var_pos][:, None]],
            wall_off=ev.wall_off,
            step_off=ev.step_off,
            step_len=ev.step_len,
            points=template_points,
            n_other=n_other,
            layout_key=bits.tobytes(),
            plugins=plugins,
            carried=carried,
        )
        layout.templates.append(tpl)
        self._n_templates += 1
        self.learned += 1
        self._adopted.add(tpl)
        _SHARED.offer(n, tpl)
        return tpl, layout
