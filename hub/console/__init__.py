"""The operations console (/console): server-side pages for operators, in Vietnamese and English.

:func:`hub.console.app.mount_console` serves it from the hub's app; :mod:`hub.operators`
holds the operators who log in to it.
"""
