"""The only package that imports TensorFlow: the model, training, restoring, inference and tensor reads.

Its modules import TensorFlow inside functions or are themselves imported lazily by their callers, so that
``ckptgui --help`` and the window's first paint never wait for ``import tensorflow`` (2-3 s).
"""

from ckptgui.engine.bucket import bound_gcs_retries

# TensorFlow reads its GCS client's retry variables when it loads, so they are set here, before any engine module
# imports it.
bound_gcs_retries()
