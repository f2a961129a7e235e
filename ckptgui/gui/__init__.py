"""The Qt layer: widgets that receive core objects and subscribe to them."""
