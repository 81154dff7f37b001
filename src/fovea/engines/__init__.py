"""Distributed engines Fovea runs on (Ray Serve for the API, Ray Data for batch jobs). Nothing
here is imported unless an engine is asked for, so the base install never needs one."""
