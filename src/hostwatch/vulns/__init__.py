"""Vulnerability knowledge base (OSV, NVD, KEV, Debian feeds) and inventory matching."""
