"""VSE Track Anything engine: video I/O, segmentation, tracking and inpainting behind one process."""

__version__ = "0.1.0"
# Bumped whenever the HTTP protocol changes incompatibly; the add-on refuses to talk to another number.
PROTOCOL = 1
