"""Streamlit web UI. It talks to the API over HTTP through `fovea.client` only, so it works
against a local or a remote server; importing this package does not import Streamlit.
"""
