"""What the window shows, as plain Python: the open model_dir and what is known of it; Qt views observe it.

As napari's ``ViewerModel`` is to its ``QtViewer``: the state lives here, with
events the views subscribe to, so it is tested without a ``QApplication``.
Imports only formats, storage and modeldir; never TensorFlow, never Qt.
"""
