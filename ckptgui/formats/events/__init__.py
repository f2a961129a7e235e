"""Fast, incremental reader of TensorFlow event files (``events.out.tfevents.*``), without TensorFlow.

The plots must show what is on disk, whoever wrote it (our trainer, Estimator, Keras' TensorBoard callback,
a user's script, another process right now), the moment the window opens and while a run is still writing.
So this package reads the files itself, with numpy, and never imports TensorFlow. Its layers follow
TensorBoard's event_processing, one job per module:

* :mod:`.framing`: TFRecord framing of a chunk, length CRCs checked in bulk, resync after damage;
* :mod:`.decode`: one ``Event`` decoded by hand;
* :mod:`.templates`: a chunk of records decoded into points, look-alike records in bulk;
* :mod:`.series`: points merged into one series per tag, rewinds and restarts applied;
* :mod:`.reader`: one file read incrementally from its last offset;
* :mod:`.runs`: runs found under a path and kept up to date (:class:`ScalarReader`);
* :mod:`.export`: series written as CSV.
"""

from ckptgui.formats.events.export import export_csv
from ckptgui.formats.events.runs import ScalarReader, is_event_file, read_scalars
from ckptgui.formats.events.series import ScalarSeries

__all__ = ["ScalarReader", "ScalarSeries", "export_csv", "is_event_file", "read_scalars"]
