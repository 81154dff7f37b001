"""`fovea bench`: load a server at several concurrencies and compare with the in-process ceiling."""
