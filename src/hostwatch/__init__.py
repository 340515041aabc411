"""Hostwatch: a self-hosted endpoint security portal centred on the machine profile."""

__version__ = "0.1.0"
