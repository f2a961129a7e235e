"""The live model_dir: checkpoints grouped by step above, every file below, both updated as files come and go.

It shows the workspace's model_dir and snapshot. Looks at the directory
(``Workspace.look``) run off the GUI thread, one at a time, bursts coalesced;
their results go into the workspace on the GUI thread, and the rows follow:
updated in place so the selection survives, new rows highlighted for a moment,
removed ones gone. It only reads: an external process's model_dir shows
exactly like our own.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QMenu,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui.icons import icon
from ckptgui.gui.watcher import DEBOUNCE_MS, DirectoryWatcher
from ckptgui.gui.widgets.live import LiveLabel
from ckptgui.gui.workers import Task
from ckptgui.modeldir.scan import CheckpointInfo
from ckptgui.modeldir.snapshot import FileEntry, Snapshot, kept_text
from ckptgui.units import human_size
from ckptgui.workspace.model import Workspace

HIGHLIGHT_MS = 1500
TRAINING_DEBOUNCE_MS = 200
NEW_ROW_COLOR = QColor(255, 236, 150)
PROBLEM_COLOR = QColor(179, 38, 30)
BEST_COLOR = QColor(200, 230, 201)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PREFIX_ROLE = Qt.ItemDataRole.UserRole + 2


def _step_key(step: int | None) -> int:
    return -1 if step is None else step


def format_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp)
    today = datetime.now().date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M:%S")


class _Item(QTreeWidgetItem):
    """Sorts by the value stored under SORT_ROLE (numbers sort as numbers).

    ``shown`` remembers what the row was last filled from: most rows are the
    same at every look, and refilling them costs GUI-thread time (GIL held)
    that a trainer in this process waits for.
    """

    shown: object = None

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        mine, theirs = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if mine is None or theirs is None or type(mine) is not type(theirs):
            return self.text(column) < other.text(column)
        return mine < theirs

    def set(self, column: int, text: str, sort: object = None) -> None:
        if self.text(column) != text:
            self.setText(column, text)
        self.setData(column, SORT_ROLE, text if sort is None else sort)


class DirectoryView(QWidget):
    """Watches the workspace's model_dir and keeps the workspace's snapshot current; shows it as two trees."""

    restoreRequested = Signal(str)
    compareRequested = Signal(str)
    pinToggled = Signal(int, bool)
    failed = Signal(str, str)

    CKPT_COLUMNS = ("Step", "Time", "Size", "Status", "Kept because", "Accuracy", "Loss")
    METRIC_COLUMNS = (("accuracy", 5), ("loss", 6))
    FILE_COLUMNS = ("Name", "Size", "Modified")

    def __init__(self, pool: QThreadPool, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._had_checkpoint_rows = False  # once true, new checkpoint rows of this model_dir are highlighted
        self._ckpt_items: dict[str, _Item] = {}  # by prefix: a Keras .weights.h5 may have no step
        self._file_items: dict[str, _Item] = {}
        self._highlighted: dict[int, tuple[_Item, float]] = {}

        self._task = Task(pool, self, self._looked, self.failed)
        self.watcher = DirectoryWatcher(self)
        self.watcher.changed.connect(self.refresh)
        self._fade = QTimer(self, interval=250)
        self._fade.timeout.connect(self._fade_highlights)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.header = LiveLabel("No model_dir open")
        layout.addWidget(self.header)
        self.problems = QLabel()
        self.problems.setStyleSheet("color: #b3261e;")
        self.problems.setWordWrap(True)
        self.problems.hide()
        layout.addWidget(self.problems)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.checkpoints = self._tree(self.CKPT_COLUMNS)
        self.checkpoints.setObjectName("checkpointTree")
        self.checkpoints.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.checkpoints.customContextMenuRequested.connect(self._context_menu)
        self.checkpoints.itemSelectionChanged.connect(self._selection_changed)
        self.checkpoints.itemActivated.connect(self._activated)
        self.checkpoints.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.files = self._tree(self.FILE_COLUMNS)
        self.files.setObjectName("fileTree")
        self.files.setRootIsDecorated(False)
        self.files.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        for tree, widths in ((self.checkpoints, (110, 140, 80, 90)), (self.files, (380, 80))):
            for column, width in enumerate(widths):
                tree.setColumnWidth(column, width)
        self.splitter.addWidget(self.checkpoints)
        self.splitter.addWidget(self.files)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        workspace.model_dir_changed.connect(self._show_model_dir)
        workspace.snapshot_changed.connect(self._apply)
        workspace.training_changed.connect(self._training_changed)

    def _tree(self, columns: tuple[str, ...]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setColumnCount(len(columns))
        tree.setHeaderLabels(list(columns))
        tree.setSortingEnabled(True)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        tree.header().setStretchLastSection(True)
        return tree

    # Following the workspace --------------------------------------------------------------------
    def _show_model_dir(self, path: str | None) -> None:
        """Rows of the previous directory go at once; the watcher follows the new one."""
        self._task.cancel()
        self._had_checkpoint_rows = False
        self._highlighted.clear()
        self.checkpoints.clear()
        self.files.clear()
        self._ckpt_items.clear()
        self._file_items.clear()
        self.problems.hide()
        self.header.setText(path or "No model_dir open")
        self.watcher.set_path(path)

    def _looked(self, snapshot: Snapshot | None) -> None:
        """A look's result: into the workspace; whether it found anything sets how soon a bucket is looked at."""
        self.watcher.looked(snapshot is not None and snapshot.exists)
        self.workspace.apply_snapshot(snapshot)

    @Slot()
    def refresh(self) -> None:
        """Look at the model_dir again, off the GUI thread; the result goes into the workspace."""
        if self.workspace.model_dir is not None:
            self._task.coalesce(self.workspace.look)

    def _training_changed(self, training: bool) -> None:
        """While our own run saves up to hundreds of checkpoints a second, look a little less often.

        Every look updates rows and repaints the trees on the GUI thread, and the
        trainer waits for that thread's hold on the GIL; 5 looks a second still
        show a new checkpoint well within 300 ms.
        """
        self.watcher.set_debounce(TRAINING_DEBOUNCE_MS if training else DEBOUNCE_MS)

    @Slot()
    def poke(self) -> None:
        """Look again soon (debounced with the watcher's own signals)."""
        self.watcher.poke()

    def selected_prefix(self) -> str | None:
        items = self.checkpoints.selectedItems()
        if not items:
            return None
        item = items[0] if items[0].parent() is None else items[0].parent()
        return item.data(0, PREFIX_ROLE)

    def select_prefix(self, prefix: str) -> None:
        item = self._ckpt_items.get(prefix)
        if item is not None:
            self.checkpoints.setCurrentItem(item)

    def item_for_step(self, step: int) -> QTreeWidgetItem | None:
        return next((i for i in self._ckpt_items.values() if i.data(0, SORT_ROLE) == step), None)

    # Applying a snapshot -------------------------------------------------------------------------
    def _apply(self, snapshot: Snapshot) -> None:
        now = time.time()
        self._update_header(snapshot)
        self._update_checkpoints(snapshot, now)
        self._update_files(snapshot, now)
        if self._highlighted and not self._fade.isActive():
            self._fade.start()

    def _update_header(self, snapshot: Snapshot) -> None:
        info = snapshot.info
        if not snapshot.exists:
            self.header.setText(f"{snapshot.path} — does not exist yet")
        elif info is not None:
            fmt = info.format or "unknown format"
            latest = info.latest_step
            count = len(info.checkpoints)
            latest_text = f", latest step {latest:,}" if latest is not None else ""
            self.header.setText(f"{snapshot.path} — {fmt}, {count} checkpoint{'s' * (count != 1)}{latest_text}")
        else:
            self.header.setText(snapshot.path)
        problems = list(info.problems) if info is not None else []
        if snapshot.error:
            problems.insert(0, snapshot.error)
        self.problems.setText("\n".join(str(p) for p in problems[:5]))
        self.problems.setVisible(bool(problems))

    def _update_checkpoints(self, snapshot: Snapshot, now: float) -> None:
        """Rows follow the scan; nothing is "new" on the first look at a directory (everything would be)."""
        if snapshot.info is None:
            return
        current = {ckpt.prefix: ckpt for ckpt in snapshot.info.checkpoints}
        self._sync_rows(self.checkpoints, self._ckpt_items, current, self._had_checkpoint_rows, now)
        self._had_checkpoint_rows = self._had_checkpoint_rows or bool(current)
        self.checkpoints.setSortingEnabled(False)
        best = self.best_step(snapshot)
        for prefix, ckpt in current.items():
            item = self._ckpt_items[prefix]
            shown = (ckpt, kept_text(snapshot, ckpt.step, bool(ckpt.listed)), ckpt.step in snapshot.pins)
            if item.shown != shown:
                self._fill_checkpoint(item, *shown, snapshot.files)
                item.shown = shown
            self._fill_metrics(item, snapshot.metrics.get(ckpt.step, {}), ckpt.step is not None and ckpt.step == best)
        self.checkpoints.setSortingEnabled(True)

    def best_step(self, snapshot: Snapshot) -> int | None:
        """The best checkpoint on disk by the run's best_metric (accuracy: highest; loss: lowest; a tie: the later)."""
        spec = self.workspace.run_spec
        metric = spec.schedule.best_metric if spec is not None else "accuracy"
        on_disk = {c.step for c in snapshot.info.checkpoints if c.usable} if snapshot.info is not None else set()
        sign = 1 if metric == "accuracy" else -1
        scored = [(sign * m[metric], step) for step, m in snapshot.metrics.items() if step in on_disk and metric in m]
        return max(scored)[1] if scored else None

    def _fill_metrics(self, item: _Item, metrics: dict[str, float], best: bool) -> None:
        """The evaluation at the checkpoint's save (ckptgui's ledger); the best checkpoint's row bold and starred."""
        for name, column in self.METRIC_COLUMNS:
            value = metrics.get(name)
            item.set(column, "" if value is None else f"{value:.4f}", -1.0 if value is None else value)
            font = item.font(column)
            if font.bold() != best:
                font.setBold(best)
                item.setFont(column, font)
            item.setBackground(column, QBrush(BEST_COLOR) if best else QBrush())
            item.setToolTip(column, "the best checkpoint by evaluation" if best else "")

    def _sync_rows(
        self, tree: QTreeWidget, items: dict[str, _Item], current: dict[str, object], highlight: bool, now: float
    ) -> None:
        """Drop the rows whose key is gone and add empty rows for new keys (highlighted if asked)."""
        tree.setSortingEnabled(False)
        removed = [items.pop(key) for key in [k for k in items if k not in current]]
        for item in removed:
            self._highlighted.pop(id(item), None)
            tree.takeTopLevelItem(tree.indexOfTopLevelItem(item))
        added = [key for key in current if key not in items]
        for key in added:
            item = items[key] = _Item()
            tree.addTopLevelItem(item)
            if highlight:
                self._highlight(item, now)
        tree.setSortingEnabled(True)

    def _fill_checkpoint(
        self, item: _Item, ckpt: CheckpointInfo, kept: str, pinned: bool, files_now: tuple[FileEntry, ...]
    ) -> None:
        item.set(0, f"{ckpt.step:,}" if ckpt.step is not None else Path(ckpt.prefix).name, _step_key(ckpt.step))
        item.setData(0, PREFIX_ROLE, ckpt.prefix)
        item.set(1, format_time(ckpt.mtime), ckpt.mtime)
        item.set(2, human_size(ckpt.total_bytes), ckpt.total_bytes)
        status = str(ckpt.status)
        item.set(3, status)
        item.set(4, kept)
        item.setForeground(3, QBrush() if ckpt.usable else QBrush(PROBLEM_COLOR))
        item.setToolTip(3, ckpt.reason or status)
        item.setToolTip(0, ckpt.prefix)
        item.setIcon(0, icon("pin") if pinned else QIcon())
        files = [str(f) for f in ckpt.files]  # relative to the model_dir, as the file list names them
        if [item.child(i).text(0) for i in range(item.childCount())] != files:
            item.takeChildren()
            sizes = {entry.name: entry for entry in files_now}
            for name in files:
                child = _Item(item)
                entry = sizes.get(name)
                child.set(0, name)
                if entry is not None:
                    child.set(1, format_time(entry.mtime), entry.mtime)
                    child.set(2, human_size(entry.size), entry.size)

    def _update_files(self, snapshot: Snapshot, now: float) -> None:
        current = {entry.name: entry for entry in snapshot.files}
        self._sync_rows(self.files, self._file_items, current, bool(self._file_items), now)
        self.files.setSortingEnabled(False)
        for name, entry in current.items():
            item = self._file_items[name]
            if item.shown != entry:
                item.set(0, name)
                item.set(1, "" if entry.is_dir else human_size(entry.size), entry.size)
                item.set(2, format_time(entry.mtime), entry.mtime)
                item.shown = entry
        self.files.setSortingEnabled(True)

    # Highlights ----------------------------------------------------------------------------------
    def _highlight(self, item: _Item, now: float) -> None:
        for column in range(item.columnCount()):
            item.setBackground(column, QBrush(NEW_ROW_COLOR))
        self._highlighted[id(item)] = (item, now)

    def highlighted_count(self) -> int:
        return len(self._highlighted)

    @Slot()
    def _fade_highlights(self) -> None:
        cutoff = time.time() - HIGHLIGHT_MS / 1000
        for key, (item, since) in list(self._highlighted.items()):
            if since <= cutoff:
                for column in range(item.columnCount()):
                    item.setBackground(column, QBrush())
                del self._highlighted[key]
        if not self._highlighted:
            self._fade.stop()

    # Interaction ---------------------------------------------------------------------------------
    @Slot()
    def _selection_changed(self) -> None:
        self.workspace.select(self.selected_prefix())

    @Slot(QTreeWidgetItem, int)
    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        top = item if item.parent() is None else item.parent()
        self.restoreRequested.emit(top.data(0, PREFIX_ROLE))

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        item = self.checkpoints.itemAt(pos)
        if item is None:
            return
        top = item if item.parent() is None else item.parent()
        prefix = top.data(0, PREFIX_ROLE)
        step = top.data(0, SORT_ROLE)
        menu = QMenu(self)
        menu.addAction(icon("restore"), f"Restore {top.text(0)}…", lambda: self.restoreRequested.emit(prefix))
        menu.addAction(icon("compare"), "Compare with…", lambda: self.compareRequested.emit(prefix))
        if step is not None and step >= 0:
            snapshot = self.workspace.snapshot
            pinned = snapshot is not None and step in snapshot.pins
            text = "Unpin" if pinned else "Pin (never swept)"
            menu.addAction(icon("pin"), text, lambda: self.pinToggled.emit(step, not pinned))
        menu.addSeparator()
        menu.addAction("Copy checkpoint prefix", lambda: QGuiApplication.clipboard().setText(prefix))
        menu.popup(self.checkpoints.viewport().mapToGlobal(pos))
