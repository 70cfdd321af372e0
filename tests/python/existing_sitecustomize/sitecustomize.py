"""Stands for a sitecustomize that existed before snapbus (Debian's, the user's, a layer's).
Zero-code mode must still run it, once: it adds a line with its pid to a marker file where the test asks."""
import os

_marker = os.environ.get("TEST_EXISTING_SITECUSTOMIZE_MARKER")
if _marker:
    with open(_marker, "a") as marker:
        marker.write(f"{os.getpid()}\n")
