"""Stands for a sitecustomize that existed before snapbus (Debian's, the user's, a layer's).
Zero-code mode must still run it: it leaves a marker file where the test asks."""
import os

_marker = os.environ.get("TEST_EXISTING_SITECUSTOMIZE_MARKER")
if _marker:
    with open(_marker, "w") as marker:
        marker.write(str(os.getpid()))
