"""The Qt layer: views that observe the workspace; they reach TensorFlow only through engine.py."""
