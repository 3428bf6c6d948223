"""Sub-commands of the ``esrgan-lesson`` CLI (one module each)."""
