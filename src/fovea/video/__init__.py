"""Video: files decoded to frames (PyAV), frames through the models in order, ByteTrack ids across
frames, annotated H.264 MP4 out, and live WebSocket sessions. Modules that need the `video` extra
(PyAV, `trackers`) import it themselves and raise VideoUnavailable without it, so importing this
package is always safe.
"""
