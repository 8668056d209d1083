"""Learned backends (SAM, SAM 2, SAM-guided flow, LaMa): weights fetched on the user's machine and
verified by sha256; torch is imported only when one of them is created."""
