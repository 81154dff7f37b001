"""Other servers' protocols spoken by Fovea: the KServe V2 / Open Inference Protocol (Triton's)."""
