"""Running models: ONNX Runtime sessions, dynamic batching, priority limits, malloc tuning."""
