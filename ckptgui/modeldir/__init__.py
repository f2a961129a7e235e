"""What a model_dir is and holds: file names, one scan, variables, ckptgui's records, retention, compatibility; no TF, no Qt."""
