"""Placeholder until its part is built."""


def install(app):
    del app
