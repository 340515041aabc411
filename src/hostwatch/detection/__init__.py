"""Sigma detection: rules loaded with pySigma, compiled into in-process matchers, indexed."""
