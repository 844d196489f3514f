"""Tests of hitlab.collect against stand-in servers (a package so its conftest has its own name)."""
