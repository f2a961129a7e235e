"""What a model_dir is and holds: file names, one scan, variables, records, retention, compatibility; no TF/Qt."""
