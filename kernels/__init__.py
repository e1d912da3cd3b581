"""Jupyter and IPython: the ``%sessions`` magics, automatic snapshots, and saving from and
restoring into running kernels from outside (through jupyter_client)."""
