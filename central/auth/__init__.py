"""Who may do what: officers' accounts, sessions, roles and their scope in the tree.

* :mod:`central.auth.permissions`: the roles and the permission matrix, as data;
* :mod:`central.auth.principal`: :class:`Principal`, the acting user with their scope.
"""
