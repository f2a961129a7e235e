"""Bytes <-> records for the files TensorFlow writes (bundle index, state file, event files); no TensorFlow, no Qt."""
