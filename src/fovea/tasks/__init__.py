"""Model outputs -> results. Each decoder is a pure function of numpy arrays for one image."""
