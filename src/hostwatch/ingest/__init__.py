"""Importers that turn log files from outside sources into devices and normalized events."""
