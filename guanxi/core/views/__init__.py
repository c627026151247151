"""The server-rendered UI: generic list / detail / edit / delete / bulk views configured by the registry.

Every resource registered with ``ui=True`` gets its pages from the classes in this package; a module
that needs a different page for one action subclasses the generic view and registers it with
``register_view(path, action)`` in its ``views.py`` (see ``guanxi/identity/views.py``).
"""
