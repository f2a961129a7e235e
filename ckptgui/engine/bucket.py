"""Where a run into a bucket writes: straight into ``gs://`` through TensorFlow, or a staging folder mirrored.

TensorFlow 2.21 has its own ``gs://`` file system (in ``tf.io.gfile``): checkpoints, summaries and the graph
are written to the bucket directly, and ckptgui's own files (state file, run log, ledger, pins) and retention's
deletes go through the storage seam to the same bucket, so a reader sees the run as it goes, as on a local disk.
It has no ``s3://`` (or any other) file system: such a run trains into a local staging folder that
:class:`ckptgui.modeldir.mirror.Mirror` fills from the bucket first and uploads after each checkpoint.

TensorFlow's GCS client retries a failed request 10 times with delays growing to 32 s (measured: a summary
flush after the connection was lost was still retrying after 3 minutes), so :func:`bound_gcs_retries` sets
tighter defaults through its variables; a user's own settings of the same variables win. TensorFlow reads them
when it is imported (set later, they were measured to have no effect), so ``ckptgui.engine`` sets them on import.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from tempfile import mkdtemp

from ckptgui.modeldir.mirror import Mirror
from ckptgui.storage import expand_path, scheme_of

# The schemes TensorFlow's file systems write; any other bucket goes through a staging folder.
WRITTEN_BY_TENSORFLOW = frozenset({"gs"})

# The op a TensorFlow error names first ("{{function_node __wrapped__FlushSummaryWriter_device_...}}"): not the reason.
_OP_NAME = re.compile(r"\{\{function_node [^}]*\}\}\s*")

# TensorFlow's GCS client variables, and the bounds a run uses unless the user set them: 3 retries 1, 2, 4 s
# apart, 10 s to connect, 30 s without progress.
GCS_BOUNDS = {
    "GCS_RETRY_CONFIG_MAX_RETRIES": "3",
    "GCS_RETRY_CONFIG_INIT_DELAY_TIME_US": "1000000",
    "GCS_RETRY_CONFIG_MAX_DELAY_TIME_US": "4000000",
    "GCS_REQUEST_CONNECTION_TIMEOUT_SECS": "10",
    "GCS_REQUEST_IDLE_TIMEOUT_SECS": "30",
}


def bound_gcs_retries() -> None:
    """Tighter retry and timeout defaults for TensorFlow's GCS client (before TensorFlow is imported)."""
    for name, value in GCS_BOUNDS.items():
        os.environ.setdefault(name, value)


def training_dir(url: str) -> tuple[str | Path, Mirror | None]:
    """Where a run into the bucket ``url`` writes, and the mirror that uploads it (None: TensorFlow writes it)."""
    url = expand_path(url)
    if scheme_of(url) in WRITTEN_BY_TENSORFLOW:
        return url, None
    mirror = Mirror(mkdtemp(prefix="ckptgui-staging-"), url)
    mirror.pull()
    return Path(mirror.staging), mirror


def lost_connection(detail: str) -> str:
    """The message of a run that cannot reach its bucket any more; what it wrote there stays consistent."""
    reason = " ".join(_OP_NAME.sub("", detail).split())[:400] or "no answer"
    return (
        f"lost the connection to the bucket: {reason}; the checkpoints there stay consistent (the state file "
        "names a checkpoint only once all its files are written)"
    )
