"""The web console under ``/ui/``: server-rendered pages for responders and service owners (docs/console.md).

Pages call the router's own query and action functions in-process (the ones the ``/v1`` routes use), and every
console route enforces the permission rule of the API route it stands for (``api/permissions.py``, ``CONSOLE``).
"""
