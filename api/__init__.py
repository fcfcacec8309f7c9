"""The HTTP face of lookalike: the search API a shop calls, its pages and widget, and the admin views.

:func:`api.app.create_app` builds the Flask application; :func:`api.server.serve` runs it.
"""
