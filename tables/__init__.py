"""Faust table definitions and the pure functions that update them.

The modules every event goes through may run compiled (tables.compiled): their build
folder comes first on this package's path while it matches the sources.
"""

from tables.compiled import usable_build

_compiled = usable_build()
if _compiled is not None:
    __path__.insert(0, str(_compiled))
