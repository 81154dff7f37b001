"""Batch jobs: sources (folders, lists, URLs), engines that run them (local `Service`, a remote
server), the SQLite store of server jobs, the CLI runner with checkpoints, and what ecologists do
next: sort images into folders by category, find repeated detections."""
